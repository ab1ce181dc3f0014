/**
 * The one varint writer: unsigned LEB128 (Kafka's compact lengths, ClickHouse RowBinary's lengths)
 * and its zigzag form (Kafka's record fields). Exact for numbers up to 2^53: division, not bit
 * shifts, past 2^31.
 */
export function writeUvarint(b: Uint8Array, p: number, n: number): number {
  while (n >= 0x80) {
    b[p++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  b[p++] = n;
  return p;
}

/** Bytes of `writeUvarint(n)`. */
export function uvarintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 5;
  for (let rest = Math.floor(n / 0x800000000); rest > 0; rest = Math.floor(rest / 128)) size++;
  return size;
}

/** Signed to unsigned, small magnitudes small: 0, -1, 1, -2 ... become 0, 1, 2, 3 ... */
export function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

/** A zigzag varint at p (n may be -1: Kafka's null key or value); returns the next position. */
export function writeVarint(b: Uint8Array, p: number, n: number): number {
  return writeUvarint(b, p, zigzag(n));
}

/** Bytes of `writeVarint(n)`. */
export function varintSize(n: number): number {
  return uvarintSize(zigzag(n));
}
