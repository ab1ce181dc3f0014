import { describe, expect, it } from 'vitest';
import { PeriodScanner, UnorderedScanError, type BillRow, type MeterProfileRow } from '../src/billingScan.js';
import { charge, findTariff, periodUsage, type RegisterPoint } from '../src/billing.js';
import { loadTariffFiles } from '../src/tariffs.js';
import { localMidnight } from '../src/timezones.js';
import { bucketsOf, encode } from './buckets.js';
import { EXPECTED, METERS, READS } from './fixtures.js';

/**
 * The streamed refresh (billingScan.ts) on reads_buckets rows built here as
 * migrations/002_reads_buckets.sql builds them, against periodUsage of
 * billing.ts: on the buckets' first and last reads always (the same rule on
 * the same points), and on every read for the fixture (no reset hidden inside
 * a bucket). This replaces the old test of the SQL mirror against billing.ts.
 */
const tariffs = loadTariffFiles();
const ctx = { from: '2025-03-01', to: '2025-04-01', asOf: 2_000_000_000, minimumEligible: true, tariffs };

const profiles: MeterProfileRow[] = METERS.map((m) => ({
  meter_id: m.meter_id,
  idpel: m.idpel,
  region: m.region,
  ulp: m.ulp,
  tariff: m.tariff,
  daya_va: m.daya_va,
  timezone: m.timezone,
  installed: m.installed_at / 1000,
}));
const meters = new Map(profiles.map((m) => [m.meter_id, m]));
const fixtureReads = READS.map((r) => ({
  meter_id: r.meter_id,
  t: r.read_at / 1000,
  wh: r.energy_import_wh,
  interval: r.kind === 'INTERVAL',
}));

function scan(body: Buffer, chunkBytes = body.length): BillRow[] {
  const rows: BillRow[] = [];
  const s = new PeriodScanner(meters, ctx, (r) => rows.push(r));
  for (let p = 0; p < body.length; p += chunkBytes) s.push(body.subarray(p, p + chunkBytes));
  s.end();
  return rows;
}

function pure(meterId: string, reads: readonly RegisterPoint[]) {
  const m = meters.get(meterId)!;
  const u = periodUsage(
    reads,
    localMidnight(ctx.from, m.timezone),
    localMidnight(ctx.to, m.timezone),
    m.installed,
    ctx.asOf,
  )!;
  const c = charge(u.wh, m.daya_va, findTariff(tariffs, m.tariff, m.daya_va, ctx.from), u.periodComplete);
  return {
    start: u.startWh,
    end: u.endWh,
    wh: u.wh,
    resets: u.resets,
    est: u.estimated,
    amount: c.amountSen,
  };
}

const got = (r: BillRow) => ({
  start: r.startWh,
  end: r.endWh,
  wh: r.wh,
  resets: r.resets,
  est: r.estimated,
  amount: r.amountSen,
});

describe('billing refresh from streamed reads_buckets rows', () => {
  const buckets = bucketsOf(fixtureReads);
  const body = encode(buckets);

  it('matches the hand-computed bills', () => {
    const rows = scan(body);
    expect(rows.map((r) => r.meter.meter_id)).toEqual(Object.keys(EXPECTED));
    for (const r of rows) {
      const e = EXPECTED[r.meter.meter_id]!;
      expect({ start: r.startWh, end: r.endWh, wh: r.wh, amount: r.amountSen, resets: r.resets }).toEqual({
        start: e.start,
        end: e.end,
        wh: Math.round(Number(e.kwh) * 1000),
        amount: e.amountSen,
        resets: e.resets,
      });
    }
  });

  it('agrees with periodUsage on every read and on the buckets’ first and last reads', () => {
    for (const r of scan(body)) {
      const id = r.meter.meter_id;
      const reads = fixtureReads.filter((x) => x.meter_id === id);
      const ends = buckets
        .filter((b) => b.meter === id)
        .flatMap((b) => [
          { t: b.fa, wh: b.fw },
          { t: b.la, wh: b.lw },
        ]);
      expect(got(r), id).toEqual(pure(id, reads));
      expect(got(r), id).toEqual(pure(id, ends));
    }
  });

  it('gives the same bills whatever the chunking of the stream', () => {
    const whole = scan(body);
    for (const size of [1, 2, 7, 41, 45, 46, 100, 333]) expect(scan(body, size)).toEqual(whole);
  });

  it('counts reads, expected reads and demand inside the period only', () => {
    const m1 = scan(body).find((r) => r.meter.meter_id === 'M1')!;
    // M1's reads in [28 Feb 16:00Z, 31 Mar 16:00Z): 28 Feb 16:00 and 17:00, 15 March.
    expect(m1.readsReceived).toBe(3);
    expect(m1.readsExpected).toBe(744);
    expect(m1.maxDemandW).toBe(500);
  });

  it('refuses a stream out of (meter_id, bucket) order', () => {
    const swapped = encode([buckets[1]!, buckets[0]!, ...buckets.slice(2)]);
    expect(() => scan(swapped)).toThrow(UnorderedScanError);
    const meterBack = encode([
      ...buckets.filter((b) => b.meter === 'M2'),
      ...buckets.filter((b) => b.meter === 'M1'),
    ]);
    expect(() => scan(meterBack)).toThrow(UnorderedScanError);
  });

  it('fails on a stream cut by a server error instead of billing short', () => {
    // ClickHouse appends an exception's text to an HTTP result it cannot finish.
    const rows = Buffer.concat(buckets.slice(0, 5).map((b) => encode([b])));
    for (const text of [
      'Code: 241, e.displayText() = DB::Exception: Memory limit (for query) exceeded: would use 9.31 GiB',
      'Code: 159, e.displayText() = DB::Exception: Timeout exceeded: elapsed 600.000123 seconds, maximum: 600, e.what() = DB::Exception\n',
    ])
      for (let cut = 0; cut < 60; cut++) {
        const body = Buffer.concat([rows, Buffer.from(text.slice(cut))]);
        expect(() => scan(body), `${cut}`).toThrow(/end mark|inside a row/);
      }
  });

  it('bills nothing for a meter without a profile, and skips it', () => {
    const stranger = bucketsOf([{ meter_id: 'M0', t: 1_741_000_000, wh: 5, interval: true }]);
    const rows = scan(encode([...stranger, ...buckets]));
    expect(rows.map((r) => r.meter.meter_id)).toEqual(Object.keys(EXPECTED));
  });
});

describe('a reset hidden inside one bucket (documented limitation)', () => {
  it('is counted by periodUsage on every read but not seen by the buckets', () => {
    // 17:00Z to 15:00Z is one bucket: the register goes 100 → 900 → 5 → 950 inside it.
    const reads = [
      { meter_id: 'M3', t: Date.parse('2025-03-10T18:00:00Z') / 1000, wh: 100, interval: true },
      { meter_id: 'M3', t: Date.parse('2025-03-10T20:00:00Z') / 1000, wh: 900, interval: true },
      { meter_id: 'M3', t: Date.parse('2025-03-10T21:00:00Z') / 1000, wh: 5, interval: true },
      { meter_id: 'M3', t: Date.parse('2025-03-10T22:00:00Z') / 1000, wh: 950, interval: true },
    ];
    const [row] = scan(encode(bucketsOf(reads)));
    expect(row!.resets).toBe(0);
    expect(pure('M3', reads).resets).toBe(1);
  });
});
