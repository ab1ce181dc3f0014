/**
 * `npm run bench:billing` (also run by `npm run bench:loader`): the time of one month's billing
 * refresh for BENCH_BILLING_METERS (100,000) meters, on data seeded inside ClickHouse with the
 * irregular cases below, and a check of the stored rows against the pure billing module.
 *
 * BENCH_BILLING_INTERVAL_S (900, the fleet's 15-minute reads: the buckets' interval-read sets grow
 * with the reads, so hourly data, the default until 2026-11-29, understated the time by ~20 %; seeding
 * takes ~7 min), BENCH_KEEP=1 keeps the database.
 */
import { sqlIdent, sqlNumber, sqlString } from '@ami/lib';
import { migrate } from '../src/migrate.js';
import { loadTariffs, readTariffs } from '../src/tariffs.js';
import { DEFAULT_SETTLE_S, billingRows, computeUsage, refreshBilling } from '../src/billingStore.js';
import type { BillRow } from '../src/billingScan.js';
import { charge, findTariff, periodUsage } from '../src/billing.js';
import { localMidnight } from '../src/timezones.js';
import { ch, env, fmt, logger, secs, suffix } from './common.js';

const BILLING_METERS = env('BENCH_BILLING_METERS', 100_000);
const BILLING_INTERVAL_S = env('BENCH_BILLING_INTERVAL_S', 900);
const billingDb = `bench_billing_${suffix}`;

/**
 * One month of reads for BILLING_METERS meters (half WIB, half WITA), generated inside ClickHouse,
 * with irregular meters, so that a faster billing query is checked on more than the easy case
 * (checkAgainstPureModule):
 * - every 50th meter: its reads of about 10-13 March delivered again after the OPTIMIZE (duplicates,
 *   and unmerged partial bucket rows);
 * - every 97th: no reads from 31 March 12:00 to 1 April 06:00 UTC (a gap across the end boundary: interpolated);
 * - every 89th: no reads and a flat register from 28 February 02:00 to 1 March 09:00 UTC (dark across the
 *   start boundary: exact, not estimated);
 * - every 1000th (+7, +8): register reset to about 0 on 15 March at 15:00 UTC (a bucket start, so the
 *   bucket summaries see it as the pure module does); (+9, +10): reset inside a gap across the end boundary;
 * - every 997th: extra interval reads between the grid's, and on-demand reads (both inside a step);
 * - every 100th (+3): an on-demand read on 18 March inserted after the month was billed (late).
 */
