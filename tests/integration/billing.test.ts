import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { createClickHouse, sqlIdent } from '@ami/lib';
import { EXPECTED, METERS, READS, meter, ms, read } from '@ami/loader/testing/fixtures';
import { eventually, testConfig, testLogger, uniqueName, insertFixtureMeters } from '../support/fixtures.js';
import { migrate } from '@ami/loader/migrate';
import { loadTariffs, readTariffs } from '@ami/loader/tariffs';
import { insertRows } from '@ami/loader/insert';
import { TABLES } from '@ami/loader/tables';
import {
  billingRows,
  computeUsage,
  customerUsage,
  refreshBilling,
  type UsageRow,
} from '@ami/loader/billingStore';
import { charge, findTariff, periodUsage, type TariffRow } from '@ami/loader/billing';
import type { BillRow } from '@ami/loader/billingScan';
import { localMidnight } from '@ami/loader/timezones';

describe('billing_usage for March 2025', () => {
  const cfg = testConfig();
  const db = uniqueName('ami_billing');
  let ch: ClickHouseClient;
  let tariffs: TariffRow[];

  beforeAll(async () => {
    ch = createClickHouse(cfg);
    await migrate(ch, db, testLogger);
    await loadTariffs(ch, db, testLogger);
    tariffs = await readTariffs(ch, db);
    await insertFixtureMeters(ch, db);
    // Every read twice in one batch and the whole batch again: duplicates and redelivery.
    const rows = () =>
      READS.flatMap((r) => [
        TABLES.reads.toRow({ ...r }, { key: null, offset: 0 })!,
        TABLES.reads.toRow({ ...r }, { key: null, offset: 0 })!,
      ]);
    await insertRows(ch, db, TABLES.reads, rows());
    await insertRows(ch, db, TABLES.reads, rows());
    // M5 sent a last gasp at the start of its dark spell.
    await insertRows(ch, db, TABLES.events, [
      TABLES.events.toRow(
        {
          event_id: 'E5',
          meter_id: 'M5',
          gardu_id: 'G-M5',
          occurred_at: ms('2025-02-28T10:30:00Z'),
          type: 'LAST_GASP',
          relay: 'CLOSED',
          cause: 'NONE',
          power_limit_va: null,
        },
        { key: null, offset: 0 },
      )!,
    ]);
    await refreshBilling(ch, db, '2025-03');
    await refreshBilling(ch, db, '2025-03'); // a second refresh replaces, never adds
  });

  afterAll(async () => {
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
    await ch.close();
  });

  it('matches the hand-computed bills', async () => {
    const rows = await billingRows(ch, db, '2025-03');
    expect(rows.map((r) => r.meter_id)).toEqual(Object.keys(EXPECTED));
    for (const r of rows) {
      const e = EXPECTED[r.meter_id]!;
      expect(
        {
          start: Number(r.energy_start_wh),
          end: Number(r.energy_end_wh),
          kwh: String(r.kwh),
          estimated: r.estimated,
          minimum: r.minimum_applied,
          amountSen: Number(r.amount_sen),
          amountRp: String(r.amount_rp),
          resets: r.register_resets,
        },
        r.meter_id,
      ).toEqual(e);
      expect(r.register_reset, r.meter_id).toBe(e.resets > 0 ? 1 : 0);
      expect(r.billing_period).toBe('2025-03-01');
      expect(r.period_complete).toBe(1);
    }
  });

  it('shows the register reset flag through the billing view', async () => {
    const rs = await ch.query({
      query: `SELECT meter_id, register_reset, register_resets FROM ${sqlIdent(db)}.billing WHERE register_reset = 1 ORDER BY meter_id`,
      format: 'JSONEachRow',
    });
    expect(await rs.json()).toEqual([
      { meter_id: 'M7', register_reset: 1, register_resets: 1 },
      { meter_id: 'M8', register_reset: 1, register_resets: 1 },
    ]);
  });

  it('bills WITA meters at WITA midnight and WIB meters at WIB midnight', async () => {
    const rows = await billingRows(ch, db, '2025-03');
    const start = (id: string) => rows.find((r) => r.meter_id === id)!.period_start;
    expect(start('M1')).toBe('2025-02-28 16:00:00');
    expect(start('M3')).toBe('2025-02-28 17:00:00');
  });

  it('agrees with the pure billing module', async () => {
    const rows = await billingRows(ch, db, '2025-03');
    for (const m of METERS) {
      const reads = READS.filter((r) => r.meter_id === m.meter_id).map((r) => ({
        t: r.read_at / 1000,
        wh: r.energy_import_wh,
      }));
      const u = periodUsage(
        reads,
        localMidnight('2025-03-01', m.timezone),
        localMidnight('2025-04-01', m.timezone),
        m.installed_at / 1000,
        Date.now() / 1000,
      )!;
      const c = charge(u.wh, m.daya_va, findTariff(tariffs, m.tariff, m.daya_va, '2025-03-01'), true);
      const r = rows.find((x) => x.meter_id === m.meter_id)!;
      expect(
        {
          start: Number(r.energy_start_wh),
          end: Number(r.energy_end_wh),
          wh: Math.round(Number(r.kwh) * 1000),
          resets: r.register_resets,
          est: r.estimated,
          amount: Number(r.amount_sen),
          min: r.minimum_applied === 1,
        },
        m.meter_id,
      ).toEqual({
        start: u.startWh,
        end: u.endWh,
        wh: u.wh,
        resets: u.resets,
        est: u.estimated ? 1 : 0,
        amount: c.amountSen,
        min: c.minimumApplied,
      });
    }
  });

  it('answers a month in progress up to the latest read, without the minimum', async () => {
    const [row] = await customerUsage(ch, db, '511000000001', '2025-03-01', '2025-03-31', {
      asOfMs: ms('2025-03-20T00:00:00Z'),
    });
    expect(row).toMatchObject<Partial<UsageRow>>({
      energy_end_wh: 1_050_000,
      period_complete: 0,
      estimated: 0,
      minimum_applied: 0,
    });
    expect(String(row!.kwh)).toBe('49.5');
  });

  it('answers any period for one customer (ami usage)', async () => {
    const rows = await customerUsage(ch, db, '511000000003', '2025-03-01', '2025-03-31');
    expect(rows).toHaveLength(1);
    expect(String(rows[0]!.amount_rp)).toBe('48672');
    // Half a month is not a billing month: no minimum charge.
    const half = await customerUsage(ch, db, '511000000002', '2025-03-01', '2025-03-15');
    expect(half[0]!.minimum_applied).toBe(0);
  });

  it('keeps the reason of every gap in the reads', async () => {
    const rs = await ch.query({
      query: `SELECT meter_id, toString(gap_start) AS gap_start, missing_reads, reason FROM ${sqlIdent(db)}.read_gaps WHERE meter_id IN ('M2', 'M5', 'M6') ORDER BY meter_id, gap_start`,
      format: 'JSONEachRow',
    });
    const gaps = await rs.json<{
      meter_id: string;
      gap_start: string;
      missing_reads: number;
      reason: string;
    }>();
    expect(gaps).toEqual(
      expect.arrayContaining([
        { meter_id: 'M2', gap_start: '2025-02-28 16:00:00', missing_reads: 2, reason: 'DATA_GAP' },
        { meter_id: 'M5', gap_start: '2025-02-28 10:00:00', missing_reads: 42, reason: 'OUTAGE' },
        { meter_id: 'M6', gap_start: '2025-03-31 15:00:00', missing_reads: 1, reason: 'DISCONNECTED' },
      ]),
    );
  });
});

