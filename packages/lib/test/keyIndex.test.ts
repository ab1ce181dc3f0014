import { describe, expect, it } from 'vitest';
import { KeyIndex } from '../src/keyIndex.js';

/** A small deterministic generator (the test must not depend on Math.random's luck). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const KEYS = [
  ...Array.from({ length: 3000 }, (_, i) => `5100${String(i).padStart(8, '0')}`),
  'gardu-ü-1',
  'méter-é',
  '電表-1',
  '',
  'emoji-🙂',
];

describe('KeyIndex: string keys to dense slots', () => {
  it('agrees with a Map under random adds and deletes, reusing freed slots', () => {
    const next = rng(7);
    const index = new KeyIndex(4); // tiny: the table, the key columns and the arena all grow
    const model = new Map<string, number>();
    const liveSlots = new Set<number>();
    for (let step = 0; step < 10_000; step++) {
      const key = KEYS[Math.floor(next() * KEYS.length)]!;
      if (next() < 0.6) {
        const slot = index.add(key);
        if (model.has(key)) expect(slot).toBe(model.get(key));
        else {
          expect(liveSlots.has(slot)).toBe(false); // no two live keys share a slot
          model.set(key, slot);
          liveSlots.add(slot);
        }
      } else {
        expect(index.delete(key)).toBe(model.get(key) ?? -1);
        liveSlots.delete(model.get(key) ?? -1);
        model.delete(key);
      }
      if (step % 1999 === 0) for (const k of KEYS) expect(index.get(k)).toBe(model.get(k) ?? -1);
    }
    expect(index.size).toBe(model.size);
    // Slots stay dense: never more of them than keys were ever live at once would need.
    expect(Math.max(...model.values(), 0)).toBeLessThan(KEYS.length);
  });

  it('finds a key from its UTF-8 bytes inside a bigger buffer, without a string', () => {
    const index = new KeyIndex();
    const slots = KEYS.map((k) => index.add(k));
    const buf = Buffer.concat(KEYS.map((k) => Buffer.concat([Buffer.from('..'), Buffer.from(k, 'utf8')])));
    let at = 0;
    KEYS.forEach((k, i) => {
      at += 2;
      const end = at + Buffer.byteLength(k);
      expect(index.getUtf8(buf, at, end)).toBe(slots[i]);
      at = end;
    });
    expect(index.getUtf8(Buffer.from('510000000000x'), 0, 13)).toBe(-1);
    expect(index.getUtf8(Buffer.from('5100000000001'), 0, 11)).toBe(-1); // a prefix is another key
  });

  it('keeps every key through many rounds of delete and re-add (arena compaction, rehash)', () => {
    const index = new KeyIndex(16);
    const keys = Array.from({ length: 5000 }, (_, i) => `M-${i}`);
    for (const k of keys) index.add(k);
    for (let round = 0; round < 5; round++) {
      for (let i = round % 2; i < keys.length; i += 2) index.delete(keys[i]!);
      for (let i = round % 2; i < keys.length; i += 2) index.add(`${keys[i]}-r${round}`);
      for (let i = round % 2; i < keys.length; i += 2) keys[i] = `${keys[i]}-r${round}`;
    }
    expect(index.size).toBe(keys.length);
    const seen = new Set<number>();
    for (const k of keys) {
      const slot = index.get(k);
      expect(slot).toBeGreaterThanOrEqual(0);
      seen.add(slot);
    }
    expect(seen.size).toBe(keys.length);
    expect(Math.max(...seen)).toBe(keys.length - 1); // freed slots were reused
  });
});
