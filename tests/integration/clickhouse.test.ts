import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { createClickHouse, loadCommonConfig, sqlIdent } from '@ami/lib';
import { uniqueName } from '../support/fixtures.js';

describe('ClickHouse round trip with @clickhouse/client', () => {
  let ch: ClickHouseClient;
  const db = uniqueName('it_db');

  beforeAll(async () => {
    ch = createClickHouse(loadCommonConfig());
    await ch.command({ query: `CREATE DATABASE ${sqlIdent(db)}` });
  });
  afterAll(async () => {
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
    await ch.close();
  });

  it('inserts JSONEachRow rows and reads them back, time zones included', async () => {
    const table = `${sqlIdent(db)}.reads`;
    await ch.command({
      query: `CREATE TABLE ${table} (meter_id String, read_at DateTime('UTC'), energy_import_wh UInt64)
              ENGINE = MergeTree() PARTITION BY toYYYYMM(read_at) ORDER BY (meter_id, read_at)`,
    });
    const rows = [
      { meter_id: 'M1', read_at: '2025-03-31 16:00:00', energy_import_wh: 9_007_199_254_740 },
      { meter_id: 'M2', read_at: '2025-03-31 17:00:00', energy_import_wh: 42 },
    ];
    await ch.insert({ table, values: rows, format: 'JSONEachRow' });
    const result = await ch.query({
      query: `SELECT meter_id, energy_import_wh,
                toStartOfMonth(toTimeZone(read_at, 'Asia/Makassar')) AS wita_month,
                toStartOfMonth(toTimeZone(read_at, 'Asia/Jakarta')) AS wib_month
              FROM ${table} ORDER BY meter_id`,
      format: 'JSONEachRow',
    });
    const got = await result.json<{
      meter_id: string;
      energy_import_wh: number;
      wita_month: string;
      wib_month: string;
    }>();
    expect(got).toEqual([
      // 16:00 UTC on 31 March is midnight WITA on 1 April but still March in WIB.
      {
        meter_id: 'M1',
        energy_import_wh: 9_007_199_254_740,
        wita_month: '2025-04-01',
        wib_month: '2025-03-01',
      },
      { meter_id: 'M2', energy_import_wh: 42, wita_month: '2025-04-01', wib_month: '2025-04-01' },
    ]);
  });
});
