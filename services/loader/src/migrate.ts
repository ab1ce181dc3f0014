import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { auditDatabases, ConfigError, sqlIdent, sqlString, type Logger } from '@ami/lib';
import { clusterStatements, type ClusterContext } from './migrateCluster.js';
import { READ_BUCKET_COLUMNS, READ_BUCKETS_SELECT } from './readBuckets.js';
import { unitSql } from './timezones.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  checksum: string;
  statements: string[];
}

/** Split a migration file into statements: `;` at the end of a line ends one; comment-only chunks are dropped. */
export function splitStatements(text: string): string[] {
  return text
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.split('\n').some((line) => line.trim() !== '' && !line.trim().startsWith('--')));
}

/** Two files with one number means two branches picked the same one: renumber before applying anything. */
function refuseDuplicateNumbers(migrations: readonly Migration[]): Migration[] {
  const seen = new Map<number, string>();
  for (const m of migrations) {
    const other = seen.get(m.version);
    if (other)
      throw new ConfigError(`migrations ${other} and ${m.name} share number ${m.version}; renumber one`);
    seen.set(m.version, m.name);
  }
  return [...migrations];
}

/**
 * A migration's text for database `db`: `{{db}}`, `{{audit_db}}` and `{{audit_inbox_db}}` are the
 * quoted databases (`auditDatabases`), `{{day_unit:column}}` the day unit of a DateTime column
 * (timezones.ts), and `{{read_bucket_columns}}`, `{{read_buckets_select}}` the read buckets' SQL
 * (readBuckets.ts). An unknown placeholder is refused. Checksums are of the text with placeholders.
 */
export function fillPlaceholders(sql: string, db: string): string {
  const audit = auditDatabases(db);
  const fragments: Record<string, string> = {
    read_bucket_columns: READ_BUCKET_COLUMNS,
    read_buckets_select: READ_BUCKETS_SELECT,
  };
  const names: Record<string, string> = {
    db: sqlIdent(db),
    audit_db: sqlIdent(audit.trail),
    audit_inbox_db: sqlIdent(audit.inbox),
  };
  const ofColumn: Record<string, (column: string) => string> = { day_unit: unitSql };
  // Fragments first: they hold {{db}} themselves.
  const withFragments = sql.replace(/\{\{(read_\w+)\}\}/g, (whole, name: string) => fragments[name] ?? whole);
  return withFragments.replace(/\{\{(\w+)(?::(\w+))?\}\}/g, (whole, name: string, column?: string) => {
    const value = column === undefined ? names[name] : ofColumn[name]?.(column);
    if (value === undefined) throw new ConfigError(`migration placeholder ${whole} is unknown`);
    return value;
  });
}

/** `NNN_name.sql` files of `dir`, in version order, filled for database `db` (`fillPlaceholders`). */
export function loadMigrations(db: string, dir = MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const text = readFileSync(`${dir}${file}`, 'utf8');
      return {
        version: Number(file.slice(0, 3)),
        name: file,
        checksum: createHash('sha256').update(text).digest('hex'),
        statements: splitStatements(text).map((st) => fillPlaceholders(st, db)),
      };
    });
  return refuseDuplicateNumbers(migrations);
}

/**
 * Files amended after they were released, with the checksums they had before: the views of 004 and 006
 * gained aliases for their joined subqueries so that they also run on current ClickHouse (Code 206
 * there); 002 and 008 took their read buckets' SQL from placeholders (readBuckets.ts) instead of
 * two copies, filled to the same statements. The rows are the same, so databases that applied the
 * older text stay valid.
 */
const AMENDED: Readonly<Record<string, readonly string[]>> = {
  '002_reads_buckets.sql': ['553ac259fadf83a9675e20f8d61222ad5dc03643b5ee47e790cba1b17ac562a8'],
  '004_reliability.sql': ['fe732f1059beea5b05576aa3bebfe2ecd7bdbcb56caa055110d1b0508746d989'],
  '006_read_gaps.sql': ['12b0598debf819323590ad80afba4a2a788c51731258c92075fbd1205a6c9812'],
  '008_reads_days.sql': ['f71d5557cf890f28aa2d4ef0dccf4a7fb55e936a7defd170831c27e719b210ee'],
};

function sameMigration(m: Migration, appliedChecksum: string): boolean {
  return appliedChecksum === m.checksum || (AMENDED[m.name]?.includes(appliedChecksum) ?? false);
}

