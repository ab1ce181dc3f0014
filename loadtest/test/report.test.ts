import { describe, expect, it } from 'vitest';
import { barChart, lineChart } from '@ami/lib';
import { percentiles } from '../src/report.js';

describe('report helpers', () => {
  it('percentiles and charts', () => {
    expect(percentiles([5, 1, 3, 2, 4])).toEqual({ count: 5, p50: 3, p90: 5, p95: 5, p99: 5, max: 5 });
    expect(percentiles([])).toBeUndefined();
    const svg = lineChart({
      title: 'T <x>',
      xLabel: 's',
      yLabel: 'r',
      series: [
        {
          name: 'a',
          points: [
            [0, 1],
            [1, 3],
          ],
        },
      ],
    });
    expect(svg).toContain('<polyline');
    expect(svg).toContain('T &lt;x&gt;');
    expect(
      barChart({ title: 'b', yLabel: 's', groups: [{ name: 'g', bars: [{ label: 'p50', value: 2 }] }] }),
    ).toContain('<rect');
  });
});
