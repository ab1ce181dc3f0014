import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { auditDatabases, createClickHouse, sqlIdent, sqlString } from '@ami/lib';
import {
  CLICKHOUSE_CLUSTER_NAME,
  clickhouseClusterComponents,
  clickhouseClusterDown,
  clickhouseClusterReplicas,
  clickhouseClusterUp,
  loadStackSettings,
} from '@ami/stack';
import { billingRows, refreshBilling } from '@ami/loader/billingStore';
import { migrate } from '@ami/loader/migrate';
import { loadTariffs } from '@ami/loader/tariffs';
import { eventually, testConfig, testLogger } from '../support/fixtures.js';
import { Pipeline, settled, type Produced } from '../support/pipeline.js';

/**
 * The ClickHouse cluster of the local stack (ZooKeeper, one shard of two 18.16 replicas, started
 * here and nowhere else in the suite): the migrations' cluster form (Replicated*MergeTree +
 * Distributed, ON CLUSTER), the loader writing through the Distributed tables, and
 *   1. the same scenario loaded into a single server and into the cluster gives the same bills,
 *      to the sen, and the same reliability rows;
 *   2. a replica killed for a minute while the loader inserts loses and doubles nothing: both
 *      replicas hold every read exactly once when it is back.
 */

const settings = loadStackSettings();
const [replica1, replica2] = clickhouseClusterReplicas(settings) as [
  ReturnType<typeof clickhouseClusterReplicas>[number],
  ReturnType<typeof clickhouseClusterReplicas>[number],
];
const DOWN_MS = 60_000;

async function one(ch: ClickHouseClient, query: string): Promise<Record<string, string>> {
  const rs = await ch.query({ query, format: 'JSONEachRow' });
  return (await rs.json<Record<string, string>>())[0] ?? {};
}

/** Rows as comparable text, sorted; `computed_at` (when the refresh ran) left out. */
function canonical(rows: object[]): string[] {
  return rows.map((r) => JSON.stringify(Object.entries(r).filter(([k]) => k !== 'computed_at'))).sort();
}

/** One replica's own copy of the reads (its local table, no Distributed table between). */
async function replicaReads(ch: ClickHouseClient, db: string) {
  const r = await one(
    ch,
    `SELECT count() AS raw, uniqExact(meter_id, read_at) AS distinct, sum(cityHash64(meter_id, read_at, energy_import_wh)) AS checksum
     FROM ${sqlIdent(db)}.reads_local`,
  );
  return { raw: Number(r.raw), distinct: Number(r.distinct), checksum: r.checksum };
}

/** The bucket states the materialized view wrote on one replica, merged, as one checksum. */
async function replicaBuckets(ch: ClickHouseClient, db: string): Promise<string> {
  const r = await one(
    ch,
    `SELECT count() AS n, sum(cityHash64(meter_id, bucket, f, l, n_reads)) AS checksum FROM (
       SELECT meter_id, bucket, argMinMerge(first_wh) AS f, argMaxMerge(last_wh) AS l, uniqExactIfMerge(interval_reads) AS n_reads
       FROM ${sqlIdent(db)}.reads_buckets_daily_local GROUP BY meter_id, bucket)`,
  );
  return `${r.n}:${r.checksum}`;
}

async function replicationDone(ch: ClickHouseClient, db: string): Promise<boolean> {
  const r = await one(
    ch,
    `SELECT sum(queue_size) AS queue, sum(inserts_in_queue) AS inserts FROM system.replicas WHERE database = ${sqlString(db)}`,
  );
  return Number(r.queue) === 0 && Number(r.inserts) === 0;
}

