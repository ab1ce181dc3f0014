import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  COMPRESSION_MASK,
  crc32c,
  CRC_FROM,
  indexRecords,
  Reader,
  recordMessage,
  unsnappy,
  UnsupportedBatchError,
} from '../../src/kafkaWire/index.js';
import { decodeFetchResponse, encodeFetchRequest } from '../../src/kafkaWire/messages/fetch.js';
import {
  capturedRecords,
  compressedManifest,
  fixtureRecords,
  FIXTURE_RECORDS,
  type CapturedSet,
} from '../support/compressedFixtures.js';

/**
 * Compressed record batches as a real broker sends them (fixtures/compressed/,
 * captured by support/captureCompressedBatches.ts): each codec written by
 * librdkafka and by the broker's Java codecs, read by the raw fetch's index.
 */
const manifest = compressedManifest();
const expected = fixtureRecords();
const CODEC_IDS = { gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

/** The records of a set as plain values, for comparison with what was produced. */
function readBack(set: Buffer, from = 0) {
  const ix = indexRecords(set, from);
  return {
    ix,
    records: Array.from({ length: ix.count }, (_, i) => {
      const m = recordMessage(ix, i);
      return { offset: Number(m.offset), key: m.key, value: m.value, headers: m.headers };
    }),
  };
}

/** The batch's codec bits changed (CRC recomputed, so only the codec is wrong). */
function withCodec(set: Buffer, codec: number): Buffer {
  const b = Buffer.from(set);
  b.writeInt16BE((b.readInt16BE(21) & ~COMPRESSION_MASK) | codec, 21);
  b.writeUInt32BE(crc32c(b, CRC_FROM, 12 + b.readInt32BE(8)), 17);
  return b;
}

describe('compressed batches captured from the real broker', () => {
  it('covers every codec, written by librdkafka and by the broker (Java)', () => {
    expect(manifest.records).toBe(FIXTURE_RECORDS);
    expect(manifest.sets.map((s) => `${s.codec}-${s.writer}`).sort()).toEqual(
      ['gzip', 'snappy', 'lz4', 'zstd'].flatMap((c) => [`${c}-broker`, `${c}-librdkafka`]).sort(),
    );
  });

  it.each(manifest.sets.map((s) => [`${s.codec} (${s.writer})`, s] as [string, CapturedSet]))(
    '%s: every record once, in order, with keys, tombstones and headers',
    (_name, s) => {
      const set = capturedRecords(s);
      // Really compressed with the codec named: the batch header says so.
      expect(set.readInt16BE(21) & COMPRESSION_MASK).toBe(CODEC_IDS[s.codec]);
      const { ix, records } = readBack(set);
      expect(ix.nextOffset).toBe(FIXTURE_RECORDS);
      expect(records.map((r) => r.offset)).toEqual(expected.map((_, i) => i));
      expect(records.map((r) => r.key?.toString('hex') ?? null)).toEqual(
        expected.map((r) => r.key?.toString('hex') ?? null),
      );
      expect(records.map((r) => r.value?.toString('hex') ?? null)).toEqual(
        expected.map((r) => r.value?.toString('hex') ?? null),
      );
      expect(records.map((r) => r.headers)).toEqual(expected.map((r) => r.headers));
    },
  );

  it('reads from an offset inside a compressed batch', () => {
    const { ix, records } = readBack(capturedRecords(manifest.sets[0]!), 600);
    expect(records.map((r) => r.offset)).toEqual(expected.slice(600).map((_, i) => 600 + i));
    expect(ix.nextOffset).toBe(FIXTURE_RECORDS);
  });

  it('snappy: the broker writes xerial-framed blocks, librdkafka one raw block; both read', () => {
    const xerial = capturedRecords(manifest.sets.find((s) => s.codec === 'snappy' && s.writer === 'broker')!);
    const raw = capturedRecords(
      manifest.sets.find((s) => s.codec === 'snappy' && s.writer === 'librdkafka')!,
    );
    const magic = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
    expect(xerial.subarray(61, 69)).toEqual(magic);
    expect(raw.subarray(61, 69)).not.toEqual(magic);
    // More than one xerial block (snappy-java's 32 kB), decoded into one run of records.
    const firstBlock = xerial.readInt32BE(61 + 16);
    expect(firstBlock).toBeLessThan(xerial.length - 61 - 20);
    expect(unsnappy(xerial.subarray(61)).length).toBeGreaterThan(64 * 1024);
    expect(readBack(xerial).records.length).toBe(readBack(raw).records.length);
  });

  it('reads a record set of several compressed batches of different codecs', () => {
    const gzip = capturedRecords(manifest.sets.find((s) => s.codec === 'gzip')!);
    const zstd = Buffer.from(capturedRecords(manifest.sets.find((s) => s.codec === 'zstd')!));
    zstd.writeBigInt64BE(BigInt(FIXTURE_RECORDS), 0); // base offset: outside the CRC
    const { ix, records } = readBack(Buffer.concat([gzip, zstd]));
    expect(ix.count).toBe(2 * FIXTURE_RECORDS);
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 2 * FIXTURE_RECORDS }, (_, i) => i));
    expect(ix.nextOffset).toBe(2 * FIXTURE_RECORDS);
  });

  it('leaves a trailing partial compressed batch for the next fetch', () => {
    const set = capturedRecords(manifest.sets.find((s) => s.codec === 'lz4')!);
    const { ix } = readBack(set.subarray(0, set.length - 100));
    expect(ix.count).toBe(0);
    expect(ix.nextOffset).toBe(0);
  });

  it('a corrupt compressed batch is a typed, non-retriable error naming codec and offset', () => {
    for (const s of manifest.sets) {
      const flipped = Buffer.from(capturedRecords(s));
      flipped.writeUInt8(flipped.readUInt8(flipped.length - 20) ^ 0xff, flipped.length - 20);
      expect(() => indexRecords(flipped, 0), s.file).toThrow(/CRC mismatch/);
      // Bad data under a good CRC: the codec's own check.
      const mangled = withCodec(flipped, CODEC_IDS[s.codec]);
      expect(() => indexRecords(mangled, 0), s.file).toThrow(UnsupportedBatchError);
    }
    try {
      indexRecords(withCodec(capturedRecords(manifest.sets[0]!), 2), 0);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(UnsupportedBatchError);
      expect((err as UnsupportedBatchError).retriable).toBe(false);
      expect((err as Error).message).toMatch(/snappy record batch at offset 0 does not decompress/);
    }
  });

  it('an unknown codec is refused, not guessed', () => {
    const set = withCodec(capturedRecords(manifest.sets[0]!), 5);
    expect(() => indexRecords(set, 0)).toThrow(/unknown compression codec 5/);
  });

  it('the fixtures are what the broker sent, byte for byte (checked by their CRC)', () => {
    for (const s of manifest.sets) {
      const set = readFileSync(new URL(`../fixtures/compressed/${s.file}`, import.meta.url));
      const end = 12 + set.readInt32BE(8);
      expect(crc32c(set, CRC_FROM, end), s.file).toBe(set.readUInt32BE(17));
    }
  });
});

