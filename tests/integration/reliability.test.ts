import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { createClickHouse, sqlIdent, type MeterProfile, type Outage } from '@ami/lib';
import { testConfig, testLogger, uniqueName } from '../support/fixtures.js';
import { migrate } from '../../services/loader/src/migrate.js';
import { insertRows } from '../../services/loader/src/insert.js';
import { TABLES } from '../../services/loader/src/tables.js';

const ms = (iso: string) => Date.parse(iso);

function meter(i: number, installed: string): MeterProfile {
  return {
    meter_id: `M${i}`,
    idpel: String(520000000000 + i),
    kdpm: 'L',
    phases: 1,
    tariff: 'R-1',
    daya_va: 1300,
    gardu_id: 'G1',
    feeder_id: 'F1',
    ulp: 'ULP-A',
    region: 'BALI',
    timezone: 'Asia/Makassar',
    installed_at: ms(installed),
  };
}

function outage(
  id: string,
  o: Partial<Outage> & { started: string; restored: string | null; affected: number; emitted: string },
): Outage {
  return {
    outage_id: id,
    scope: 'GARDU',
    status: o.restored ? 'RESTORED' : 'OPEN',
    region: 'BALI',
    ulp: 'ULP-A',
    feeder_id: 'F1',
    gardu_id: 'G1',
    meter_ids: [],
    parent_outage_id: null,
    started_at: ms(o.started),
    confirmed_at: ms(o.started),
    restored_at: o.restored ? ms(o.restored) : null,
    customers_affected: o.affected,
    customers_total: 12,
    last_gasps: o.affected,
    tusbung_excluded: 0,
    emitted_at: ms(o.emitted),
    ...o,
  } as Outage;
}

// 10 meters from 2024, 2 installed during March (served), 1 in April (not served in March): N_T = 12.
const METERS = [
  ...Array.from({ length: 10 }, (_, i) => meter(i, '2024-06-01T00:00:00Z')),
  meter(10, '2025-03-20T00:00:00Z'),
  meter(11, '2025-03-31T15:00:00Z'), // 23:00 WITA on 31 March
  meter(12, '2025-04-05T00:00:00Z'),
];

const OUTAGES: Outage[] = [
  // O1: first record open with 3 customers, latest restored after 30 min with 4: sustained, CI 4, CMI 120.
  outage('O1', {
    started: '2025-03-05T02:00:00Z',
    restored: null,
    affected: 3,
    emitted: '2025-03-05T02:05:00Z',
  }),
  outage('O1', {
    started: '2025-03-05T02:00:00Z',
    restored: '2025-03-05T02:30:00Z',
    affected: 4,
    emitted: '2025-03-05T02:31:00Z',
  }),
  // O2: 3 minutes, one meter: momentary.
  outage('O2', {
    scope: 'METER',
    gardu_id: 'G1',
    meter_ids: ['M1'],
    started: '2025-03-10T00:00:00Z',
    restored: '2025-03-10T00:03:00Z',
    affected: 1,
    emitted: '2025-03-10T00:04:00Z',
  }),
  // O4 feeder (root) 60 min, 6 customers; O3 is a gardu inside it: counted in O4 only.
  outage('O4', {
    scope: 'FEEDER',
    gardu_id: null,
    started: '2025-03-15T10:00:00Z',
    restored: '2025-03-15T11:00:00Z',
    affected: 6,
    emitted: '2025-03-15T11:01:00Z',
  }),
  outage('O3', {
    parent_outage_id: 'O4',
    started: '2025-03-15T10:00:00Z',
    restored: '2025-03-15T11:00:00Z',
    affected: 4,
    emitted: '2025-03-15T11:01:00Z',
  }),
  // O5 still open: no duration yet, not counted.
  outage('O5', {
    started: '2025-03-25T00:00:00Z',
    restored: null,
    affected: 5,
    emitted: '2025-03-25T00:10:00Z',
  }),
  // O6 starts 2025-02-28T16:30Z = 1 March 00:30 WITA: a March interruption, 60 min, 2 customers.
  outage('O6', {
    started: '2025-02-28T16:30:00Z',
    restored: '2025-02-28T17:30:00Z',
    affected: 2,
    emitted: '2025-02-28T17:31:00Z',
  }),
];

describe('reliability_monthly', () => {
  const cfg = testConfig();
  const db = uniqueName('ami_rel');
  let ch: ClickHouseClient;

  beforeAll(async () => {
    ch = createClickHouse(cfg);
    await migrate(ch, db, testLogger);
    await insertRows(
      ch,
      db,
      TABLES.meters,
      METERS.map((m, i) => TABLES.meters.toRow(m, { key: m.meter_id, offset: i })!),
    );
    // Records in emission order, as Kafka offsets would number them (the loader orders by offset).
    const rows = () =>
      OUTAGES.map((o, i) => TABLES.outages.toRow({ ...o }, { key: o.outage_id, offset: i })!);
    await insertRows(ch, db, TABLES.outages, rows());
    await insertRows(ch, db, TABLES.outages, rows()); // redelivered
    // One momentary reported by the detector apart from outages: 60 s, 3 customers.
    await ch.insert({
      table: `${sqlIdent(db)}.momentary_interruptions`,
      format: 'JSONEachRow',
      values: [1, 2].map(() => ({
        interruption_id: 'MO1',
        region: 'BALI',
        ulp: 'ULP-A',
        feeder_id: 'F1',
        gardu_id: 'G1',
        started_at: '2025-03-20 00:00:00',
        duration_s: 60,
        customers_affected: 3,
        emitted_at: '2025-03-20 00:01:00',
        version: 1,
      })),
    });
  });

  afterAll(async () => {
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
    await ch.close();
  });

  it('computes IEEE 1366 indices by hand', async () => {
    const rs = await ch.query({
      query: `SELECT * FROM ${sqlIdent(db)}.reliability_monthly ORDER BY month`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<Record<string, unknown>>();
    expect(rows).toHaveLength(1);
    const r = rows[0]!;
    // CI = 4 + 6 + 2 = 12, CMI = 4x30 + 6x60 + 2x60 = 600, CMO = 1 + 3 = 4, N_T = 12.
    expect(r).toMatchObject({
      region: 'BALI',
      ulp: 'ULP-A',
      month: '2025-03-01',
      customers_served: 12,
      sustained_interruptions: 3,
      momentary_interruptions: 2,
      customers_interrupted: 12,
      customer_momentary: 4,
    });
    expect(r.customer_minutes).toBeCloseTo(600, 9);
    expect(r.saifi).toBeCloseTo(1, 9); // 12 / 12
    expect(r.saidi_minutes).toBeCloseTo(50, 9); // 600 / 12
    expect(r.caidi_minutes).toBeCloseTo(50, 9); // 600 / 12
    expect(r.maifi).toBeCloseTo(4 / 12, 9);
  });

  it('shows the latest state of each outage', async () => {
    const rs = await ch.query({
      query: `SELECT outage_id, status, customers_affected FROM ${sqlIdent(db)}.outages_latest WHERE outage_id = 'O1'`,
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([{ outage_id: 'O1', status: 'RESTORED', customers_affected: 4 }]);
  });
});