describe('a month refresh over day summaries (reads_days)', () => {
  const cfg = testConfig();
  const db = uniqueName('ami_billing_days');
  let ch: ClickHouseClient;
  const march = (asOfMs = Date.now()) => ({
    db,
    from: '2025-03-01',
    to: '2025-04-01',
    asOfMs,
    minimumEligible: true,
    // No margin: a read arriving after the summary's second must be seen by the rule alone.
    settleS: 0,
  });
  const serverNow = async () =>
    Number(
      (
        await (
          await ch.query({ query: 'SELECT toUInt32(now()) AS n', format: 'JSONEachRow' })
        ).json<{ n: number }>()
      )[0]!.n,
    );
  const insertReads = async (reads: [string, number][], meterId = 'L1') => {
    await insertRows(
      ch,
      db,
      TABLES.reads,
      reads.map(([iso, wh]) => TABLES.reads.toRow(read(meterId, iso, wh), { key: null, offset: 0 })!),
    );
    // The next summary must start in a later second than these reads' arrival.
    const arrived = await serverNow();
    await eventually(async () => ((await serverNow()) > arrived ? true : undefined), {
      timeoutMs: 5000,
      what: "the server clock to pass the reads' arrival second",
    });
  };

  beforeAll(async () => {
    ch = createClickHouse(cfg);
    await migrate(ch, db, testLogger);
    await loadTariffs(ch, db, testLogger);
    const m = meter('L1', '511000000091', 'R-1', 1300, 'Asia/Jakarta');
    await insertRows(ch, db, TABLES.meters, [TABLES.meters.toRow(m, { key: m.meter_id, offset: 0 })!]);
  });

  afterAll(async () => {
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
    await ch.close();
  });

  it('finds boundary neighbours days away: a gap across the start, a meter dark all month', async () => {
    const profiles = [
      meter('L2', '511000000092', 'R-1', 1300, 'Asia/Jakarta'),
      meter('L3', '511000000093', 'R-1', 1300, 'Asia/Makassar'),
    ];
    await insertRows(
      ch,
      db,
      TABLES.meters,
      profiles.map((m, i) => TABLES.meters.toRow(m, { key: m.meter_id, offset: 10 + i })!),
    );
    const reads: Record<string, [string, number][]> = {
      L2: [
        ['2025-02-25T05:00:00Z', 2_000_000],
        ['2025-03-03T05:00:00Z', 2_006_000],
        ['2025-03-31T17:00:00Z', 2_040_000],
      ],
      L3: [
        ['2025-02-20T05:00:00Z', 3_000_000],
        ['2025-04-10T05:00:00Z', 3_049_000],
      ],
    };
    for (const [id, rs] of Object.entries(reads)) await insertReads(rs, id);
    const { rows } = await computeUsage(ch, march());
    for (const m of profiles) {
      const points = reads[m.meter_id]!.map(([iso, wh]) => ({ t: ms(iso) / 1000, wh }));
      const mid = (d: string) => localMidnight(d, m.timezone);
      const u = periodUsage(
        points,
        mid('2025-03-01'),
        mid('2025-04-01'),
        m.installed_at / 1000,
        Date.now() / 1000,
      )!;
      const bill = rows.find((r) => r.meter.meter_id === m.meter_id);
      expect(bill && [bill.startWh, bill.endWh, bill.wh, bill.estimated], m.meter_id).toEqual([
        u.startWh,
        u.endWh,
        u.wh,
        u.estimated,
      ]);
      expect(u.startEstimated).toBe(true);
    }
  });

  it('summarises each day once, and again only when reads arrive for it', async () => {
    await insertReads([
      ['2025-02-28T17:00:00Z', 1_000_000],
      ['2025-03-10T05:00:00Z', 1_010_000],
      ['2025-03-31T17:00:00Z', 1_050_000],
    ]);
    const first = await computeUsage(ch, march());
    const l1 = (rows: BillRow[]) => rows.filter((r) => r.meter.meter_id === 'L1');
    expect(l1(first.rows).map((r) => [r.wh, r.resets, r.readsReceived])).toEqual([[50_000, 0, 2]]);
    // The window was summarised by the test before: only the three days these reads fell on again.
    expect(first.summarised!.units).toBe(3);
    expect((await computeUsage(ch, march())).summarised!.units).toBe(0);

    // A late read for 20 March, a day already summarised: the register went back (meter reset).
    await insertReads([['2025-03-20T05:00:00Z', 1_005_000]]);
    const late = await computeUsage(ch, march());
    expect(late.summarised!.units).toBe(1);
    // 1,000,000 → 1,010,000, reset to 1,005,000 (counts 0), → 1,050,000: 55 kWh, estimated.
    expect(l1(late.rows).map((r) => [r.wh, r.resets, r.readsReceived, r.estimated])).toEqual([
      [55_000, 1, 3, true],
    ]);
    // The same bill as periodUsage on the reads, and as one customer's period (read from buckets).
    const usage = await customerUsage(ch, db, '511000000091', '2025-03-01', '2025-03-31');
    expect(usage.map((u) => [Number(u.kwh), u.register_resets])).toEqual([[55, 1]]);
    const reads = [
      ['2025-02-28T17:00:00Z', 1_000_000],
      ['2025-03-10T05:00:00Z', 1_010_000],
      ['2025-03-20T05:00:00Z', 1_005_000],
      ['2025-03-31T17:00:00Z', 1_050_000],
    ].map(([iso, wh]) => ({ t: ms(iso as string) / 1000, wh: wh as number }));
    const jakarta = (d: string) => localMidnight(d, 'Asia/Jakarta');
    expect(periodUsage(reads, jakarta('2025-03-01'), jakarta('2025-04-01'), 0, Date.now() / 1000)!.wh).toBe(
      55_000,
    );
  });
});