/** Applied migrations by file name (the name, not the number, identifies one). */
async function appliedMigrations(ch: ClickHouseClient, db: string): Promise<Map<string, string>> {
  const rs = await ch.query({
    query: `SELECT name, any(checksum) AS checksum FROM ${sqlIdent(db)}.schema_migrations GROUP BY name`,
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ name: string; checksum: string }>();
  return new Map(rows.map((r) => [r.name, r.checksum]));
}

/** `ALTER TABLE <db>.<table> [ON CLUSTER c] ADD COLUMN <column> ...`, one column a statement. */
const ADD_COLUMN = /^ALTER TABLE\s+`?\w+`?\.`?(\w+)`?\s+(?:ON CLUSTER\s+\S+\s+)?ADD COLUMN\s+`?(\w+)`?\s/i;

/** 18.16 has no ADD COLUMN IF NOT EXISTS: a column added by an interrupted earlier run is skipped here. */
async function columnAlreadyAdded(ch: ClickHouseClient, db: string, statement: string): Promise<boolean> {
  const m = ADD_COLUMN.exec(
    statement
      .split('\n')
      .filter((line) => !line.trim().startsWith('--'))
      .join('\n')
      .trim(),
  );
  if (!m) return false;
  const rs = await ch.query({
    query: `SELECT count() AS n FROM system.columns WHERE database = ${sqlString(db)} AND table = ${sqlString(m[1]!)} AND name = ${sqlString(m[2]!)}`,
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ n: string }>())[0]?.n ?? 0) > 0;
}

export interface MigrateOptions {
  dir?: string;
  /**
   * CLICKHOUSE_CLUSTER: the tables are created replicated and distributed on this cluster
   * (migrateCluster.ts); none (the default): on the one server, exactly as the files say.
   */
  cluster?: string;
}

/** A database migrated for one server cannot be migrated for a cluster afterwards, nor the reverse. */
async function refuseOtherLayout(
  ch: ClickHouseClient,
  db: string,
  cluster: string | undefined,
): Promise<void> {
  const rs = await ch.query({
    query: `SELECT engine FROM system.tables WHERE database = ${sqlString(db)} AND name = 'schema_migrations'`,
    format: 'JSONEachRow',
  });
  const engine = (await rs.json<{ engine: string }>())[0]?.engine;
  if (engine === undefined || (engine === 'Distributed') === (cluster !== undefined)) return;
  throw new ConfigError(
    cluster
      ? `${db} was migrated for a single server; CLICKHOUSE_CLUSTER=${cluster} needs a database created on the cluster`
      : `${db} was migrated for a cluster; set CLICKHOUSE_CLUSTER to migrate it`,
  );
}

/**
 * Applies the migrations not yet recorded in `<db>.schema_migrations`.
 * Safe to rerun: applied ones are skipped, every DDL says IF NOT EXISTS (or is an ADD COLUMN
 * the runner skips when the column exists), and a
 * file edited after it was applied is refused (write a new migration instead).
 */
export async function migrate(
  ch: ClickHouseClient,
  db: string,
  logger: Logger,
  options: string | MigrateOptions = {},
): Promise<number[]> {
  const { dir = MIGRATIONS_DIR, cluster } = typeof options === 'string' ? { dir: options } : options;
  const ctx: ClusterContext | undefined = cluster ? { cluster, tables: new Map() } : undefined;
  // Every statement of every migration passes here, applied or not: ctx learns the cluster's tables.
  const forServers = (statement: string) => (ctx ? clusterStatements(statement, ctx) : [statement]);
  const q = sqlIdent(db);
  await refuseOtherLayout(ch, db, cluster);
  for (const query of [
    `CREATE DATABASE IF NOT EXISTS ${q}`,
    `CREATE TABLE IF NOT EXISTS ${q}.schema_migrations (version UInt32, name String, checksum String, applied_at DateTime) ENGINE = MergeTree() ORDER BY version`,
  ].flatMap(forServers))
    await ch.command({ query });
  const done = await appliedMigrations(ch, db);
  const applied: number[] = [];
  for (const m of loadMigrations(db, dir)) {
    const statements = m.statements.flatMap(forServers);
    const seen = done.get(m.name);
    if (seen !== undefined) {
      if (!sameMigration(m, seen))
        throw new ConfigError(
          `migration ${m.name} changed after it was applied to ${db}; add a new migration instead`,
        );
      continue;
    }
    for (const statement of statements)
      if (!(await columnAlreadyAdded(ch, db, statement))) await ch.command({ query: statement });
    await ch.command({
      query: `INSERT INTO ${q}.schema_migrations (version, name, checksum, applied_at) VALUES (${m.version}, ${sqlString(m.name)}, ${sqlString(m.checksum)}, now())`,
    });
    logger.info({ migration: m.name, db, cluster }, 'migration applied');
    applied.push(m.version);
  }
  return applied;
}