describe('Fetch v11 (v10+ is what a topic with compression.type=zstd needs)', () => {
  it('decodes a real Fetch v11 answer: the zstd-configured topic, its records whole', () => {
    const { file, topic, set } = manifest.fetchV11;
    const [p, ...rest] = decodeFetchResponse(
      capturedRecords({ file }),
      11,
      new Map([[`${topic}\u0000${0}`, 0]]),
    );
    expect(rest).toEqual([]);
    expect(p).toMatchObject({
      topic,
      partition: 0,
      fetchOffset: 0,
      errorCode: 0,
      highWatermark: FIXTURE_RECORDS,
      lastStableOffset: FIXTURE_RECORDS,
    });
    expect(p!.records).toEqual(capturedRecords({ file: set }));
  });

  it('puts a top-level error (v7+) on every partition asked for', () => {
    const body = Buffer.alloc(14);
    body.writeInt16BE(70, 4); // FETCH_SESSION_ID_NOT_FOUND
    body.writeInt32BE(0, 10); // no topics
    const out = decodeFetchResponse(
      body,
      11,
      new Map([
        ['reads\u00000', 5],
        ['reads\u00003', 9],
      ]),
    );
    expect(out.map((p) => [p.topic, p.partition, p.fetchOffset, p.errorCode, p.records])).toEqual([
      ['reads', 0, 5, 70, null],
      ['reads', 3, 9, 70, null],
    ]);
  });

  it('asks sessionless, with an unknown leader epoch, no forgotten topics and no rack', () => {
    const request = Buffer.concat(
      encodeFetchRequest(11, {
        maxWaitMs: 500,
        minBytes: 1,
        maxBytes: 1000,
        isolation: 1,
        partitionMaxBytes: 100,
        topics: new Map([['reads', [{ partition: 2, offset: 42 }]]]),
      }),
    );
    const r = new Reader(request);
    const fields = [r.int32(), r.int32(), r.int32(), r.int32(), r.int8(), r.int32(), r.int32(), r.int32()];
    expect(fields).toEqual([-1, 500, 1, 1000, 1, 0, -1, 1]); // replica, wait, min, max, isolation, session, epoch, topics
    expect([r.string(), r.int32(), r.int32(), r.int32(), r.int64(), r.int64(), r.int32()]).toEqual([
      'reads',
      1,
      2,
      -1, // current leader epoch
      42n,
      -1n, // log start offset
      100,
    ]);
    expect([r.int32(), r.string(), r.p]).toEqual([0, '', request.length]); // forgotten topics, rack id, end
  });
});