async function seedBilling(): Promise<void> {
  await migrate(ch, billingDb, logger);
  await loadTariffs(ch, billingDb, logger);
  const db = sqlIdent(billingDb);
  const n = sqlNumber(BILLING_METERS);
  await ch.command({
    query: `INSERT INTO ${db}.meters SELECT concat('BM', toString(number)), toString(510000000000 + number), 'L', 1,
      if(number % 3 = 0, 'R-1M', 'R-1'), if(number % 3 = 0, 900, 1300), concat('G', toString(intDiv(number, 100))), 'F1',
      concat('ULP', toString(intDiv(number, 10000))), if(number % 2 = 0, 'JATIM', 'BALI'), if(number % 2 = 0, 'Asia/Jakarta', 'Asia/Makassar'),
      toDateTime('2024-01-01 00:00:00', 'UTC'), 0, 1 FROM numbers(${n})`,
  });
  // From 27 Feb to 2 Apr UTC: neighbours on both sides of both boundaries.
  const from = Date.UTC(2025, 1, 27) / 1000;
  const steps = Math.floor((Date.UTC(2025, 3, 2) / 1000 - from) / BILLING_INTERVAL_S);
  const step = (ms: number) => sqlNumber(Math.floor((ms / 1000 - from) / BILLING_INTERVAL_S));
  const [darkFrom, darkTo] = [step(Date.UTC(2025, 1, 28, 2)), step(Date.UTC(2025, 2, 1, 9))];
  const [gapFrom, gapTo] = [step(Date.UTC(2025, 2, 31, 12)), step(Date.UTC(2025, 3, 1, 6))];
  const [reset7, reset9] = [step(Date.UTC(2025, 2, 15, 15)), step(Date.UTC(2025, 2, 31, 22))];
  const rate = '(m % 400 + 50)';
  const wh = `toInt64(multiIf(
      m % 89 = 0, toInt64(m * 10 + (least(toInt64(s), ${darkFrom}) + greatest(toInt64(s) - ${darkTo}, 0)) * ${rate}),
      m % 1000 IN (7, 8) AND s >= ${reset7}, toInt64(s - ${reset7}) * 11,
      m % 1000 IN (9, 10) AND s >= ${reset9}, toInt64(s - ${reset9}) * 13,
      toInt64(m * 10 + s * ${rate})))`;
  const missing = `((m % 97 = 0 OR m % 1000 IN (9, 10)) AND s > ${gapFrom} AND s < ${gapTo}) OR (m % 89 = 0 AND s > ${darkFrom} AND s < ${darkTo})`;
  const readsSql = (m0: number, count: number, where: string, offsetS: number, kind: string) =>
    `INSERT INTO ${db}.reads SELECT concat('BM', toString(m)), concat('G', toString(intDiv(m, 100))),
        toDateTime(${sqlNumber(from)} + s * ${sqlNumber(BILLING_INTERVAL_S)} + ${sqlNumber(offsetS)}),
        ${sqlNumber(BILLING_INTERVAL_S)}, ${wh}, toInt32(m % 400 + 50), 230, 'CLOSED', 0, ${sqlString(kind)}
        FROM (SELECT ${sqlNumber(m0)} + intDiv(number, ${sqlNumber(steps)}) AS m, number % ${sqlNumber(steps)} AS s FROM numbers(${sqlNumber(count)}))
        WHERE NOT (${missing}) AND (${where})`;
  const t0 = Date.now();
  // Chunks of about 4M rows keep each INSERT well inside the client request timeout.
  const chunkMeters = Math.max(1, Math.floor(4_000_000 / steps));
  for (let m0 = 0; m0 < BILLING_METERS; m0 += chunkMeters) {
    const count = Math.min(chunkMeters, BILLING_METERS - m0) * steps;
    await ch.command({
      query: readsSql(m0, count, '1', 0, 'INTERVAL'),
      clickhouse_settings: { max_execution_time: 3600 },
    });
  }
  await ch.command({ query: `OPTIMIZE TABLE ${db}.reads_buckets_daily FINAL` });
  const all = BILLING_METERS * steps;
  const [d0, d1] = [step(Date.UTC(2025, 2, 10)), step(Date.UTC(2025, 2, 13, 12))];
  for (const q of [
    readsSql(0, all, `m % 50 = 0 AND s BETWEEN ${d0} AND ${d1}`, 0, 'INTERVAL'),
    // Inside the step, so that they carry the register of their time (the step's): at 1234 s after a
    // 900 s step an on-demand read showed an older register than the next interval read, a register
    // decrease that only a read-by-read check (the pure module) sees.
    readsSql(0, all, 'm % 997 = 0 AND s % 5 = 0', Math.floor(BILLING_INTERVAL_S / 8), 'INTERVAL'),
    readsSql(0, all, 'm % 997 = 0 AND s % 7 = 0', Math.floor(BILLING_INTERVAL_S * 0.34), 'ON_DEMAND'),
  ])
    await ch.command({ query: q, clickhouse_settings: { max_execution_time: 3600 } });
  lateReadsSql = readsSql(
    0,
    all,
    `m % 100 = 3 AND s = ${step(Date.UTC(2025, 2, 18, 3))}`,
    Math.floor(BILLING_INTERVAL_S * 0.6),
    'ON_DEMAND',
  );
  console.log(
    `billing data: ${fmt(BILLING_METERS)} meters x ${fmt(steps)} reads (every ${BILLING_INTERVAL_S} s; duplicates, gaps, dark spells, resets, off-grid reads) generated in ${secs(Date.now() - t0)} s (not measured)`,
  );
}

/** Late on-demand reads (seedBilling): every 100th meter (+3), 18 March, after the month was billed. */
let lateReadsSql = '';

async function seedLateReads(): Promise<void> {
  await ch.command({ query: lateReadsSql, clickhouse_settings: { max_execution_time: 3600 } });
}

/** Meters of every irregular kind in seedBilling, checked against the pure billing module. */
const CHECKED_METERS = [0, 1, 2, 3, 50, 89, 178, 97, 194, 7, 8, 9, 10, 1009, 997, 1994, 8633].filter(
  (m) => m < BILLING_METERS,
);

/**
 * Exactness on the bench data: the stored bills of CHECKED_METERS against periodUsage + charge
 * of billing.ts computed from their reads (as the integration test does on its fixture).
 */
