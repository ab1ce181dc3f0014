import { describe, expect, it } from 'vitest';
import { heapPop, heapPush } from '../src/heap.js';

const less = (a: number, b: number): boolean => a < b;

/** A small deterministic generator, so a failure can be replayed. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('heapPush / heapPop', () => {
  it('pops in order whatever the order of the pushes, interleaved with pops', () => {
    const rnd = lcg(7);
    const h: number[] = [];
    const model: number[] = [];
    for (let i = 0; i < 5_000; i++) {
      if (rnd() < 0.6 || model.length === 0) {
        const x = Math.floor(rnd() * 1000);
        heapPush(h, x, less);
        model.push(x);
      } else {
        model.sort((a, b) => a - b);
        expect(heapPop(h, less)).toBe(model.shift());
      }
    }
    model.sort((a, b) => a - b);
    const rest: number[] = [];
    while (h.length > 0) rest.push(heapPop(h, less)!);
    expect(rest).toEqual(model);
  });

  it('returns undefined from an empty heap and leaves it empty', () => {
    const h: number[] = [];
    expect(heapPop(h, less)).toBeUndefined();
    expect(h).toEqual([]);
  });

  it('keeps equal keys first in, first out when `less` breaks ties by insertion order', () => {
    type Due = { at: number; seq: number };
    const first = (a: Due, b: Due): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);
    const h: Due[] = [];
    [5, 1, 5, 1, 5, 3].forEach((at, seq) => heapPush(h, { at, seq }, first));
    const out: number[] = [];
    while (h.length > 0) out.push(heapPop(h, first)!.seq);
    expect(out).toEqual([1, 3, 5, 0, 2, 4]);
  });

  it('is plain data: a heap copied through JSON pops the same', () => {
    const h: number[] = [];
    for (const x of [9, 4, 7, 1, 8, 2]) heapPush(h, x, less);
    const copy = JSON.parse(JSON.stringify(h)) as number[];
    const a: number[] = [];
    const b: number[] = [];
    while (h.length > 0) a.push(heapPop(h, less)!);
    while (copy.length > 0) b.push(heapPop(copy, less)!);
    expect(b).toEqual(a);
  });
});
