import { describe, expect, it } from 'vitest';
import { DistinctReads } from '../src/distinct.js';

describe('DistinctReads', () => {
  it('counts distinct (meter, read_at) with checksums, duplicates once', () => {
    const start = Date.UTC(2026, 10, 18);
    const d = new DistinctReads(10, start, start + 3_600_000, 900_000);
    d.add('M00000001', start + 900_000, 'INTERVAL', 5);
    d.add('M00000001', start + 900_000, 'INTERVAL', 5);
    d.add('M00000001', start + 1_800_000 + 42_000, 'INTERVAL', 7); // clock skew stays in its bucket
    d.add('X-other', start, 'INTERVAL', 9);
    d.add('M00000002', start + 900_000, 'ON_DEMAND', 3);
    expect(d.total).toBe(5);
    expect(d.distinct).toBe(4);
    expect(d.sumEnergy).toBe(5 + 7 + 9 + 3);
  });
});
