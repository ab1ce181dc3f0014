import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import {
  AvroCodec,
  createClickHouse,
  createKafka,
  createRegistry,
  sqlIdent,
  valueSubject,
  type MeterRead,
} from '@ami/lib';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';
import { migrate } from '@ami/loader/migrate';
import { startLoader, type RunningLoader } from '@ami/loader/loader';
import { loadLoaderConfig } from '@ami/loader/config';
import { METERS, read } from '@ami/loader/testing/fixtures';
import { kafkaFixtures } from '@ami/loader/testing/kafkaFixtures';
import { loadDetectorConfig } from '@ami/detector/config';
import { startDetector, type DetectorHandle } from '@ami/detector/processor';
import { DetectorHarness, profile, rd } from '../support/detectorHarness.js';

/**
 * Reads produced compressed with each codec by a client nobody here wrote
 * (python3-confluent-kafka, librdkafka), and uncompressed by kafkajs between
 * them: the loader's and the detector's raw fetch read every one exactly once,
 * with no kafkajs fallback (there is none).
 */
const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const;
const PER_CODEC = 120;
const producePy = new URL('./independent/produce_compressed.py', import.meta.url).pathname;
const run = promisify(execFile);

/** Produces `messages` to `topic` compressed with `codec` through librdkafka; resolves when all are acknowledged. */
async function produceCompressed(
  brokers: string,
  topic: string,
  codec: string,
  messages: Array<{ key: string; value: Buffer }>,
): Promise<void> {
  const child = run('/usr/bin/python3', [producePy, brokers, topic, codec], { timeout: 60_000 });
  child.child.stdin!.end(
    messages
      .map((m) => JSON.stringify({ k: Buffer.from(m.key).toString('hex'), v: m.value.toString('hex') }))
      .join('\n'),
  );
  const { stdout } = await child;
  expect(Number(stdout.trim())).toBe(messages.length);
}

describe('loader: reads in compressed batches of every codec, through the raw fetch', () => {
  const common = testConfig();
  const db = uniqueName('ami_compressed');
  let ch: ClickHouseClient;
  let loader: RunningLoader | undefined;
  const sent: MeterRead[] = [];

  beforeAll(async () => {
    const cfg = loadLoaderConfig({
      ...process.env,
      AMI_TOPIC_PREFIX: common.AMI_TOPIC_PREFIX,
      CLICKHOUSE_DB: db,
      LOADER_GROUP_ID: uniqueName('loader'),
      LOADER_BILLING_REFRESH_S: '0',
      LOADER_RAW_FETCH: 'true',
      LOG_LEVEL: 'warn',
    });
    ch = createClickHouse(cfg);
    await migrate(ch, db, testLogger);
    const k = await kafkaFixtures(cfg, createKafka(cfg, testLogger));
    const meter = await k.encoder('MeterProfile', k.names.meters);
    const encode = await k.encoder('MeterRead', k.names.reads);
    await k.send(
      k.names.meters,
      METERS.map((m) => ({ key: m.meter_id, value: meter(m) })),
    );
    loader = await startLoader(cfg, testLogger);
    // Hourly reads of every fixture meter from May on, a small register step: each (meter, hour) once.
    const hourly = (n: number, from: number) =>
      Array.from({ length: n }, (_, i) => {
        const m = METERS[(from + i) % METERS.length]!;
        const hour = Math.floor((from + i) / METERS.length);
        return read(
          m.meter_id,
          new Date(Date.UTC(2025, 4, 1) + hour * 3_600_000).toISOString(),
          9_000_000 + hour * 100,
        );
      });
    let next = 0;
    for (const codec of CODECS) {
      const reads = hourly(PER_CODEC, next);
      next += PER_CODEC;
      await produceCompressed(
        cfg.KAFKA_BROKERS,
        k.names.reads,
        codec,
        reads.map((r) => ({ key: r.gardu_id, value: encode(r) })),
      );
      sent.push(...reads);
      const plain = hourly(8, next);
      next += 8;
      await k.send(
        k.names.reads,
        plain.map((r) => ({ key: r.gardu_id, value: encode(r) })),
      );
      sent.push(...plain);
    }
    await k.close();
  });

  afterAll(async () => {
    await loader?.stop();
    await ch?.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
    await ch?.close();
  });

  it('loads every read exactly once (no row twice, none missing)', async () => {
    const counts = async () => {
      const rs = await ch.query({
        query: `SELECT count() AS n, uniqExact(meter_id, read_at) AS distinct_reads FROM ${sqlIdent(db)}.reads`,
        format: 'JSONEachRow',
      });
      const [row] = await rs.json<{ n: string; distinct_reads: string }>();
      return { n: Number(row!.n), distinct: Number(row!.distinct_reads) };
    };
    await eventually(async () => ((await counts()).n >= sent.length ? true : undefined), {
      what: `${sent.length} reads in ClickHouse`,
      timeoutMs: 60_000,
    });
    // Without FINAL: a read offered twice would be a second row until a merge.
    expect(await counts()).toEqual({ n: sent.length, distinct: sent.length });
  });
});

describe('detector: reads in compressed batches of every codec, through the raw fetch', () => {
  const common = testConfig();
  const cfg = loadDetectorConfig({
    ...process.env,
    AMI_TOPIC_PREFIX: common.AMI_TOPIC_PREFIX,
    LOG_LEVEL: 'warn',
    DETECTOR_GROUP_ID: uniqueName('ami-detector'),
    DETECTOR_INSTANCE_ID: uniqueName('i'),
    DETECTOR_PARTITIONS: '3',
    DETECTOR_RAW_FETCH: 'true',
    IDLE_ADVANCE_MS: '0',
  });
  const h = new DetectorHarness(cfg);
  const GARDUS = ['G1', 'G2', 'G3'];
  const meters = GARDUS.flatMap((g) => Array.from({ length: 10 }, (_, i) => [`${g}-M${i}`, g] as const));
  const T0 = Date.UTC(2026, 0, 5, 2, 0, 0);
  let detector: DetectorHandle;

  beforeAll(async () => {
    await h.start(3);
    await h.meters(meters.map(([m, g]) => profile(m, g)));
    detector = await startDetector(cfg, testLogger, (code) => {
      throw new Error(`detector wanted to exit ${code}`);
    });
  });

  afterAll(async () => {
    await detector?.stop();
    await h.stop();
  });

  it('consumes every read once: none twice, none to the DLQ', async () => {
    const codec = new AvroCodec(createRegistry(cfg));
    const encode = codec.encoder(
      'MeterRead',
      await codec.register('MeterRead', valueSubject(h.topics.reads)),
    );
    let sent = 0;
    for (const [c, codec] of CODECS.entries()) {
      // Four quarter-hours of every meter per codec, in event-time order.
      const reads = [0, 1, 2, 3].flatMap((q) =>
        meters.map(([m, g]) => rd(m, g, T0 + (c * 4 + q) * 15 * 60_000)),
      );
      await produceCompressed(
        cfg.KAFKA_BROKERS,
        h.topics.reads,
        codec,
        reads.map((r) => ({ key: r.gardu_id, value: encode(r) })),
      );
      sent += reads.length;
    }
    await eventually(() => (detector.stats.consumed >= sent ? true : undefined), {
      what: `${sent} reads consumed`,
      timeoutMs: 60_000,
    });
    expect(detector.stats.consumed).toBe(sent);
    expect(detector.stats.duplicates).toBe(0);
    expect(detector.stats.dlq).toEqual({});
  });
});