async function checkAgainstPureModule(asOfMs: number): Promise<number> {
  const db = sqlIdent(billingDb);
  const ids = CHECKED_METERS.map((m) => sqlString(`BM${m}`)).join(', ');
  const tariffs = await readTariffs(ch, billingDb);
  const meters = await (
    await ch.query({
      query: `SELECT meter_id, tariff, daya_va, timezone, toUInt32(installed_at) AS installed FROM ${db}.meters_latest WHERE meter_id IN (${ids})`,
      format: 'JSONEachRow',
    })
  ).json<{ meter_id: string; tariff: string; daya_va: number; timezone: string; installed: number }>();
  const reads = await (
    await ch.query({
      query: `SELECT meter_id, toUInt32(read_at) AS t, energy_import_wh AS wh FROM ${db}.reads WHERE meter_id IN (${ids})`,
      format: 'JSONEachRow',
    })
  ).json<{ meter_id: string; t: number; wh: number }>();
  const rows = await billingRows(ch, billingDb, '2025-03');
  let bad = 0;
  for (const m of meters) {
    const u = periodUsage(
      reads.filter((r) => r.meter_id === m.meter_id).map((r) => ({ t: Number(r.t), wh: Number(r.wh) })),
      localMidnight('2025-03-01', m.timezone),
      localMidnight('2025-04-01', m.timezone),
      Number(m.installed),
      asOfMs / 1000,
    )!;
    const c = charge(u.wh, m.daya_va, findTariff(tariffs, m.tariff, m.daya_va, '2025-03-01'), true);
    const r = rows.find((x) => x.meter_id === m.meter_id);
    const got = r && {
      start: Number(r.energy_start_wh),
      end: Number(r.energy_end_wh),
      wh: Math.round(Number(r.kwh) * 1000),
      resets: r.register_resets,
      estimated: r.estimated,
      amount: Number(r.amount_sen),
    };
    const want = {
      start: u.startWh,
      end: u.endWh,
      wh: u.wh,
      resets: u.resets,
      estimated: u.estimated ? 1 : 0,
      amount: c.amountSen,
    };
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      bad++;
      console.log(`  ${m.meter_id}: stored ${JSON.stringify(got)} != pure ${JSON.stringify(want)}`);
    }
  }
  console.log(
    `billing vs pure module on ${meters.length} irregular bench meters (duplicates, gaps, dark, resets, off-grid): ${bad === 0 ? 'all equal' : `${bad} DIFFERENT`}`,
  );
  return bad;
}

/**
 * The scan runs in meter-id ranges side by side: every meter billed exactly once (no meter lost or
 * doubled at a range cut), and the stored total equal to the computed one.
 */
async function checkOnePerMeter(agg: { n: number; s: number }): Promise<boolean> {
  const rs = await ch.query({
    query: `SELECT count() AS n, uniqExact(meter_id) AS meters, sum(amount_sen) AS s FROM ${sqlIdent(billingDb)}.billing_usage WHERE billing_period = '2025-03-01'`,
    format: 'JSONEachRow',
  });
  const [stored] = await rs.json<{ n: number; meters: number; s: number }>();
  const ok =
    agg.n === BILLING_METERS &&
    Number(stored!.n) === BILLING_METERS &&
    Number(stored!.meters) === BILLING_METERS &&
    Number(stored!.s) === agg.s;
  console.log(
    `one bill per meter: ${ok ? 'yes' : `NO (computed ${agg.n}, stored ${stored!.n} rows for ${stored!.meters} meters, of ${BILLING_METERS})`}`,
  );
  return ok;
}

/** Sum, estimated and reset counts of a refresh's bills: what the bench prints and compares. */
function totals(rows: readonly BillRow[]) {
  return {
    n: rows.length,
    s: rows.reduce((sum, r) => sum + r.amountSen, 0),
    e: rows.filter((r) => r.estimated).length,
    r: rows.filter((r) => r.resets > 0).length,
  };
}

/** Bills that differ in any field between two refreshes of the same data (meters in the same order). */
function differing(a: readonly BillRow[], b: readonly BillRow[]): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let bad = 0;
  for (let i = 0; i < a.length; i++) if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) bad++;
  return bad;
}

/** Server seconds since reads last arrived for the month's window (reads_arrivals). */
async function secondsSinceArrival(): Promise<number> {
  const rs = await ch.query({
    query: `SELECT toInt64(now()) - toInt64(max(arrived_at)) AS s FROM ${sqlIdent(billingDb)}.reads_arrivals`,
    format: 'JSONEachRow',
  });
  return Number((await rs.json<{ s: number }>())[0]!.s);
}

