import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { createClickHouse, loadCommonConfig, sqlIdent, sqlString } from '@ami/lib';
import { testLogger, uniqueName } from '../support/fixtures.js';
import { migrate } from '@ami/loader/migrate';
import { TABLES } from '@ami/loader/tables';
import type { ColumnType } from '@ami/loader/rowbinary';

/**
 * The loader's column specs (services/loader/src/tables.ts) restate the migrations' DDL: every
 * RowBinary insert names its columns and encodes them by type. This checks each spec against the
 * columns ClickHouse reports after migrating a fresh database, so the two cannot drift.
 */

/** The type ClickHouse reports for a spec's column type (a DateTime's zone does not change its bytes). */
function reportedType(t: ColumnType): string {
  if (typeof t === 'object')
    return `Enum8(${Object.entries(t.enum8)
      .map(([name, n]) => `'${name}' = ${n}`)
      .join(', ')})`;
  return t;
}

const withoutZone = (type: string) => type.replace(/DateTime\('[^']*'\)/g, 'DateTime');

interface SystemColumn {
  table: string;
  name: string;
  type: string;
  default_kind: string;
}

describe('loader table specs against the migrated schema', () => {
  const db = uniqueName('ami_tables');
  let ch: ClickHouseClient;
  let columns: SystemColumn[];

  beforeAll(async () => {
    ch = createClickHouse(loadCommonConfig());
    await migrate(ch, db, testLogger);
    const rs = await ch.query({
      query: `SELECT table, name, type, default_kind FROM system.columns WHERE database = ${sqlString(db)} ORDER BY table, name`,
      format: 'JSONEachRow',
    });
    columns = await rs.json<SystemColumn>();
  }, 120_000);

  afterAll(async () => {
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
    await ch.close();
  });

  for (const spec of Object.values(TABLES)) {
    it(`${spec.table}: every spec column exists with its type, and every column without a default is in the spec`, () => {
      const inTable = columns.filter((c) => c.table === spec.table);
      expect(inTable.length, `table ${spec.table} exists`).toBeGreaterThan(0);
      const reported = new Map(inTable.map((c) => [c.name, withoutZone(c.type)]));
      const specTypes = new Map(spec.columns.map((c) => [c.name, reportedType(c.type)]));
      expect(Object.fromEntries([...specTypes].map(([name]) => [name, reported.get(name)]))).toEqual(
        Object.fromEntries(specTypes),
      );
      // A column the insert leaves out must have a DEFAULT or MATERIALIZED expression.
      const required = inTable.filter((c) => c.default_kind === '').map((c) => c.name);
      expect(required.filter((name) => !specTypes.has(name))).toEqual([]);
    });
  }
});
