import { gunzipSync } from 'node:zlib';
import { decompress as unzstdFrames } from 'fzstd';
import { decompressFrameSync } from 'lz4-napi';
import snappyjs from 'snappyjs';
import { AmiError } from '../errors.js';
import { BATCH_HEADER, CRC_FROM, crc32c } from './protocol.js';

/**
 * Compressed record batches, read: a batch whose attributes name a codec has
 * its records (everything after the 61-byte header) compressed as one block.
 * `inflateRecordSet` rewrites a fetched record set with those records
 * decompressed and the codec bits cleared, so the record index (fetch.ts)
 * reads every batch the same way. Codecs, chosen by a same-run decode
 * benchmark (docs/performance.md) and maintenance:
 * - gzip: node:zlib;
 * - snappy: snappyjs (pure JS), both the xerial framing the Java client writes
 *   and the raw block librdkafka writes;
 * - lz4: lz4-napi (lz4_flex, native), the LZ4 frame format Kafka writes;
 * - zstd: fzstd (pure JS; node:zlib has no zstd on Node 20), which reads the
 *   streaming frames Kafka writes (no content size in the header). The native
 *   bindings download or compile their binary at install, which this project's
 *   installs do not run; the WebAssembly builds of the reference library
 *   either need the content size or install process-wide exception handlers.
 * Producing stays uncompressed.
 */

export const CODEC_NONE = 0;
export const CODEC_GZIP = 1;
export const CODEC_SNAPPY = 2;
export const CODEC_LZ4 = 3;
export const CODEC_ZSTD = 4;
const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export const COMPRESSION_MASK = 0x07;

/**
 * A batch this reader cannot index (an old message format, an unknown codec,
 * a corrupt or malformed batch): not retriable, the consumer stops with it.
 */
export class UnsupportedBatchError extends AmiError {
  constructor(message: string, cause?: unknown) {
    super(message, { retriable: false, cause });
  }
}

function codecName(codec: number): string {
  return CODEC_NAMES[codec] ?? `codec ${codec}`;
}

/** xerial snappy-java's stream header: magic, then version and compatible version (int32 each). */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER = 16;

function unsnappyBlock(block: Uint8Array): Buffer {
  const out = snappyjs.uncompress(block);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** Snappy as Kafka clients write it: xerial-framed blocks (Java) or one raw block (librdkafka). */
export function unsnappy(data: Buffer): Buffer {
  if (data.length < XERIAL_HEADER || !data.subarray(0, 8).equals(XERIAL_MAGIC)) return unsnappyBlock(data);
  const blocks: Buffer[] = [];
  for (let p = XERIAL_HEADER; p < data.length;) {
    if (p + 4 > data.length) throw new UnsupportedBatchError('xerial snappy: truncated block length');
    const end = p + 4 + data.readInt32BE(p);
    if (end > data.length || end < p + 4)
      throw new UnsupportedBatchError('xerial snappy: block runs past the data');
    blocks.push(unsnappyBlock(data.subarray(p + 4, end)));
    p = end;
  }
  return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks);
}

function unzstd(data: Buffer): Buffer {
  const out = unzstdFrames(data);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** The records of one batch, decompressed. Throws the codec's own error on bad data. */
export function decompress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case CODEC_GZIP:
      return gunzipSync(data);
    case CODEC_SNAPPY:
      return unsnappy(data);
    case CODEC_LZ4:
      return decompressFrameSync(data);
    case CODEC_ZSTD:
      return unzstd(data);
    default:
      throw new UnsupportedBatchError(`record batch with unknown compression codec ${codec}`);
  }
}

/** The first complete magic-2 batch at or after `from` whose records are compressed, or -1. */
function firstCompressed(records: Buffer): number {
  for (let p = 0; p + BATCH_HEADER <= records.length;) {
    const end = p + 12 + records.readInt32BE(p + 8);
    if (end > records.length) return -1;
    if (records.readInt8(p + 16) === 2 && (records.readInt16BE(p + 21) & COMPRESSION_MASK) !== 0) return p;
    p = end;
  }
  return -1;
}

/** One compressed batch [p, end) as an uncompressed one: its header (length, codec bits) and records. */
function inflateBatch(records: Buffer, p: number, end: number): Buffer[] {
  const attributes = records.readInt16BE(p + 21);
  const codec = attributes & COMPRESSION_MASK;
  const baseOffset = records.readBigInt64BE(p);
  // Checked here (not for plain batches, which TCP/TLS guard): a codec may not notice a bad block.
  if (crc32c(records, p + CRC_FROM, end) !== records.readUInt32BE(p + 17))
    throw new UnsupportedBatchError(`${codecName(codec)} record batch at offset ${baseOffset}: CRC mismatch`);
  let inner: Buffer;
  try {
    inner = decompress(codec, records.subarray(p + BATCH_HEADER, end));
  } catch (err) {
    if (err instanceof UnsupportedBatchError) throw err;
    throw new UnsupportedBatchError(
      `${codecName(codec)} record batch at offset ${baseOffset} does not decompress: ${(err as Error).message}`,
      err,
    );
  }
  const header = Buffer.from(records.subarray(p, p + BATCH_HEADER));
  header.writeInt32BE(BATCH_HEADER - 12 + inner.length, 8);
  header.writeInt16BE(attributes & ~COMPRESSION_MASK, 21);
  return [header, inner];
}

/**
 * `records` (one partition's record set from a fetch) with every compressed
 * batch decompressed in place; the same buffer when none is compressed. The
 * rewritten headers keep their CRC (of the compressed form): nothing checks it
 * after this. A trailing partial batch stays partial (read by the next fetch).
 */
export function inflateRecordSet(records: Buffer): Buffer {
  const first = firstCompressed(records);
  if (first < 0) return records;
  const parts: Buffer[] = [records.subarray(0, first)];
  let p = first;
  while (p + BATCH_HEADER <= records.length) {
    const end = p + 12 + records.readInt32BE(p + 8);
    if (end > records.length) break;
    const compressed =
      records.readInt8(p + 16) === 2 && (records.readInt16BE(p + 21) & COMPRESSION_MASK) !== 0;
    if (compressed) parts.push(...inflateBatch(records, p, end));
    else parts.push(records.subarray(p, end));
    p = end;
  }
  parts.push(records.subarray(p));
  return Buffer.concat(parts);
}
