import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { createClickHouse, createKafka, sqlIdent, topicNames, type Outage } from '@ami/lib';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';
import { migrate } from '@ami/loader/migrate';
import { loadTariffs } from '@ami/loader/tariffs';
import { startLoader } from '@ami/loader/loader';
import { loadLoaderConfig, type LoaderConfig } from '@ami/loader/config';
import { refreshBilling } from '@ami/loader/billingStore';
import { METERS, READS, ms, OUTAGE_O1 } from '@ami/loader/testing/fixtures';
import { kafkaFixtures } from '@ami/loader/testing/kafkaFixtures';
import { startAmi } from '@ami/cli/children';

const OUTAGE: Outage = { ...OUTAGE_O1, customers_total: 2 };

/** Every aggregate analysts and billing see, as comparable text (computed_at differs by design). */
async function aggregates(ch: ClickHouseClient, db: string): Promise<string> {
  const d = sqlIdent(db);
  const queries = [
    `SELECT * FROM ${d}.billing_usage FINAL ORDER BY meter_id, billing_period`,
    `SELECT * FROM ${d}.reliability_monthly ORDER BY region, ulp, month`,
    `SELECT meter_id, bucket, uniqExactIfMerge(interval_reads) AS n, argMaxMerge(last_wh) AS wh FROM ${d}.reads_buckets_daily GROUP BY meter_id, bucket ORDER BY meter_id, bucket`,
    `SELECT count(), sum(energy_import_wh) FROM ${d}.reads FINAL`,
  ];
  const out: unknown[] = [];
  for (const query of queries) {
    const rs = await ch.query({ query, format: 'JSONEachRow' });
    out.push((await rs.json<Record<string, unknown>>()).map(({ computed_at: _c, ...r }) => r));
  }
  return JSON.stringify(out);
}

/** Committed offsets of `groupId` summed over the loader's topics (-1 per partition when none). */
async function committed(kafka: Kafka, groupId: string, topics: string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchOffsets({ groupId, topics });
    return offsets.flatMap((t) => t.partitions).reduce((n, p) => n + Math.max(Number(p.offset), 0), 0);
  } finally {
    await admin.disconnect();
  }
}

async function endOffsets(kafka: Kafka, topics: string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let n = 0;
    for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) n += Number(p.high);
    return n;
  } finally {
    await admin.disconnect();
  }
}

describe('loader killed between insert and commit', () => {
  const common = testConfig();
  const names = topicNames(common.AMI_TOPIC_PREFIX);
  const topics = [names.meters, names.reads, names.events, names.outages];
  const refDb = uniqueName('ami_ref');
  const crashDb = uniqueName('ami_crash');
  let ch: ClickHouseClient;
  let kafka: Kafka;
  const config = (db: string, group: string, extra: Record<string, string> = {}): LoaderConfig =>
    loadLoaderConfig({
      ...process.env,
      AMI_TOPIC_PREFIX: common.AMI_TOPIC_PREFIX,
      CLICKHOUSE_DB: db,
      LOADER_GROUP_ID: group,
      LOADER_BILLING_REFRESH_S: '0',
      LOADER_SESSION_TIMEOUT_MS: '6000',
      LOG_LEVEL: 'warn',
      ...extra,
    });

  beforeAll(async () => {
    ch = createClickHouse(common);
    kafka = createKafka(common, testLogger);
    for (const db of [refDb, crashDb]) {
      await migrate(ch, db, testLogger);
      await loadTariffs(ch, db, testLogger);
    }
    const k = await kafkaFixtures(common, kafka);
    const meter = await k.encoder('MeterProfile', names.meters);
    const read = await k.encoder('MeterRead', names.reads);
    const outage = await k.encoder('Outage', names.outages);
    await k.send(
      names.meters,
      METERS.map((m) => ({ key: m.meter_id, value: meter(m) })),
    );
    await k.send(
      names.reads,
      READS.map((r) => ({ key: r.gardu_id, value: read(r) })),
    );
    await k.send(names.outages, [
      {
        key: 'O1',
        value: outage({
          ...OUTAGE,
          status: 'OPEN',
          restored_at: null,
          emitted_at: ms('2025-03-05T02:02:00Z'),
        }),
      },
      { key: 'O1', value: outage(OUTAGE) },
    ]);
    await k.close();
  });

  afterAll(async () => {
    for (const db of [refDb, crashDb]) await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
    await ch.close();
  });

  async function loadAll(cfg: LoaderConfig): Promise<void> {
    const loader = await startLoader(cfg, testLogger);
    const total = await endOffsets(kafka, topics);
    await eventually(
      async () => ((await committed(kafka, cfg.LOADER_GROUP_ID, topics)) === total ? true : undefined),
      { timeoutMs: 90_000, what: 'all offsets committed' },
    );
    await loader.stop();
    await refreshBilling(ch, cfg.CLICKHOUSE_DB, '2025-03');
  }

  it('ends with exactly the aggregates of a run without the crash', async () => {
    await loadAll(config(refDb, uniqueName('ref')));

    const group = uniqueName('crash');
    const crashed = startAmi('loader', ['loader', 'run'], {
      env: {
        ...process.env,
        ...Object.fromEntries(Object.entries(config(crashDb, group)).map(([k, v]) => [k, String(v)])),
        // Fault injection is read apart from the configuration (services/loader/src/faults.ts).
        LOADER_FAULT_EXIT_AFTER_INSERT: 'true',
      },
    });
    const code = await crashed.waitForExit(120_000);
    expect(code).toBe(3);
    const rs = await ch.query({
      query: `SELECT (SELECT count() FROM ${sqlIdent(crashDb)}.reads) + (SELECT count() FROM ${sqlIdent(crashDb)}.meters) + (SELECT count() FROM ${sqlIdent(crashDb)}.outages) AS n`,
      format: 'JSONEachRow',
    });
    expect(Number((await rs.json<{ n: number }>())[0]!.n)).toBeGreaterThan(0); // inserted...
    expect(await committed(kafka, group, topics)).toBe(0); // ...but not committed

    await loadAll(config(crashDb, group)); // the restart sees the same records again
    expect(await aggregates(ch, crashDb)).toBe(await aggregates(ch, refDb));
  }, 240_000);
});
