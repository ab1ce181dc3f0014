import { describe, expect, it } from 'vitest';
import { ConfigError } from '@ami/lib';
import { loadMigrations } from '../src/migrate.js';
import { clusterStatements, type ClusterContext } from '../src/migrateCluster.js';

const context = (): ClusterContext => ({ cluster: 'ami', tables: new Map() });

const READS = `-- Reads: a comment before the statement.
CREATE TABLE IF NOT EXISTS \`db\`.reads (
    meter_id String,
    read_at DateTime('UTC'),
    kind Enum8('INTERVAL' = 0, 'ON_DEMAND' = 1)
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(read_at)
ORDER BY (meter_id, read_at)`;

describe('the cluster form of the migrations', () => {
  it('makes a MergeTree table a replicated local table and a Distributed table sharded by its first key column', () => {
    const [localTable, distributed] = clusterStatements(READS, context());
    expect(localTable).toBe(`CREATE TABLE IF NOT EXISTS \`db\`.reads_local ON CLUSTER ami (
    meter_id String,
    read_at DateTime('UTC'),
    kind Enum8('INTERVAL' = 0, 'ON_DEMAND' = 1)
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/reads_local', '{replica}')
PARTITION BY toYYYYMM(read_at)
ORDER BY (meter_id, read_at)`);
    expect(distributed).toBe(
      "CREATE TABLE IF NOT EXISTS `db`.reads ON CLUSTER ami AS `db`.reads_local ENGINE = Distributed('ami', 'db', 'reads_local', cityHash64(meter_id))",
    );
  });

  it('keeps the engine arguments after the replication path', () => {
    const [localTable, distributed] = clusterStatements(
      'CREATE TABLE IF NOT EXISTS `db`.tariffs (version String, loaded_at DateTime) ENGINE = ReplacingMergeTree(loaded_at)\nORDER BY (version)',
      context(),
    );
    expect(localTable).toContain(
      "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/tariffs_local', '{replica}', loaded_at)",
    );
    expect(distributed).toContain('cityHash64(version)');
  });

  it('runs a materialized view over the local tables on every replica', () => {
    const ctx = context();
    clusterStatements(READS, ctx);
    clusterStatements(
      'CREATE TABLE IF NOT EXISTS `db`.buckets (meter_id String) ENGINE = AggregatingMergeTree() ORDER BY meter_id',
      ctx,
    );
    expect(
      clusterStatements(
        'CREATE MATERIALIZED VIEW IF NOT EXISTS `db`.buckets_mv TO `db`.buckets AS\nSELECT meter_id FROM `db`.reads GROUP BY meter_id',
        ctx,
      ),
    ).toEqual([
      'CREATE MATERIALIZED VIEW IF NOT EXISTS `db`.buckets_mv ON CLUSTER ami TO `db`.buckets_local AS\nSELECT meter_id FROM `db`.reads_local GROUP BY meter_id',
    ]);
  });

  it('lets views read the Distributed tables, on every server', () => {
    const ctx = context();
    clusterStatements(READS, ctx);
    expect(
      clusterStatements('CREATE VIEW IF NOT EXISTS `db`.v AS\nSELECT meter_id FROM `db`.reads FINAL', ctx),
    ).toEqual(['CREATE VIEW IF NOT EXISTS `db`.v ON CLUSTER ami AS\nSELECT meter_id FROM `db`.reads FINAL']);
  });

  it('adds a column to the replicated table and re-creates the Distributed table over it', () => {
    const ctx = context();
    clusterStatements(READS, ctx);
    expect(
      clusterStatements('ALTER TABLE `db`.reads ADD COLUMN x Int32 DEFAULT 0 AFTER read_at', ctx),
    ).toEqual([
      'ALTER TABLE `db`.reads_local ON CLUSTER ami ADD COLUMN x Int32 DEFAULT 0 AFTER read_at',
      'DROP TABLE IF EXISTS `db`.reads ON CLUSTER ami',
      "CREATE TABLE IF NOT EXISTS `db`.reads ON CLUSTER ami AS `db`.reads_local ENGINE = Distributed('ami', 'db', 'reads_local', cityHash64(meter_id))",
    ]);
  });

  it('drops both tables of a pair, and a view alone', () => {
    const ctx = context();
    clusterStatements(READS, ctx);
    expect(clusterStatements('DROP TABLE IF EXISTS `db`.reads', ctx)).toEqual([
      'DROP TABLE IF EXISTS `db`.reads ON CLUSTER ami',
      'DROP TABLE IF EXISTS `db`.reads_local ON CLUSTER ami',
    ]);
    expect(clusterStatements('DROP TABLE IF EXISTS `db`.v', ctx)).toEqual([
      'DROP TABLE IF EXISTS `db`.v ON CLUSTER ami',
    ]);
  });

  it('runs an INSERT once, through the Distributed tables', () => {
    const insert = 'INSERT INTO `db`.reads SELECT * FROM `db`.old';
    expect(clusterStatements(insert, context())).toEqual([insert]);
  });

  it('refuses a statement it has no cluster form for, instead of running it on one server', () => {
    expect(() => clusterStatements('RENAME TABLE `db`.a TO `db`.b', context())).toThrow(ConfigError);
    expect(() =>
      clusterStatements(
        'CREATE MATERIALIZED VIEW IF NOT EXISTS `db`.mv TO `db`.nowhere AS SELECT 1',
        context(),
      ),
    ).toThrow(/no MergeTree table/);
  });

  it('has a cluster form for every statement of every migration', () => {
    const ctx = context();
    const statements = loadMigrations('ami').flatMap((m) =>
      m.statements.flatMap((s) => clusterStatements(s, ctx)),
    );
    expect(statements.filter((s) => /ENGINE = (Replacing|Aggregating)?MergeTree/.test(s))).toEqual([]);
    // The audit inbox writes into the trail's local table (its user may not use the trail's database).
    expect(statements.find((s) => s.includes('Buffer('))).toContain(
      'ENGINE = Buffer(`ami_audit`, command_audit_local, 1, 0, 0, 0, 0, 0, 0)',
    );
  });
});
