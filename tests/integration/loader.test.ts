import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { createClickHouse, createKafka, frame, sqlIdent } from '@ami/lib';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';
import { migrate } from '@ami/loader/migrate';
import { loadTariffs } from '@ami/loader/tariffs';
import { startLoader, type RunningLoader } from '@ami/loader/loader';
import { loadLoaderConfig, type LoaderConfig } from '@ami/loader/config';
import { billingRows, refreshBilling } from '@ami/loader/billingStore';
import { EVENT_E1, EXPECTED, METERS, READS, ms, OUTAGE_O1 } from '@ami/loader/testing/fixtures';
import { bucketsOf } from '@ami/loader/testing/buckets';
import { kafkaFixtures } from '@ami/loader/testing/kafkaFixtures';

const EVENT = EVENT_E1;
const OUTAGE = OUTAGE_O1;

async function count(ch: ClickHouseClient, db: string, table: string): Promise<number> {
  const rs = await ch.query({
    query: `SELECT count() AS n FROM ${sqlIdent(db)}.${sqlIdent(table)} FINAL`,
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: number }>())[0]!.n);
}

describe('loader: Kafka → ClickHouse', () => {
  const common = testConfig();
  const db = uniqueName('ami_loader');
  let cfg: LoaderConfig;
  let ch: ClickHouseClient;
  let kafka: Kafka;
  let loader: RunningLoader | undefined;
  const dlq: { headers: Record<string, string> }[] = [];

  beforeAll(async () => {
    cfg = loadLoaderConfig({
      ...process.env,
      AMI_TOPIC_PREFIX: common.AMI_TOPIC_PREFIX,
      CLICKHOUSE_DB: db,
      LOADER_GROUP_ID: uniqueName('loader'),
      LOADER_BILLING_REFRESH_S: '0',
      LOG_LEVEL: 'warn',
    });
    ch = createClickHouse(cfg);
    await migrate(ch, db, testLogger);
    await loadTariffs(ch, db, testLogger);
    kafka = createKafka(cfg, testLogger);
    const k = await kafkaFixtures(cfg, kafka);
    const meter = await k.encoder('MeterProfile', k.names.meters);
    const read = await k.encoder('MeterRead', k.names.reads);
    const event = await k.encoder('MeterEvent', k.names.events);
    const outage = await k.encoder('Outage', k.names.outages);
    await k.send(k.names.meters, [
      ...METERS.map((m) => ({ key: m.meter_id, value: meter(m) })),
      { key: 'MX', value: meter({ ...METERS[0]!, meter_id: 'MX', timezone: 'Europe/Paris' }) }, // unsupported zone → DLQ
    ]);
    // Every read twice (a producer retry), plus two undecodable messages.
    await k.send(k.names.reads, [
      ...READS.flatMap((r) => [
        { key: r.gardu_id, value: read(r) },
        { key: r.gardu_id, value: read(r) },
      ]),
      { key: 'G-M1', value: Buffer.from('not avro at all') },
      { key: 'G-M1', value: frame(read(READS[0]!).readInt32BE(1), Buffer.from([0xff, 0xff])) },
    ]);
    await k.send(k.names.events, [
      { key: 'G-M1', value: event(EVENT) },
      { key: 'G-M1', value: event(EVENT) },
    ]);
    await k.send(k.names.outages, [
      {
        key: 'O1',
        value: outage({
          ...OUTAGE,
          status: 'OPEN',
          restored_at: null,
          // Same millisecond as the RESTORED record, as in a fast replay: the later record must win.
          emitted_at: OUTAGE.emitted_at,
        }),
      },
      { key: 'O1', value: outage(OUTAGE) },
    ]);
    // A momentary interruption (2 minutes) from the detector's own topic.
    const momentary = await k.encoder('Outage', k.names.momentary);
    await k.send(k.names.momentary, [
      {
        key: 'MO1',
        value: momentary({ ...OUTAGE, outage_id: 'MO1', restored_at: ms('2025-03-05T02:02:00Z') }),
      },
    ]);
    await k.close();

    const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader') });
    await consumer.connect();
    await consumer.subscribe({ topic: k.names.dlq, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        dlq.push({
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([h, v]) => [h, String(v)])),
        });
      },
    });
    loader = await startLoader(cfg, testLogger);
    afterAll(async () => consumer.disconnect());
  });

  afterAll(async () => {
    await loader?.stop();
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
    await ch.close();
  });

  it('loads every table, duplicates collapsed (outages: one row per outage after FINAL)', async () => {
    await eventually(async () => ((await count(ch, db, 'reads')) === READS.length ? true : undefined), {
      what: 'reads loaded',
    });
    await eventually(async () => ((await count(ch, db, 'meters')) === METERS.length ? true : undefined), {
      what: 'meters loaded',
    });
    await eventually(async () => ((await count(ch, db, 'events')) === 1 ? true : undefined), {
      what: 'events loaded',
    });
    await eventually(async () => ((await count(ch, db, 'outages')) === 1 ? true : undefined), {
      what: 'outages loaded',
    });
    await eventually(
      async () => ((await count(ch, db, 'momentary_interruptions')) === 1 ? true : undefined),
      { what: 'momentary loaded' },
    );
    const rs = await ch.query({
      query: `SELECT status FROM ${sqlIdent(db)}.outages_latest`,
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([{ status: 'RESTORED' }]);
  });

  it('sends bad records to the DLQ with where they came from and why', async () => {
    const got = await eventually(() => (dlq.length >= 3 ? dlq : undefined), { what: 'three DLQ records' });
    const reasons = got.map((d) => d.headers.reason).sort();
    expect(reasons).toEqual(['bad-magic-byte', 'schema-mismatch', 'unsupported-timezone']);
    for (const d of got)
      expect(Object.keys(d.headers)).toEqual(
        expect.arrayContaining(['topic', 'partition', 'offset', 'reason']),
      );
  });

  it('bills from what the loader wrote exactly as by hand', async () => {
    // Billing reads the buckets, written by a view after the reads' part is visible: wait for them.
    const buckets = bucketsOf(
      READS.map((r) => ({
        meter_id: r.meter_id,
        t: r.read_at / 1000,
        wh: r.energy_import_wh,
        interval: true,
      })),
    ).length;
    await eventually(
      async () => ((await count(ch, db, 'reads_buckets_daily')) === buckets ? true : undefined),
      { what: `${buckets} buckets` },
    );
    await refreshBilling(ch, db, '2025-03');
    const rows = await billingRows(ch, db, '2025-03');
    expect(Object.fromEntries(rows.map((r) => [r.meter_id, Number(r.amount_sen)]))).toEqual(
      Object.fromEntries(Object.entries(EXPECTED).map(([id, e]) => [id, e.amountSen])),
    );
  });
});
