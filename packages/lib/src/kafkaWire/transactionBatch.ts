import { varintSize, writeVarint } from '../varint.js';
import { RecordBatchBuilder } from './protocol.js';

/** Attributes bit 4: the batch belongs to a transaction (read_committed readers hide it until the commit marker). */
export const ATTR_TRANSACTIONAL = 0x10;

export type RecordHeaders = Record<string, string | Buffer | undefined>;

/**
 * A magic-2 record batch for a transactional producer: the transactional bit
 * set, and records with a null key or value (state-topic tombstones) and
 * headers (dead letters), which the plain RecordBatchBuilder does not write.
 * Still a RecordBatchBuilder, so WireProducer.send queues it unchanged.
 */
export class TransactionalBatch extends RecordBatchBuilder {
  /** Adds one record; `key` and `value` as bytes or strings (written as UTF-8). */
  addRecord(key: Buffer | string | null, value: Buffer | string | null, headers?: RecordHeaders): void {
    const keyLen = key === null ? -1 : typeof key === 'string' ? Buffer.byteLength(key) : key.length;
    const valueLen =
      value === null ? -1 : typeof value === 'string' ? Buffer.byteLength(value) : value.length;
    const delta = this.count;
    let headerCount = 0;
    let headerBytes = 0;
    if (headers !== undefined)
      for (const k in headers) {
        const v = headers[k];
        if (v === undefined) continue;
        const kl = Buffer.byteLength(k);
        const vl = typeof v === 'string' ? Buffer.byteLength(v) : v.length;
        headerCount++;
        headerBytes += varintSize(kl) + kl + varintSize(vl) + vl;
      }
    const bodyLen =
      1 + // attributes
      1 + // timestamp delta
      varintSize(delta) +
      varintSize(keyLen) +
      Math.max(keyLen, 0) +
      varintSize(valueLen) +
      Math.max(valueLen, 0) +
      varintSize(headerCount) +
      headerBytes;
    this.ensure(this.pos + bodyLen + 5);
    const b = this.buf;
    let p = writeVarint(b, this.pos, bodyLen);
    b[p++] = 0; // attributes
    b[p++] = 0; // timestamp delta: every record has the batch's timestamp
    p = writeVarint(b, p, delta);
    p = writeVarint(b, p, keyLen);
    if (key !== null) p += typeof key === 'string' ? b.write(key, p, 'utf8') : key.copy(b, p);
    p = writeVarint(b, p, valueLen);
    if (value !== null) p += typeof value === 'string' ? b.write(value, p, 'utf8') : value.copy(b, p);
    p = writeVarint(b, p, headerCount);
    if (headers !== undefined)
      for (const k in headers) {
        const v = headers[k];
        if (v === undefined) continue;
        p = writeVarint(b, p, Buffer.byteLength(k));
        p += b.write(k, p, 'utf8');
        const vb = typeof v === 'string' ? Buffer.from(v) : v;
        p = writeVarint(b, p, vb.length);
        p += vb.copy(b, p);
      }
    this.pos = p;
    this.count++;
  }

  /** RecordBatchBuilder.seal writes these: the transactional bit set. */
  protected override attributes(): number {
    return ATTR_TRANSACTIONAL;
  }

  private ensure(need: number): void {
    if (need <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}
