import { ROW_END_MARK, SUMMARY_ROW_BYTES } from '../src/billingSql.js';
import { bucketOf } from '../src/timezones.js';

/** reads_buckets rows built as migrations/002_reads_buckets.sql builds them, for the billing scan tests. */
export interface Bucket {
  meter: string;
  bk: number;
  fa: number;
  fw: number;
  la: number;
  lw: number;
  n: Set<number>;
  iv: number;
  md: number;
}

export function bucketsOf(
  reads: readonly { meter_id: string; t: number; wh: number; interval: boolean }[],
): Bucket[] {
  const by = new Map<string, Bucket>();
  for (const r of reads) {
    const bk = bucketOf(r.t);
    const key = `${r.meter_id}/${bk}`;
    const b = by.get(key) ?? {
      meter: r.meter_id,
      bk,
      fa: r.t,
      fw: r.wh,
      la: r.t,
      lw: r.wh,
      n: new Set(),
      iv: 0,
      md: 0,
    };
    if (r.t < b.fa) [b.fa, b.fw] = [r.t, r.wh];
    if (r.t > b.la) [b.la, b.lw] = [r.t, r.wh];
    if (r.interval) {
      b.n.add(r.t);
      b.iv = b.iv === 0 ? 3600 : Math.min(b.iv, 3600);
    }
    b.md = 500;
    by.set(key, b);
  }
  const cmp = (a: Bucket, b: Bucket) =>
    Buffer.compare(Buffer.from(a.meter), Buffer.from(b.meter)) || a.bk - b.bk;
  return [...by.values()].sort(cmp);
}

/** The RowBinary rows of bucketsSql. */
export function encode(buckets: readonly Bucket[]): Buffer {
  const parts = buckets.map((b) => {
    const id = Buffer.from(b.meter);
    const row = Buffer.alloc(1 + id.length + SUMMARY_ROW_BYTES);
    row[0] = id.length;
    id.copy(row, 1);
    let p = 1 + id.length;
    p = row.writeUInt32LE(b.bk, p);
    p = row.writeUInt32LE(b.fa, p);
    p = row.writeBigInt64LE(BigInt(b.fw), p);
    p = row.writeUInt32LE(b.la, p);
    p = row.writeBigInt64LE(BigInt(b.lw), p);
    p = row.writeUInt32LE(b.n.size, p);
    p = row.writeUInt32LE(b.iv, p);
    p = row.writeInt32LE(b.md, p);
    // As bucketsSql: a bucket's run of registers is its first and last one.
    p = row.writeBigInt64LE(BigInt(Math.max(b.lw - b.fw, 0)), p);
    p = row.writeUInt32LE(b.lw < b.fw ? 1 : 0, p);
    row.writeUInt32LE(ROW_END_MARK, p);
    return row;
  });
  return Buffer.concat(parts);
}
