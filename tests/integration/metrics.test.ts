import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AvroCodec,
  createClickHouse,
  createKafka,
  createLogger,
  createRegistry,
  ensureTopics,
  sqlIdent,
  topicNames,
  valueSubject,
  type MeterEvent,
  type MeterProfile,
  type MeterRead,
} from '@ami/lib';
import { freePorts } from '@ami/stack';
import { migrate } from '@ami/loader/migrate';
import { eventually, testConfig, uniqueName } from '../support/fixtures.js';
import { ServiceProcess } from '../support/pipeline.js';

/**
 * Observability: a running detector, loader and head-end serve Prometheus
 * metrics, /healthz and /readyz on METRICS_PORT, and their counters move.
 */

const logger = createLogger('metrics-test', 'fatal');

/** Sum of the samples of `name` whose labels contain every `labels` pair. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? ([-+\deE.NaInf]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[4]);
  }
  return sum;
}

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, text: await res.text() };
}

describe('metrics, health and readiness of the running services', () => {
  const cfg = testConfig();
  const topics = topicNames(cfg.AMI_TOPIC_PREFIX);
  const db = uniqueName('ami_metrics');
  const logDir = mkdtempSync(join(tmpdir(), 'ami-metrics-'));
  const ch = createClickHouse(cfg);
  const services: ServiceProcess[] = [];
  const base = {
    KAFKA_BROKERS: cfg.KAFKA_BROKERS,
    SCHEMA_REGISTRY_URL: cfg.SCHEMA_REGISTRY_URL,
    CLICKHOUSE_URL: cfg.CLICKHOUSE_URL,
    AMI_TOPIC_PREFIX: cfg.AMI_TOPIC_PREFIX,
    LOG_LEVEL: 'warn',
  };

  afterAll(async () => {
    for (const s of services) await s.kill('SIGTERM');
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` }).catch(() => undefined);
    await ch.close();
    rmSync(logDir, { recursive: true, force: true });
  });

  it('detector and loader count what they consume, produce, insert and dead-letter', async () => {
    const kafka = createKafka(cfg, logger);
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, cfg.AMI_TOPIC_PREFIX, { partitions: 2 });
    await admin.disconnect();
    await migrate(ch, db, logger);
    const codec = new AvroCodec(createRegistry(cfg));
    const enc = {
      p: codec.encoder('MeterProfile', await codec.register('MeterProfile', valueSubject(topics.meters))),
      r: codec.encoder('MeterRead', await codec.register('MeterRead', valueSubject(topics.reads))),
      e: codec.encoder('MeterEvent', await codec.register('MeterEvent', valueSubject(topics.events))),
    };
    const T = Math.floor((Date.now() - 3_600_000) / 900_000) * 900_000;
    const meters: MeterProfile[] = Array.from({ length: 6 }, (_, i) => ({
      meter_id: `MX-${i}`,
      idpel: String(540000000000 + i),
      kdpm: 'L',
      phases: 1,
      tariff: 'R-1',
      daya_va: 1300,
      gardu_id: 'MX-G1',
      feeder_id: 'MX-F1',
      ulp: 'ULP-X',
      region: 'BALI',
      timezone: 'Asia/Makassar',
      installed_at: Date.UTC(2024, 0, 1),
    }));
    const reads: MeterRead[] = meters.map((m, i) => ({
      meter_id: m.meter_id,
      gardu_id: m.gardu_id,
      read_at: T,
      interval_s: 900,
      energy_import_wh: 10_000 + i,
      demand_w: 200,
      voltage_v: 229,
      relay: 'CLOSED',
      power_limit_va: 1300,
      kind: 'INTERVAL',
    }));
    const gasps: MeterEvent[] = meters.map((m) => ({
      event_id: `mx-lg-${m.meter_id}`,
      meter_id: m.meter_id,
      gardu_id: m.gardu_id,
      occurred_at: T + 60_000,
      type: 'LAST_GASP',
      relay: 'CLOSED',
      cause: 'NONE',
      power_limit_va: null,
    }));
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: topics.meters,
      messages: meters.map((m) => ({ key: m.meter_id, value: enc.p(m) })),
    });

    const [detPort, loadPort] = (await freePorts(2)) as [number, number];
    const detector = new ServiceProcess(
      'detector',
      ['detector', 'run'],
      {
        ...base,
        METRICS_PORT: String(detPort),
        DETECTOR_GROUP_ID: uniqueName('mx-det'),
        DETECTOR_INSTANCE_ID: uniqueName('i'),
        DETECTOR_PARTITIONS: '2',
        IDLE_ADVANCE_MS: '1000',
      },
      join(logDir, 'detector.log'),
    );
    const loader = new ServiceProcess(
      'loader',
      ['loader', 'run'],
      {
        ...base,
        METRICS_PORT: String(loadPort),
        CLICKHOUSE_DB: db,
        LOADER_GROUP_ID: uniqueName('mx-load'),
        LOADER_BILLING_REFRESH_S: '0',
      },
      join(logDir, 'loader.log'),
    );
    services.push(detector, loader);
    for (const port of [detPort, loadPort]) {
      await eventually(async () => ((await get(port, '/healthz')).status === 200 ? true : undefined), {
        timeoutMs: 60_000,
        what: `/healthz on ${port}`,
      });
      await eventually(async () => ((await get(port, '/readyz')).status === 200 ? true : undefined), {
        timeoutMs: 60_000,
        what: `/readyz on ${port}`,
      });
    }

    await producer.send({
      topic: topics.reads,
      messages: reads.map((r) => ({ key: r.gardu_id, value: enc.r(r) })),
    });
    await producer.send({
      topic: topics.events,
      messages: gasps.map((e) => ({ key: e.gardu_id, value: enc.e(e) })),
    });
    await producer.send({
      topic: topics.reads,
      messages: [{ key: 'MX-G1', value: Buffer.from('not avro at all') }],
    });
    await producer.send({
      topic: topics.events,
      messages: [{ key: 'MX-G1', value: Buffer.from([0, 0x7f, 0xff, 0, 1, 2]) }],
    });
    await producer.disconnect();

    const det = await eventually(
      async () => {
        const { text } = await get(detPort, '/metrics');
        return metricValue(text, 'ami_messages_produced_total') > 0 &&
          metricValue(text, 'ami_dlq_messages_total', { topic: topics.events }) >= 1
          ? text
          : undefined;
      },
      { timeoutMs: 60_000, what: 'detector counters' },
    );
    const load = await eventually(
      async () => {
        const { text } = await get(loadPort, '/metrics');
        return metricValue(text, 'ami_insert_duration_seconds_count') > 0 &&
          metricValue(text, 'ami_dlq_messages_total', { topic: topics.reads }) >= 1
          ? text
          : undefined;
      },
      { timeoutMs: 60_000, what: 'loader counters' },
    );
    const figures = {
      detector: {
        consumedEvents: metricValue(det, 'ami_messages_consumed_total', { topic: topics.events }),
        consumedReads: metricValue(det, 'ami_messages_consumed_total', { topic: topics.reads }),
        produced: metricValue(det, 'ami_messages_produced_total'),
        dlq: metricValue(det, 'ami_dlq_messages_total'),
        transactions: metricValue(det, 'ami_insert_duration_seconds_count'),
        batches: metricValue(det, 'ami_batch_size_count'),
      },
      loader: {
        consumedReads: metricValue(load, 'ami_messages_consumed_total', { topic: topics.reads }),
        dlq: metricValue(load, 'ami_dlq_messages_total'),
        inserts: metricValue(load, 'ami_insert_duration_seconds_count'),
        insertedRows: metricValue(load, 'ami_rows_inserted_total'),
        lagReads: metricValue(load, 'ami_consumer_lag', { topic: topics.reads }),
      },
    };
    process.stdout.write(`[metrics] ${JSON.stringify(figures)}\n`);
    expect(figures.detector.consumedEvents).toBeGreaterThanOrEqual(gasps.length + 1);
    expect(figures.detector.dlq).toBeGreaterThanOrEqual(1);
    expect(figures.detector.batches).toBeGreaterThan(0);
    expect(figures.loader.consumedReads).toBeGreaterThanOrEqual(reads.length + 1);
    expect(figures.loader.dlq).toBeGreaterThanOrEqual(1);
    expect(figures.loader.inserts).toBeGreaterThan(0);
    expect(det).toMatch(/service="detector"/);
    expect(load).toMatch(/service="loader"/);
    expect(detector.alive && loader.alive).toBe(true);
  }, 120_000);
});
