import { BadRecordError, DEFAULT_LIMITS, demandAboveRating } from '@ami/lib';
import type { RowBinaryWriter } from './rowbinary.js';
import type { InputChecks } from './tables.js';

/**
 * The hot path for reads: Avro binary (local MeterRead schema, field order
 * of schemas/MeterRead.avsc) straight to RowBinary (column order of
 * TABLES.reads), without building JS objects or decoding strings. Any
 * surprise (truncated bytes, a value the table cannot hold) throws, and the
 * caller falls back to the full decoder, which names the reason for the DLQ.
 */
let pos = 0;
/** End of the record being read (exclusive). */
let end = 0;

function varLong(b: Buffer): number {
  // Zigzag varint as a JS number: exact for |n| < 2^53, which registers and epoch ms are.
  let n = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    const byte = pos < end ? b[pos++]! : undefined;
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
  if (len < 0 || pos + len > end) throw new BadRecordError('truncated', 'truncated Avro string');
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

/** Whether bytes [at, at + len) of `b` are the UTF-8 of `s`, without building a string for ASCII. */
function sameString(b: Buffer, at: number, len: number, s: string): boolean {
  if (s.length === len) {
    let i = 0;
    while (i < len && s.charCodeAt(i) < 0x80 && s.charCodeAt(i) === b[at + i]) i++;
    if (i === len) return true;
    if (s.charCodeAt(i) < 0x80 && b[at + i]! < 0x80) return false; // an ASCII difference
  }
  return b.toString('utf8', at, at + len) === s;
}

/**
 * Appends one read (Confluent-framed `msg`) to `w`. On a throw the writer may
 * hold a partial row: the caller rewinds with `w.truncate(mark)`.
 */
export function transcodeRead(msg: Buffer, w: RowBinaryWriter, checks?: InputChecks): void {
  transcodeReadAt(msg, 0, msg.length, w, checks);
}

/**
 * The same for the record at `msg[start, stop)`: a value indexed in place in
 * a fetch response (kafkaWire/fetch.ts), no Buffer per record.
 */
export function transcodeReadAt(
  msg: Buffer,
  start: number,
  stop: number,
  w: RowBinaryWriter,
  checks?: InputChecks,
): void {
  const limits = checks?.limits ?? DEFAULT_LIMITS;
  pos = start + 5;
  end = stop;
  const meterLen = string(msg, w);
  if (meterLen === 0) throw new BadRecordError('missing-field', 'meter_id is empty');
  const meterAt = pos - meterLen;
  const garduLen = string(msg, w);
  const garduAt = pos - garduLen;
  const readAtMs = varLong(msg);
  const readAt = Math.floor(readAtMs / 1000);
  if (readAt < 0 || readAt >= 4294967296)
    throw new BadRecordError('out-of-range', 'read_at outside DateTime');
  // Anything validateRead (packages/lib/src/validate.ts) would refuse falls back to the full decoder, which names it.
  if (readAtMs > Date.now() + limits.maxFutureMs)
    throw new BadRecordError('future-timestamp', 'read_at in the future');
  w.u32(readAt);
  const interval = int32(msg);
  if (interval < 0 || interval > limits.maxIntervalS)
    throw new BadRecordError('out-of-range', 'interval_s out of range');
  w.u32(interval);
  const wh = varLong(msg);
  if (wh < 0) throw new BadRecordError('negative-register', 'negative register');
  w.i64(wh);
  const demand = int32(msg);
  if (demand < 0) throw new BadRecordError('negative-demand', 'negative demand');
  w.i32(demand);
  if (checks?.readFits) {
    if (!checks.readFits(msg, meterAt, meterLen, garduAt, garduLen, readAtMs, demand, limits))
      throw new BadRecordError('topology', 'meters-table check failed');
  } else if (checks) {
    // A string only for a lookup without readFits.
    const p = checks.lookup(msg.toString('utf8', meterAt, meterAt + meterLen));
    if (
      !p ||
      garduLen === 0 ||
      !sameString(msg, garduAt, garduLen, p.gardu_id) ||
      (p.installed_at !== undefined && readAtMs < p.installed_at) ||
      demandAboveRating(demand, p.daya_va, limits)
    )
      throw new BadRecordError('topology', 'meters-table check failed');
  }
  if (pos + 4 > end) throw new BadRecordError('truncated', 'truncated Avro float');
  const volts = msg.readFloatLE(pos);
  if (!(volts >= 0 && volts <= limits.maxVoltage))
    throw new BadRecordError('voltage-out-of-range', 'voltage out of range');
  w.bytes(msg, pos, pos + 4); // Avro float and RowBinary Float32 are both 4 bytes little-endian
  pos += 4;
  w.i8(enumIndex(msg, 2));
  const powerLimit = int32(msg);
  if (powerLimit < 0) throw new BadRecordError('bad-power-limit', 'negative power limit');
  w.i32(powerLimit);
  const kind = enumIndex(msg, 2);
  if (kind === 0 && interval === 0)
    throw new BadRecordError('bad-interval', 'INTERVAL read with interval_s 0');
  w.i8(kind);
  if (pos !== end) throw new BadRecordError('schema-mismatch', 'trailing bytes after MeterRead');
}
