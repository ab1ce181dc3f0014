import { describe, expect, it } from 'vitest';
import { uvarintSize, varintSize, writeUvarint, writeVarint, zigzag } from '../src/varint.js';

/** LEB128 by BigInt, written independently of the code under test. */
function reference(n: bigint): number[] {
  const out: number[] = [];
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) byte |= 0x80;
    out.push(byte);
  } while (n > 0n);
  return out;
}

const edges = [
  0,
  1,
  127,
  128,
  16_383,
  16_384,
  2 ** 21 - 1,
  2 ** 21,
  2 ** 28 - 1,
  2 ** 28,
  2 ** 31,
  2 ** 32 + 5,
  2 ** 35,
  2 ** 49 + 3,
  Number.MAX_SAFE_INTEGER,
];

describe('varint', () => {
  it('writes unsigned LEB128 byte for byte as the reference, and says how many bytes', () => {
    for (const n of edges) {
      const b = new Uint8Array(16);
      const end = writeUvarint(b, 3, n);
      expect([...b.subarray(3, end)], String(n)).toEqual(reference(BigInt(n)));
      expect(uvarintSize(n), String(n)).toBe(end - 3);
    }
  });

  it('zigzags signed numbers as Kafka does: 0, -1, 1, -2 are 0, 1, 2, 3', () => {
    expect([0, -1, 1, -2, 2].map(zigzag)).toEqual([0, 1, 2, 3, 4]);
    for (const n of [-1, -64, -65, 63, 64, 1_000_000, -1_000_000, 2 ** 40]) {
      const b = new Uint8Array(16);
      const end = writeVarint(b, 0, n);
      const z = n >= 0 ? BigInt(n) * 2n : -BigInt(n) * 2n - 1n;
      expect([...b.subarray(0, end)], String(n)).toEqual(reference(z));
      expect(varintSize(n)).toBe(end);
    }
  });
});