const timed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t0 = Date.now();
  const out = await f();
  return [out, Date.now() - t0];
};

interface BillingFigures {
  baseline: number;
  cold: number;
  warm: number;
  refresh: number;
  late: number;
  rows: number;
}

/**
 * The month four ways, in one run: from the buckets (the way before day summaries: the
 * baseline), from day summaries built from scratch (cold), from summaries already made (warm:
 * what the loader's refresh tick meets), and after late reads for one day (one unit summarised
 * again). Every bill of the day path is compared with the bucket path, field by field.
 */
async function timeBilling(): Promise<BillingFigures> {
  const q = {
    db: billingDb,
    from: '2025-03-01',
    to: '2025-04-01',
    asOfMs: Date.now(),
    minimumEligible: true,
  };
  const [fromBuckets, baseline] = await timed(() => computeUsage(ch, { ...q, source: 'buckets' }));
  const agg = totals(fromBuckets.rows);
  console.log(
    `billing 2025-03 from bucket states (baseline): ${fmt(agg.n)} bills in ${secs(baseline)} s (total Rp ${fmt(agg.s / 100)}, ${agg.e} estimated, ${agg.r} with a register reset)`,
  );
  // A summary counts reads that arrived up to BILLING_SETTLE_S before it as maybe missed: let the
  // seeded month settle, as the loader's tick (every 5 min) would find it.
  const wait = DEFAULT_SETTLE_S + 1 - (await secondsSinceArrival());
  if (wait > 0) {
    console.log(`waiting ${wait} s: reads arrived less than ${DEFAULT_SETTLE_S} s ago (BILLING_SETTLE_S)`);
    await new Promise((r) => setTimeout(r, wait * 1000));
  }
  const [cold, coldMs] = await timed(() => computeUsage(ch, q));
  console.log(
    `from day summaries, cold: ${cold.summarised!.units} days summarised (${fmt(cold.summarised!.rows)} rows) and billed in ${secs(coldMs)} s`,
  );
  const [warm, warmMs] = await timed(() => computeUsage(ch, q));
  const diff = differing(warm.rows, fromBuckets.rows) + differing(cold.rows, fromBuckets.rows);
  console.log(
    `from day summaries, warm: ${warm.summarised!.units} days summarised, ${fmt(warm.rows.length)} bills in ${secs(warmMs)} s (${(baseline / warmMs).toFixed(1)}x the baseline); bills different from the baseline's: ${diff === 0 ? 'none' : diff}`,
  );
  if (diff > 0) process.exitCode = 1;
  const [, refreshMs] = await timed(() => refreshBilling(ch, billingDb, '2025-03', { asOfMs: q.asOfMs }));
  console.log(`refresh (warm compute + INSERT into billing_usage): ${secs(refreshMs)} s`);
  if (!(await checkOnePerMeter(totals(warm.rows)))) process.exitCode = 1;

  await seedLateReads();
  const [, lateMs] = await timed(() => refreshBilling(ch, billingDb, '2025-03', { asOfMs: q.asOfMs }));
  console.log(`refresh after late reads for 18 March: ${secs(lateMs)} s`);
  if ((await checkAgainstPureModule(q.asOfMs)) > 0) process.exitCode = 1;
  return { baseline, cold: coldMs, warm: warmMs, refresh: refreshMs, late: lateMs, rows: agg.n };
}

async function main(): Promise<void> {
  console.log(`billing bench: one month for ${fmt(BILLING_METERS)} meters`);
  try {
    await seedBilling();
    const b = await timeBilling();
    console.log('\nsummary');
    console.log(`  billing month, ${fmt(b.rows)} meters (goal < 5 s):`);
    console.log(`    from bucket states (baseline)         ${secs(b.baseline)} s`);
    console.log(`    day summaries built from scratch      ${secs(b.cold)} s   (once per day of data)`);
    console.log(
      `    day summaries up to date              ${secs(b.warm)} s   ${(b.baseline / b.warm).toFixed(1)}x faster than the baseline`,
    );
    console.log(
      `    refresh (compute + INSERT)            ${secs(b.refresh)} s   goal ${b.refresh < 5000 ? 'met' : 'NOT met'}`,
    );
    console.log(
      `    refresh after late reads for one day  ${secs(b.late)} s   goal ${b.late < 5000 ? 'met' : 'NOT met'}`,
    );
  } finally {
    if (process.env.BENCH_KEEP !== '1')
      await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(billingDb)}` });
    await ch.close();
  }
}

await main();
