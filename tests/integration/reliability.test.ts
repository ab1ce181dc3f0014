import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { createClickHouse, sqlIdent, type MeterProfile, type Outage } from '@ami/lib';
import { sampleProfile } from '@ami/lib/testing/samples';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';
import { migrate, MIGRATIONS_DIR } from '@ami/loader/migrate';
import { insertRows } from '@ami/loader/insert';
import { TABLES } from '@ami/loader/tables';
import { checkReliability, reliabilityRows } from '@ami/loadtest/correctness';
import type { CustomerDarkTruth } from '@ami/simulator/groundTruth';
import { customerDarkIntervals, reliabilityIndices } from '@ami/simulator/reliabilityTruth';

const ms = (iso: string) => Date.parse(iso);

function meter(i: number, installed: string): MeterProfile {
  return sampleProfile({ meter_id: `M${i}`, idpel: String(520000000000 + i), installed_at: ms(installed) });
}

function outage(
  id: string,
  o: Partial<Outage> & {
    started: string;
    restored: string | null;
    interrupted: number;
    interruption_s?: number;
    emitted: string;
  },
): Outage {
  const restored = o.restored ? ms(o.restored) : null;
  return {
    outage_id: id,
    scope: 'GARDU',
    status: restored ? 'RESTORED' : 'OPEN',
    region: 'BALI',
    ulp: 'ULP-A',
    feeder_id: 'F1',
    gardu_id: 'G1',
    meter_ids: [],
    parent_outage_id: null,
    started_at: ms(o.started),
    confirmed_at: ms(o.started),
    restored_at: restored,
    customers_affected: o.interrupted,
    customers_total: 12,
    last_gasps: o.interrupted,
    tusbung_excluded: 0,
    customers_interrupted: o.interrupted,
    // Final on RESTORED: every customer of the record dark from start to restore.
    customer_interruption_s:
      o.interruption_s ?? (restored ? (o.interrupted * (restored - ms(o.started))) / 1000 : 0),
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

/**
 * The records a detector following the contract publishes for the customers' dark intervals
 * in TRUTH (docs/analysts.md, worked example). Each customer and customer-second once.
 */
const OUTAGES: Outage[] = [
  // O1: gardu G1, first records open (0 customer-seconds before RESTORED), restored after 30 min:
  // 4 customers (M0-M3), 4 x 1800 s.
  outage('O1', {
    started: '2025-03-05T02:00:00Z',
    restored: null,
    interrupted: 3,
    emitted: '2025-03-05T02:05:00Z',
  }),
  outage('O1', {
    started: '2025-03-05T02:00:00Z',
    restored: '2025-03-05T02:30:00Z',
    interrupted: 4,
    emitted: '2025-03-05T02:31:00Z',
  }),
  // O1m: M1 stays dark 10 min after its gardu's restore: nested under O1, it counts no customer
  // (O1 did) and only the 600 s after O1's restore.
  outage('O1m', {
    scope: 'METER',
    meter_ids: ['M1'],
    parent_outage_id: 'O1',
    started: '2025-03-05T02:00:00Z',
    restored: '2025-03-05T02:40:00Z',
    interrupted: 0,
    interruption_s: 600,
    emitted: '2025-03-05T02:41:00Z',
  }),
  // O2: 3 minutes, one meter (M1): a root record restored within 300 s is momentary.
  outage('O2', {
    scope: 'METER',
    meter_ids: ['M1'],
    started: '2025-03-10T00:00:00Z',
    restored: '2025-03-10T00:03:00Z',
    interrupted: 1,
    emitted: '2025-03-10T00:04:00Z',
  }),
  // O4: feeder F1 (root) for 60 min around gardu G1 (O3: M4-M7) and G2 (O3b: M8, M9). The feeder
  // counts none of them (its children do): 6 customers, 6 x 3600 s, one sustained root event.
  outage('O4', {
    scope: 'FEEDER',
    gardu_id: null,
    started: '2025-03-15T10:00:00Z',
    restored: '2025-03-15T11:00:00Z',
    interrupted: 0,
    emitted: '2025-03-15T11:01:00Z',
  }),
  outage('O3', {
    parent_outage_id: 'O4',
    started: '2025-03-15T10:00:00Z',
    restored: '2025-03-15T11:00:00Z',
    interrupted: 4,
    emitted: '2025-03-15T11:01:00Z',
  }),
  outage('O3b', {
    gardu_id: 'G2',
    parent_outage_id: 'O4',
    started: '2025-03-15T10:00:00Z',
    restored: '2025-03-15T11:00:00Z',
    interrupted: 2,
    emitted: '2025-03-15T11:01:00Z',
  }),
  // O5 still open: no duration yet, not counted.
  outage('O5', {
    started: '2025-03-25T00:00:00Z',
    restored: null,
    interrupted: 5,
    emitted: '2025-03-25T00:10:00Z',
  }),
  // O6 starts 2025-02-28T16:30Z = 1 March 00:30 WITA: a March interruption, 60 min, M0 and M1.
  outage('O6', {
    started: '2025-02-28T16:30:00Z',
    restored: '2025-02-28T17:30:00Z',
    interrupted: 2,
    emitted: '2025-02-28T17:31:00Z',
  }),
];

const dark = (start: string, end: string, ...meters: number[]): CustomerDarkTruth => ({
  kind: 'customer_dark',
  start: ms(start),
  end: ms(end),
  meter_ids: meters.map((i) => `M${i}`),
});

/** What really happened, per customer (the simulator's ground truth lines). */
const TRUTH: CustomerDarkTruth[] = [
  dark('2025-03-05T02:00:00Z', '2025-03-05T02:30:00Z', 0, 2, 3),
  dark('2025-03-05T02:00:00Z', '2025-03-05T02:40:00Z', 1),
  dark('2025-03-10T00:00:00Z', '2025-03-10T00:03:00Z', 1),
  dark('2025-03-15T10:00:00Z', '2025-03-15T11:00:00Z', 4, 5, 6, 7, 8, 9),
  dark('2025-02-28T16:30:00Z', '2025-02-28T17:30:00Z', 0, 1),
  dark('2025-03-20T00:00:00Z', '2025-03-20T00:01:00Z', 2, 3, 4),
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
    // One momentary reported by the detector apart from outages: 60 s, 3 customers (M2-M4), redelivered.
    const momentary = outage('MO1', {
      started: '2025-03-20T00:00:00Z',
      restored: '2025-03-20T00:01:00Z',
      interrupted: 3,
      emitted: '2025-03-20T00:01:00Z',
    });
    const momentaryRow = TABLES.momentary.toRow(momentary, { key: 'MO1', offset: 0 })!;
    await insertRows(ch, db, TABLES.momentary, [momentaryRow, momentaryRow]);
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
    // CI = 4 (O1) + 0 (O1m) + 0 (O4) + 4 (O3) + 2 (O3b) + 2 (O6) = 12;
    // CMI = 4x30 + 10 + 6x60 + 2x60 = 610 minutes; CMO = 1 (O2) + 3 (MO1) = 4; N_T = 12.
    // Root events: sustained O1, O4, O6; momentary O2, MO1.
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
    expect(r.customer_minutes).toBeCloseTo(610, 9);
    expect(r.saifi).toBeCloseTo(1, 9); // 12 / 12
    expect(r.saidi_minutes).toBeCloseTo(610 / 12, 9);
    expect(r.caidi_minutes).toBeCloseTo(610 / 12, 9);
    expect(r.maifi).toBeCloseTo(4 / 12, 9);
  });

  it("equals the indices of the customers' dark intervals (the judge's truth)", async () => {
    const { byMeter } = customerDarkIntervals(TRUTH);
    const served = METERS.filter((m) => m.installed_at < ms('2025-03-31T16:00:00Z')).length;
    const truth = reliabilityIndices({
      byMeter,
      placeOf: () => ({ region: 'BALI', ulp: 'ULP-A', utcOffsetH: 8 }),
      servedOf: () => served,
    });
    const check = checkReliability({ cells: truth, stillDark: 0 }, await reliabilityRows(ch, db));
    expect(check.cells.map((c) => c.problems)).toEqual([[]]);
    expect(check.cells[0]!.view!.customer_minutes).toBeCloseTo(truth[0]!.customer_minutes, 9);
    expect(check.ok).toBe(true);
  });

  it('shows the latest state of each outage', async () => {
    const rs = await ch.query({
      query: `SELECT outage_id, status, customers_affected, customers_interrupted, customer_interruption_s FROM ${sqlIdent(db)}.outages_latest WHERE outage_id = 'O1'`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<Record<string, unknown>>();
    // Int64 is a string in current ClickHouse's JSON, a number in 18.16's.
    expect(rows.map((r) => ({ ...r, customer_interruption_s: Number(r.customer_interruption_s) }))).toEqual([
      {
        outage_id: 'O1',
        status: 'RESTORED',
        customers_affected: 4,
        customers_interrupted: 4,
        customer_interruption_s: 7200,
      },
    ]);
  });
});

describe('migration 009 on a database that had outages before it', () => {
  const cfg = testConfig();
  const db = uniqueName('ami_m009');
  let ch: ClickHouseClient;
  const dir = `${mkdtempSync(join(tmpdir(), 'migrations-'))}/`;

  beforeAll(() => {
    ch = createClickHouse(cfg);
    for (const f of readdirSync(MIGRATIONS_DIR).filter((f) => f < '009'))
      copyFileSync(join(MIGRATIONS_DIR, f), join(dir, f));
  });

  afterAll(async () => {
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
    await ch.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds the columns (old rows read 0), and a rerun after a half-applied 009 skips the added ones', async () => {
    expect(await migrate(ch, db, testLogger, dir)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await ch.insert({
      table: `${sqlIdent(db)}.outages`,
      format: 'JSONEachRow',
      values: [
        {
          outage_id: 'OLD',
          scope: 'GARDU',
          status: 'RESTORED',
          region: 'BALI',
          ulp: 'ULP-A',
          feeder_id: 'F1',
          gardu_id: 'G1',
          meter_ids: [],
          parent_outage_id: null,
          started_at: '2025-03-05 02:00:00',
          confirmed_at: '2025-03-05 02:05:00',
          restored_at: '2025-03-05 02:30:00',
          customers_affected: 4,
          customers_total: 4,
          last_gasps: 4,
          tusbung_excluded: 0,
          emitted_at: '2025-03-05 02:31:00',
          version: 1,
        },
      ],
    });
    expect(await migrate(ch, db, testLogger)).toContain(9); // and any later ones
    const old = await ch.query({
      query: `SELECT customers_interrupted, customer_interruption_s FROM ${sqlIdent(db)}.outages_latest`,
      format: 'JSONEachRow',
    });
    expect(
      (await old.json<Record<string, unknown>>()).map((r) => [
        r.customers_interrupted,
        Number(r.customer_interruption_s),
      ]),
    ).toEqual([[0, 0]]);
    // As if the runner died after 009's ALTERs: not recorded, columns there.
    await ch.command({
      query: `ALTER TABLE ${sqlIdent(db)}.schema_migrations DELETE WHERE version = 9`,
    });
    await eventually(
      async () => {
        const rs = await ch.query({
          query: `SELECT count() AS n FROM ${sqlIdent(db)}.schema_migrations WHERE version = 9`,
          format: 'JSONEachRow',
        });
        return Number((await rs.json<{ n: string }>())[0]!.n) === 0 ? true : undefined;
      },
      { what: 'migration 9 forgotten' },
    );
    expect(await migrate(ch, db, testLogger)).toEqual([9]);
    const rows = await ch.query({
      query: `SELECT sustained_interruptions, customers_interrupted, customer_minutes FROM ${sqlIdent(db)}.reliability_monthly`,
      format: 'JSONEachRow',
    });
    // The old record is still a root event, but carries no customer (loaded before the fields existed).
    expect(await rows.json()).toEqual([
      { sustained_interruptions: 1, customers_interrupted: 0, customer_minutes: 0 },
    ]);
  });
});
