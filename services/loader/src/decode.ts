import type { KafkaMessage } from 'kafkajs';
import {
  BadRecordError,
  recordMessage,
  schemaIdOf,
  TOPOLOGY_REASONS,
  type AvroCodec,
  type RecordIndex,
} from '@ami/lib';
import { RowBinaryWriter, rowEncoder } from './rowbinary.js';
import type { InputChecks, TableSpec } from './tables.js';

/** A record that cannot be loaded, with why; it goes to the DLQ with its original bytes. */
export interface Rejected {
  message: KafkaMessage;
  reason: string;
  error: string;
}

export interface DecodedBatch {
  /** RowBinary of the loadable rows, in `spec`'s column order. */
  body: Buffer;
  rows: number;
  rejected: Rejected[];
}

const encoders = new WeakMap<TableSpec, (w: RowBinaryWriter, row: Record<string, unknown>) => void>();

function encoderOf(spec: TableSpec) {
  let e = encoders.get(spec);
  if (!e) {
    e = rowEncoder(spec.columns);
    encoders.set(spec, e);
  }
  return e;
}

/** The fast path when the writer schema is the local one; false when it does not apply or the bytes are odd. */
function tryTranscode(
  codec: AvroCodec,
  spec: TableSpec,
  buf: Buffer,
  start: number,
  end: number,
  w: RowBinaryWriter,
  checks: InputChecks | undefined,
): boolean {
  if (
    !spec.transcode ||
    end - start < 5 ||
    buf[start] !== 0 ||
    !codec.isLocalSchema(spec.record, buf.readInt32BE(start + 1))
  )
    return false;
  const mark = w.length;
  try {
    spec.transcode(buf, start, end, w, checks);
    return true;
  } catch {
    w.truncate(mark); // let the full decoder name the reason
    return false;
  }
}

/** The full path: Avro decode (with schema resolution), validation, row encoding. */
async function decodeOne(
  codec: AvroCodec,
  spec: TableSpec,
  message: KafkaMessage,
  w: RowBinaryWriter,
  checks: InputChecks | undefined,
): Promise<boolean> {
  const buf = message.value;
  if (buf !== null) schemaIdOf(buf); // bad framing is a bad record before any registry call
  const value =
    buf === null ? null : (codec.decodeCached(spec.record, buf) ?? (await codec.decode(spec.record, buf)));
  const row = spec.toRow(
    value,
    { key: message.key?.toString() ?? null, offset: Number(message.offset) },
    checks,
  );
  if (!row) return false;
  encoderOf(spec)(w, row);
  return true;
}

export interface DecodeOptions {
  /** The meters table, for reads and events (unknown meter or gardu, before installation, demand). */
  checks?: InputChecks;
  /**
   * Called once when a record failed a meters-table check (validate.ts
   * TOPOLOGY_REASONS): brings the table up to the meters topic's current end,
   * after which the whole batch is decoded again. So a read whose profile was
   * published before it is never dead-lettered because the loader had not
   * read that far in the meters topic yet.
   */
  catchUp?: () => Promise<void>;
}

/** The records of one batch as the decoder walks them: the fast path in place, a message object only for the slow path. */
interface RecordSource {
  count: number;
  /** Transcodes record i straight to RowBinary; false when it needs the full decoder. */
  fast(i: number, w: RowBinaryWriter, checks: InputChecks | undefined): boolean;
  message(i: number): KafkaMessage;
}

/**
 * Decodes a Kafka batch into RowBinary rows of `spec`'s table. Bad records
 * come back apart (never dropped); a registry outage throws (retriable).
 */
export async function decodeBatch(
  codec: AvroCodec,
  spec: TableSpec,
  messages: readonly KafkaMessage[],
  opts: DecodeOptions = {},
): Promise<DecodedBatch> {
  return decodeSource(codec, spec, opts, {
    count: messages.length,
    fast: (i, w, checks) => {
      const v = messages[i]!.value;
      return v !== null && tryTranscode(codec, spec, v, 0, v.length, w, checks);
    },
    message: (i) => messages[i]!,
  });
}

/** The same for records indexed in place in a raw fetch response (kafkaWire/fetch.ts). */
export async function decodeRecords(
  codec: AvroCodec,
  spec: TableSpec,
  ix: RecordIndex,
  opts: DecodeOptions = {},
): Promise<DecodedBatch> {
  return decodeSource(codec, spec, opts, {
    count: ix.count,
    fast: (i, w, checks) =>
      ix.valueStart[i]! >= 0 &&
      tryTranscode(codec, spec, ix.buf, ix.valueStart[i]!, ix.valueEnd[i]!, w, checks),
    message: (i) => recordMessage(ix, i),
  });
}

async function decodeSource(
  codec: AvroCodec,
  spec: TableSpec,
  opts: DecodeOptions,
  src: RecordSource,
): Promise<DecodedBatch> {
  const w = new RowBinaryWriter(Math.max(4096, src.count * 64));
  let pass = await decodeInto(codec, spec, src, w, opts.checks);
  if (opts.catchUp && pass.rejected.some((r) => TOPOLOGY_REASONS.has(r.reason))) {
    await opts.catchUp();
    // Again from the start, so the rows keep their Kafka order.
    w.truncate(0);
    pass = await decodeInto(codec, spec, src, w, opts.checks);
  }
  return { body: w.take(), rows: pass.rows, rejected: pass.rejected };
}

async function decodeInto(
  codec: AvroCodec,
  spec: TableSpec,
  src: RecordSource,
  w: RowBinaryWriter,
  checks: InputChecks | undefined,
): Promise<{ rows: number; rejected: Rejected[] }> {
  const rejected: Rejected[] = [];
  let rows = 0;
  for (let i = 0; i < src.count; i++) {
    if (src.fast(i, w, checks)) {
      rows++;
      continue;
    }
    const message = src.message(i);
    const mark = w.length;
    try {
      if (await decodeOne(codec, spec, message, w, checks)) rows++;
    } catch (err) {
      w.truncate(mark);
      if (!(err instanceof BadRecordError)) throw err;
      rejected.push({ message, reason: err.reason, error: err.message });
    }
  }
  return { rows, rejected };
}
