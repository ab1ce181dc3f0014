import { BadRecordError, DEFAULT_LIMITS } from '@ami/lib';
import type { RowBinaryWriter } from './rowbinary.js';

/**
 * The hot path for reads: Avro binary (local MeterRead schema, field order
 * of schemas/MeterRead.avsc) straight to RowBinary (column order of
 * TABLES.reads), without building JS objects or decoding strings. Any
 * surprise (truncated bytes, a value the table cannot hold) throws, and the
 * caller falls back to the full decoder, which names the reason for the DLQ.
 */
let pos = 0;

function varLong(b: Buffer): number {
  // Zigzag varint as a JS number: exact for |n| < 2^53, which registers and epoch ms are.
  let n = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const byte = b[pos++];
    if (byte === undefined) throw new BadRecordError('truncated', 'truncated Avro long');
    n += (byte & 0x7f) * scale;
    if (byte < 0x80) return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
    scale *= 128;
  }
  throw new BadRecordError('schema-mismatch', 'Avro long longer than 10 bytes');
}

function int32(b: Buffer): number {
  const v = varLong(b);
  if (v < -2147483648 || v > 2147483647) throw new BadRecordError('schema-mismatch', 'Avro int out of range');
  return v;
}

function string(b: Buffer, w: RowBinaryWriter): number {
  const len = varLong(b);
  if (len < 0 || pos + len > b.length) throw new BadRecordError('truncated', 'truncated Avro string');
  w.varUInt(len);
  w.bytes(b, pos, pos + len);
  pos += len;
  return len;
}

function enumIndex(b: Buffer, symbols: number): number {
  const i = varLong(b);
  if (i < 0 || i >= symbols) throw new BadRecordError('schema-mismatch', 'enum index out of range');
  return i;
}

/**
 * Appends one read (Confluent-framed `msg`) to `w`. On a throw the writer may
 * hold a partial row: the caller rewinds with `w.truncate(mark)`.
 */
export function transcodeRead(msg: Buffer, w: RowBinaryWriter): void {
  pos = 5;
  if (string(msg, w) === 0) throw new BadRecordError('missing-field', 'meter_id is empty');
  string(msg, w);
  const readAtMs = varLong(msg);
  const readAt = Math.floor(readAtMs / 1000);
  if (readAt < 0 || readAt >= 4294967296)
    throw new BadRecordError('out-of-range', 'read_at outside DateTime');
  // Anything validateRead (packages/lib/src/validate.ts) would refuse falls back to the full decoder, which names it.
  if (readAtMs > Date.now() + DEFAULT_LIMITS.maxFutureMs)
    throw new BadRecordError('future-timestamp', 'read_at in the future');
  w.u32(readAt);
  const interval = int32(msg);
  if (interval < 0 || interval > DEFAULT_LIMITS.maxIntervalS)
    throw new BadRecordError('out-of-range', 'interval_s out of range');
  w.u32(interval);
  const wh = varLong(msg);
  if (wh < 0) throw new BadRecordError('negative-register', 'negative register');
  w.i64(wh);
  const demand = int32(msg);
  if (demand < 0) throw new BadRecordError('negative-demand', 'negative demand');
  w.i32(demand);
  if (pos + 4 > msg.length) throw new BadRecordError('truncated', 'truncated Avro float');
  const volts = msg.readFloatLE(pos);
  if (!(volts >= 0 && volts <= DEFAULT_LIMITS.maxVoltage))
    throw new BadRecordError('voltage-out-of-range', 'voltage out of range');
  w.bytes(msg, pos, pos + 4); // Avro float and RowBinary Float32 are both 4 bytes little-endian
  pos += 4;
  w.i8(enumIndex(msg, 2));
  w.i32(int32(msg));
  w.i8(enumIndex(msg, 2));
  if (pos !== msg.length) throw new BadRecordError('schema-mismatch', 'trailing bytes after MeterRead');
}
