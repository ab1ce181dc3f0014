import { describe, expect, it } from 'vitest';
import { chunkBySize, messageBytes } from '../src/dlq.js';

describe('chunkBySize', () => {
  it('keeps every item in order, each run within the byte and count limits', () => {
    const items = Array.from({ length: 2500 }, (_, i) => ({ i, size: 100 + (i % 7) * 300 }));
    const chunks = chunkBySize(items, (x) => x.size, 10_000, 40);
    expect(chunks.flat().map((x) => x.i)).toEqual(items.map((x) => x.i));
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(40);
      expect(c.reduce((a, x) => a + x.size, 0)).toBeLessThanOrEqual(10_000);
    }
  });

  it('sends an item bigger than the limit alone rather than dropping it', () => {
    const chunks = chunkBySize([5, 50_000, 5], (x) => x, 1000);
    expect(chunks).toEqual([[5], [50_000], [5]]);
  });

  it('counts headers in a message size', () => {
    const bare = messageBytes({ key: 'k', value: Buffer.alloc(100) });
    const withHeaders = messageBytes({
      key: 'k',
      value: Buffer.alloc(100),
      headers: { 'ami.reason': 'late', h: ['a', 'bb'] },
    });
    expect(withHeaders - bare).toBe(8 + 10 + 4 + 8 + 1 + 3);
  });
});
