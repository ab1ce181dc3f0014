import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { createClickHouse, createKafka, sqlIdent, type MeterProfile, type MeterRead } from '@ami/lib';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';
import { migrate } from '@ami/loader/migrate';
import { startLoader, type RunningLoader } from '@ami/loader/loader';
import { loadLoaderConfig, type LoaderConfig } from '@ami/loader/config';
import { kafkaFixtures } from '@ami/loader/testing/kafkaFixtures';

const METERS = 60;

function profile(m: number): MeterProfile {
  return {
    meter_id: `RB${m}`,
    idpel: String(520000000000 + m),
    kdpm: 'L',
    phases: 1,
    tariff: 'R-1',
    daya_va: 2200,
    gardu_id: `RG${m % 6}`,
    feeder_id: 'RF1',
    ulp: 'ULP-RB',
    region: 'BALI',
    timezone: 'Asia/Makassar',
    installed_at: Date.UTC(2024, 0, 1),
  };
}

function read(i: number): MeterRead {
  const m = i % METERS;
  const step = Math.floor(i / METERS);
  return {
    meter_id: `RB${m}`,
    gardu_id: `RG${m % 6}`,
    read_at: Date.UTC(2025, 2, 1) + step * 900_000,
    interval_s: 900,
    energy_import_wh: m * 1000 + step * 10,
    demand_w: 200,
    voltage_v: 230,
    relay: 'CLOSED',
    power_limit_va: 0,
    kind: 'INTERVAL',
  };
}

/**
 * Two loader instances in one group (reads fetched raw, the group kept by
 * kafkajs): the second joins while the first is loading, partitions move,
 * the first leaves; every read ends up in ClickHouse once and every offset
 * is committed.
 */
describe('loader: two instances, rebalances', () => {
  const common = testConfig();
  const db = uniqueName('ami_rebalance');
  const group = uniqueName('loader');
  let cfg: LoaderConfig;
  let ch: ClickHouseClient;
  let kafka: Kafka;
  const running: RunningLoader[] = [];
  let total = 0;

  beforeAll(async () => {
    cfg = loadLoaderConfig({
      ...process.env,
      AMI_TOPIC_PREFIX: common.AMI_TOPIC_PREFIX,
      CLICKHOUSE_DB: db,
      LOADER_GROUP_ID: group,
      LOADER_BILLING_REFRESH_S: '0',
      LOADER_SESSION_TIMEOUT_MS: '6000',
      LOADER_FLUSH_MS: '200',
      LOADER_BATCH_ROWS: '2000',
      LOG_LEVEL: 'warn',
    });
    ch = createClickHouse(cfg);
    await migrate(ch, db, testLogger);
    kafka = createKafka(cfg, testLogger);
  });

  afterAll(async () => {
    for (const l of running) await l.stop().catch(() => undefined);
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
    await ch.close();
  });

  async function produce(from: number, to: number): Promise<void> {
    const k = await kafkaFixtures(cfg, kafka, 6);
    if (from === 0) {
      const meter = await k.encoder('MeterProfile', k.names.meters);
      await k.send(
        k.names.meters,
        Array.from({ length: METERS }, (_, m) => ({ key: `RB${m}`, value: meter(profile(m)) })),
      );
    }
    const encode = await k.encoder('MeterRead', k.names.reads);
    for (let i = from; i < to; i += 2000) {
      const messages = [];
      for (let j = i; j < Math.min(to, i + 2000); j++)
        messages.push({ key: read(j).gardu_id, value: encode(read(j)) });
      await k.send(k.names.reads, messages);
    }
    await k.close();
    total = to;
  }

  async function loadedReads(): Promise<{ rows: number; distinct: number }> {
    const rs = await ch.query({
      query: `SELECT count() AS rows, uniqExact(meter_id, read_at) AS distinct FROM ${sqlIdent(db)}.reads FINAL`,
      format: 'JSONEachRow',
    });
    const [r] = await rs.json<{ rows: string; distinct: string }>();
    return { rows: Number(r!.rows), distinct: Number(r!.distinct) };
  }

  async function committedReads(): Promise<number> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [t] = await admin.fetchOffsets({ groupId: group, topics: [`${cfg.AMI_TOPIC_PREFIX}.reads`] });
      return t!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    } finally {
      await admin.disconnect();
    }
  }

  it('loads every read exactly once across a join and a leave', async () => {
    await produce(0, 20_000);
    running.push(await startLoader(cfg, testLogger));
    await eventually(async () => ((await loadedReads()).distinct > 0 ? true : undefined), {
      timeoutMs: 60_000,
      what: 'first instance loading',
    });
    running.push(await startLoader(cfg, testLogger)); // joins: partitions move
    await produce(20_000, 40_000);
    await eventually(async () => ((await loadedReads()).distinct === total ? true : undefined), {
      timeoutMs: 120_000,
      what: 'all reads loaded by the two instances',
    });
    await running.shift()!.stop(); // leaves: the other takes every partition
    await produce(40_000, 50_000);
    await eventually(
      async () =>
        (await loadedReads()).distinct === total && (await committedReads()) === total ? true : undefined,
      { timeoutMs: 120_000, what: 'all reads loaded and committed by the remaining instance' },
    );
    const r = await loadedReads();
    expect(r).toEqual({ rows: total, distinct: total });
  }, 300_000);
});
