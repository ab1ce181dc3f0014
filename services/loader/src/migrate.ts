import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { ConfigError, sqlIdent, sqlString, type Logger } from '@ami/lib';

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

/** `NNN_name.sql` files of `dir`, in version order, with `{{db}}` replaced by the quoted database. */
export function loadMigrations(db: string, dir = MIGRATIONS_DIR): Migration[] {
  const quoted = sqlIdent(db);
  const migrations = readdirSync(dir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const text = readFileSync(`${dir}${file}`, 'utf8');
      return {
        version: Number(file.slice(0, 3)),
        name: file,
        checksum: createHash('sha256').update(text).digest('hex'),
        statements: splitStatements(text).map((s) => s.replaceAll('{{db}}', quoted)),
      };
    });
  return refuseDuplicateNumbers(migrations);
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

/**
 * Applies the migrations not yet recorded in `<db>.schema_migrations`.
 * Safe to rerun: applied ones are skipped, every DDL says IF NOT EXISTS, and a
 * file edited after it was applied is refused (write a new migration instead).
 */
export async function migrate(
  ch: ClickHouseClient,
  db: string,
  logger: Logger,
  dir = MIGRATIONS_DIR,
): Promise<number[]> {
  const q = sqlIdent(db);
  await ch.command({ query: `CREATE DATABASE IF NOT EXISTS ${q}` });
  await ch.command({
    query: `CREATE TABLE IF NOT EXISTS ${q}.schema_migrations (version UInt32, name String, checksum String, applied_at DateTime) ENGINE = MergeTree() ORDER BY version`,
  });
  const done = await appliedMigrations(ch, db);
  const applied: number[] = [];
  for (const m of loadMigrations(db, dir)) {
    const seen = done.get(m.name);
    if (seen !== undefined) {
      if (seen !== m.checksum)
        throw new ConfigError(
          `migration ${m.name} changed after it was applied to ${db}; add a new migration instead`,
        );
      continue;
    }
    for (const statement of m.statements) await ch.command({ query: statement });
    await ch.command({
      query: `INSERT INTO ${q}.schema_migrations (version, name, checksum, applied_at) VALUES (${m.version}, ${sqlString(m.name)}, ${sqlString(m.checksum)}, now())`,
    });
    logger.info({ migration: m.name, db }, 'migration applied');
    applied.push(m.version);
  }
  return applied;
}
