import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { ClickHouseError, createClickHouse, createKafka, sqlIdent } from '@ami/lib';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';
import { migrate } from '@ami/loader/migrate';
import { startLoader, type RunningLoader } from '@ami/loader/loader';
import type { LoaderConfig } from '@ami/loader/config';
import { EVENT_E1 as EVENT, METERS } from '@ami/loader/testing/fixtures';
import { kafkaFixtures, testLoaderConfig } from '@ami/loader/testing/kafkaFixtures';

/**
 * A table missing a column the loader writes (a migration not applied, a column dropped by
 * hand) is a schema error: no retry cures it. The loader stops with a message naming it and
 * commits nothing, instead of retrying for ever with consumption paused.
 */
describe('loader: a schema error stops it', () => {
  const common = testConfig();
  const db = uniqueName('ami_schema');
  let cfg: LoaderConfig;
  let ch: ClickHouseClient;
  let kafka: Kafka;
  let loader: RunningLoader | undefined;

  beforeAll(async () => {
    cfg = testLoaderConfig(common.AMI_TOPIC_PREFIX, db, uniqueName('loader'), { LOADER_RETRY_MIN_MS: '100' });
    ch = createClickHouse(cfg);
    await migrate(ch, db, testLogger);
    await ch.command({ query: `ALTER TABLE ${sqlIdent(db)}.events DROP COLUMN power_limit_va` });
    kafka = createKafka(cfg, testLogger);
    const k = await kafkaFixtures(cfg, kafka);
    const meter = await k.encoder('MeterProfile', k.names.meters);
    const event = await k.encoder('MeterEvent', k.names.events);
    await k.send(
      k.names.meters,
      METERS.map((m) => ({ key: m.meter_id, value: meter(m) })),
    );
    await k.send(k.names.events, [{ key: 'G-M1', value: event(EVENT) }]);
    await k.close();
  }, 60_000);

  afterAll(async () => {
    await loader?.stop();
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
    await ch.close();
  });

  it("stops with ClickHouse's code and the column named, and commits no offset of the refused rows", async () => {
    loader = await startLoader(cfg, testLogger);
    const failure = await eventually(
      () => Promise.race([loader!.failed, new Promise((r) => setTimeout(() => r(undefined), 500))]),
      { timeoutMs: 60_000, what: 'the loader to stop on the schema error' },
    );
    expect(failure).toBeInstanceOf(ClickHouseError);
    expect(failure).toMatchObject({
      clickhouseCode: 16,
      errorCode: 'NO_SUCH_COLUMN_IN_TABLE',
      retriable: false,
    });
    expect((failure as Error).message).toMatch(
      /insert into events failed with NO_SUCH_COLUMN_IN_TABLE.*power_limit_va/s,
    );

    const admin = kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchOffsets({
        groupId: cfg.LOADER_GROUP_ID,
        topics: [`${cfg.AMI_TOPIC_PREFIX}.events`],
      });
      expect(offsets.flatMap((t) => t.partitions).every((p) => Number(p.offset) <= 0)).toBe(true);
    } finally {
      await admin.disconnect();
    }
  }, 90_000);
});