describe('ClickHouse as a cluster (1 shard x 2 replicas, ZooKeeper)', () => {
  const logDir = mkdtempSync(join(tmpdir(), 'ami-ch-cluster-'));
  const stackEnv = Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  let clusterEnv: Record<string, string>;
  let startedHere = false;
  let admin1: ClickHouseClient;
  let admin2: ClickHouseClient;
  const databases: string[] = [];

  beforeAll(async () => {
    const running = await Promise.all(
      clickhouseClusterComponents(settings).map((c) => c.healthy().catch(() => false)),
    );
    startedHere = running.includes(false);
    const t0 = Date.now();
    clusterEnv = await clickhouseClusterUp(settings);
    process.stdout.write(`ClickHouse cluster up in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    admin1 = createClickHouse({ ...testConfig(), CLICKHOUSE_URL: replica1.address });
    admin2 = createClickHouse({ ...testConfig(), CLICKHOUSE_URL: replica2.address });
  }, 600_000);

  afterAll(async () => {
    // On each replica rather than ON CLUSTER: a replica that is down would hold the DDL queue for
    // its time-out (180 s) instead of failing at once.
    for (const db of databases)
      for (const name of [db, auditDatabases(db).trail, auditDatabases(db).inbox])
        for (const admin of [admin1, admin2])
          await admin
            ?.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(name)}` })
            .catch((err: unknown) => process.stderr.write(`${name} not dropped: ${String(err)}\n`));
    await admin1?.close();
    await admin2?.close();
    // Stopped only when this file started it (a developer's `stack up --clickhouse-cluster` stays up).
    if (startedHere) await clickhouseClusterDown(settings);
    rmSync(logDir, { recursive: true, force: true });
  }, 120_000);

  it('gives the same bills, to the sen, and the same reliability rows as one server', async () => {
    const single = new Pipeline(stackEnv, logDir);
    try {
      await single.start();
      // The same topics into a database on the cluster, by a loader of its own.
      const clusterDb = `${single.db}_cl`;
      databases.push(clusterDb);
      const onCluster = createClickHouse({ ...single.cfg, CLICKHOUSE_URL: clusterEnv.CLICKHOUSE_URL! });
      const t0 = Date.now();
      await migrate(onCluster, clusterDb, testLogger, { cluster: CLICKHOUSE_CLUSTER_NAME });
      process.stdout.write(`cluster migrations: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      // A database is migrated for one layout only: the other is refused before any DDL.
      await expect(migrate(onCluster, clusterDb, testLogger)).rejects.toThrow(/migrated for a cluster/);
      await expect(
        migrate(single.ch, single.db, testLogger, { cluster: CLICKHOUSE_CLUSTER_NAME }),
      ).rejects.toThrow(/migrated for a single server/);
      await loadTariffs(single.ch, single.db, testLogger);
      await loadTariffs(onCluster, clusterDb, testLogger);
      const clusterLoader = single.spawn('loader-cluster', ['loader', 'run'], {
        ...clusterEnv,
        CLICKHOUSE_DB: clusterDb,
        LOADER_GROUP_ID: `${single.prefix}-loader-cluster`,
      });
      try {
        const produced = await single.replay({ scenario: 'tusbung-during-outage', meters: 400 });
        await settled(single, produced);
        const reads = async (ch: ClickHouseClient, db: string, table: string) =>
          one(ch, `SELECT uniqExact(meter_id, read_at) AS n FROM ${sqlIdent(db)}.${table}`);
        await eventually(
          async () =>
            Number((await reads(onCluster, clusterDb, 'reads')).n) === produced.distinctReads
              ? true
              : undefined,
          { timeoutMs: 60_000, what: 'every read in the cluster' },
        );
        const outagesOf = async (ch: ClickHouseClient, db: string) =>
          canonical(
            await (
              await ch.query({ query: `SELECT * FROM ${sqlIdent(db)}.outages_latest`, format: 'JSONEachRow' })
            ).json<object>(),
          );
        const expectedOutages = await outagesOf(single.ch, single.db);
        expect(expectedOutages.length).toBeGreaterThan(0);
        await eventually(
          async () =>
            JSON.stringify(await outagesOf(onCluster, clusterDb)) === JSON.stringify(expectedOutages)
              ? true
              : undefined,
          { timeoutMs: 60_000, what: 'the same latest outages in the cluster' },
        );

        const period = periodOf(produced);
        await refreshBilling(single.ch, single.db, period);
        await refreshBilling(onCluster, clusterDb, period);
        const bills = canonical(await billingRows(single.ch, single.db, period));
        expect(bills.length).toBeGreaterThan(0);
        expect(canonical(await billingRows(onCluster, clusterDb, period))).toEqual(bills);

        const reliability = async (ch: ClickHouseClient, db: string) =>
          canonical(
            await (
              await ch.query({
                query: `SELECT * FROM ${sqlIdent(db)}.reliability_monthly`,
                format: 'JSONEachRow',
              })
            ).json<object>(),
          );
        const indices = await reliability(single.ch, single.db);
        expect(indices.length).toBeGreaterThan(0);
        expect(await reliability(onCluster, clusterDb)).toEqual(indices);

        // The second replica has its own copy of everything the loader wrote through replica 1.
        await eventually(async () => ((await replicationDone(admin2, clusterDb)) ? true : undefined), {
          what: 'replica 2 caught up',
        });
        expect(await replicaReads(admin2, clusterDb)).toEqual(await replicaReads(admin1, clusterDb));
        expect((await replicaReads(admin2, clusterDb)).distinct).toBe(produced.distinctReads);
      } finally {
        await clusterLoader.kill('SIGKILL');
        await onCluster.close();
      }
    } finally {
      await single.stop();
    }
  }, 180_000);

  it('loses and doubles nothing while a replica is killed for a minute under load', async () => {
    const pipe = new Pipeline({ ...stackEnv, ...clusterEnv }, logDir);
    databases.push(pipe.db);
    try {
      await pipe.start({ loader: true });
      // About 90 s of publishing: 6 h of a 2,000-meter fleet at 240x, a tick of 2,000 reads every 3.75 s.
      const replay = pipe.replay({ scenario: 'gardu-outage', meters: 2000, speed: '240x' });
      const loaded = async () => (await replicaReads(admin1, pipe.db)).distinct;
      await eventually(async () => ((await loaded()) > 0 ? true : undefined), {
        timeoutMs: 60_000,
        what: 'the first reads in the cluster',
      });
      const atKill = await loaded();
      await replica2.stop('SIGKILL');
      const killedAt = Date.now();
      // The replica stays down for DOWN_MS while the loader keeps inserting through replica 1.
      await eventually(async () => (Date.now() - killedAt >= DOWN_MS ? true : undefined), {
        timeoutMs: DOWN_MS + 5_000,
        intervalMs: 1_000,
        what: 'the minute without replica 2',
      });
      const atRestart = await loaded();
      const whileDown = atRestart - atKill;
      await replica2.start();
      const restartedAt = Date.now();
      await eventually(async () => ((await replica2.healthy().catch(() => false)) ? true : undefined), {
        timeoutMs: 90_000,
        what: 'replica 2 answering again',
      }).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${replica2.diagnosis()}`);
      });
      // Catching up: replica 2 fetches every part that replica 1 took while it was down.
      await eventually(
        async () => ((await replicaReads(admin2, pipe.db)).distinct >= atRestart ? true : undefined),
        { timeoutMs: 60_000, what: 'replica 2 holding what replica 1 had at its restart' },
      );
      const caughtUpS = (Date.now() - restartedAt) / 1000;
      const produced = await replay;
      await eventually(async () => ((await loaded()) >= produced.distinctReads ? true : undefined), {
        timeoutMs: 60_000,
        what: `all ${produced.distinctReads} reads on replica 1`,
      });
      await eventually(
        async () =>
          (await replicationDone(admin2, pipe.db)) &&
          (await replicaReads(admin2, pipe.db)).distinct >= produced.distinctReads
            ? true
            : undefined,
        { timeoutMs: 60_000, what: 'replica 2 caught up' },
      );
      const r1 = await replicaReads(admin1, pipe.db);
      const r2 = await replicaReads(admin2, pipe.db);
      process.stdout.write(
        `replica down ${DOWN_MS / 1000} s: ${whileDown} reads loaded meanwhile, ${produced.distinctReads} in all; replica 2 had the ${atRestart} reads of replica 1 ${caughtUpS.toFixed(1)} s after its restart; rows r1 ${r1.raw}, r2 ${r2.raw}\n`,
      );
      expect(whileDown).toBeGreaterThan(0); // the load went on while the replica was down
      expect(r1.distinct).toBe(produced.distinctReads); // nothing lost
      expect(r1.raw).toBe(produced.distinctReads); // nothing doubled, not even before a merge
      expect(r2).toEqual(r1); // the replica that was down holds the same rows
      expect(await replicaBuckets(admin2, pipe.db)).toBe(await replicaBuckets(admin1, pipe.db));
    } finally {
      if (!replica2.running()) await replica2.start();
      await pipe.stop();
    }
  }, 240_000);
});

/** The local month (YYYY-MM) the scenario's reads end in. */
function periodOf(produced: Produced): string {
  return new Date(produced.rangeEnd + 7 * 3600_000).toISOString().slice(0, 7);
}
