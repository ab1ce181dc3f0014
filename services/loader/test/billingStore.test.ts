import { describe, expect, it } from 'vitest';
import { meterRanges } from '../src/billingStore.js';
import type { MeterRange } from '../src/billingSql.js';

/** As ClickHouse compares strings: by their bytes. */
const inRange = (id: string, r: MeterRange): boolean =>
  (r.from === undefined || Buffer.compare(Buffer.from(id), Buffer.from(r.from)) >= 0) &&
  (r.to === undefined || Buffer.compare(Buffer.from(id), Buffer.from(r.to)) < 0);

describe('meterRanges (concurrent scans of a fleet refresh)', () => {
  // Ids whose UTF-16 order differs from their byte order, in a shuffled (Map insertion) order.
  const ids = Array.from({ length: 60_000 }, (_, i) => {
    const n = (i * 7919) % 60_000;
    return n % 3 === 0 ? `MTR${n}` : n % 3 === 1 ? `\u00e9${n}` : `\uff21${n}`;
  });

  it('puts every id in exactly one range, in about even parts', () => {
    for (const parts of [2, 3]) {
      const ranges = meterRanges(ids, parts);
      expect(ranges).toHaveLength(parts);
      const counts = ranges.map(() => 0);
      let notInOne = 0;
      for (const id of ids) {
        const hits = ranges.flatMap((r, k) => (inRange(id, r) ? [k] : []));
        if (hits.length === 1) counts[hits[0]!]!++;
        else notInOne++;
      }
      expect(notInOne).toBe(0);
      for (const c of counts) expect(Math.abs(c / ids.length - 1 / parts)).toBeLessThan(0.05);
    }
  });

  it('is one unbounded range for a small fleet', () => {
    expect(meterRanges(ids.slice(0, 1500), 2)).toEqual([{}]);
  });
});
