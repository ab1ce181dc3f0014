import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { sqlDate, sqlIdent, UnavailableError, ValidationError } from '@ami/lib';
import {
  SERVER_NOW_SQL,
  bucketCountSql,
  bucketsSql,
  insertBillingSql,
  metersSql,
  type MeterRange,
  type UsageQuery,
} from './billing-sql.js';
import { PeriodScanner, UnorderedScanError, type BillRow, type MeterProfileRow } from './billing-scan.js';
import { encodeBills, usageRowOf } from './billing-rows.js';
import { readTariffs } from './tariffs.js';
import { monthBounds, nextDay } from './timezones.js';

/** A billing_usage row as JSON (Decimals and Int64 come back as strings or numbers): the meter's labels, then its bill. */
export interface UsageRow extends Omit<MeterProfileRow, 'timezone' | 'installed'> {
  billing_period: string;
  period_start: string;
  period_end: string;
  energy_start_wh: number;
  energy_end_wh: number;
  /** Decimal(18, 3): a number as JSON gives it (stored rows and `ami usage` alike). */
  kwh: number | string;
  reads_received: number;
  reads_expected: number;
  estimated: number;
  start_estimated: number;
  end_estimated: number;
  /** 1 when the register went backwards (meter replaced or reset) in or across the period. */
  register_reset: number;
  register_resets: number;
  period_complete: number;
  max_demand_w: number;
  tariff_version: string;
  rate_sen_per_kwh: number;
  energy_charge_sen: number;
  minimum_charge_sen: number;
  minimum_applied: number;
  amount_sen: number;
  amount_rp: number | string;
}

export interface BillingOptions {
  asOfMs?: number;
  lookaroundDays?: number;
}

/** Recomputes one local month (YYYY-MM) for every meter into billing_usage. */
export async function refreshBilling(
  ch: ClickHouseClient,
  db: string,
  period: string,
  opts: BillingOptions = {},
): Promise<void> {
  const { from, to } = monthBounds(period);
  const q: UsageQuery = {
    db,
    from,
    to,
    asOfMs: opts.asOfMs ?? Date.now(),
    minimumEligible: true,
    lookaroundDays: opts.lookaroundDays,
  };
  const { rows, computedAt } = await computeUsage(ch, q);
  if (rows.length === 0) return;
  try {
    const res = await ch.exec({
      query: insertBillingSql(db),
      values: Readable.from([encodeBills(rows, from, computedAt)]),
      clickhouse_settings: { max_execution_time: 600 },
    });
    // Read the response to its end: with progress headers the status comes before the INSERT is
    // done, and an error then only shows in the body.
    let body = '';
    for await (const chunk of res.stream) body += String(chunk);
    if (body.includes('Exception')) throw new Error(body.slice(0, 500));
  } catch (err) {
    throw new UnavailableError('clickhouse', `billing insert failed: ${(err as Error).message}`, err);
  }
}

/** The settings of the bucket scan: it streams for a while. */
const SCAN_SETTINGS = { max_execution_time: 600 } as const;

/**
 * Concurrent scans of a whole-fleet refresh, each over a range of meter ids. A
 * FINAL merge is one thread per query in 18.16 and is most of the time; the
 * project's machines have 2 cores (a constant, not a setting: see README).
 */
const SCAN_STREAMS = 2;

/** Meter-id ranges with about as many known meters each, covering every id. */
function meterRanges(ids: string[], parts: number): MeterRange[] {
  if (parts <= 1 || ids.length < parts * 1000) return [{}];
  const sorted = ids.map((id) => Buffer.from(id)).sort(Buffer.compare);
  const cuts = [
    ...new Set(
      Array.from({ length: parts - 1 }, (_, i) =>
        sorted[Math.floor(((i + 1) * sorted.length) / parts)]!.toString(),
      ),
    ),
  ];
  const ranges: MeterRange[] = [{ to: cuts[0]! }];
  for (let i = 1; i < cuts.length; i++) ranges.push({ from: cuts[i - 1]!, to: cuts[i]! });
  ranges.push({ from: cuts.at(-1)! });
  return ranges;
}

/**
 * Every bill of the period (one per meter with reads around or in it): the
 * profiles, tariffs and server clock first, then one pass over the streamed
 * bucket rows. A stream out of (meter_id, bucket) order is read again sorted.
 */
export async function computeUsage(
  ch: ClickHouseClient,
  q: UsageQuery,
): Promise<{ rows: BillRow[]; computedAt: number }> {
  const [profiles, tariffs, now, counted] = await Promise.all([
    ch.query({ query: metersSql(q), format: 'JSONEachRow' }).then((rs) => rs.json<MeterProfileRow>()),
    readTariffs(ch, q.db),
    ch.query({ query: SERVER_NOW_SQL, format: 'JSONEachRow' }).then((rs) => rs.json<{ now: number }>()),
    ch
      .query({ query: bucketCountSql(q), format: 'JSONEachRow', clickhouse_settings: SCAN_SETTINGS })
      .then((rs) => rs.json<{ rows: number }>()),
  ]);
  const meters = new Map(profiles.map((m) => [m.meter_id, m]));
  const ctx = {
    from: q.from,
    to: q.to,
    asOf: Math.floor(q.asOfMs / 1000),
    minimumEligible: q.minimumEligible,
    tariffs,
  };
  const scan = async (ordered: boolean, range: MeterRange): Promise<{ rows: BillRow[]; parsed: number }> => {
    const rows: BillRow[] = [];
    const scanner = new PeriodScanner(meters, ctx, (r) => rows.push(r));
    const res = await ch.exec({ query: bucketsSql(q, ordered, range), clickhouse_settings: SCAN_SETTINGS });
    try {
      for await (const chunk of res.stream) scanner.push(chunk as Buffer);
    } finally {
      res.stream.destroy();
    }
    scanner.end();
    return { rows, parsed: scanner.rows };
  };
  const ranges = meterRanges(q.idpel === undefined ? [...meters.keys()] : [], SCAN_STREAMS);
  let scans: { rows: BillRow[]; parsed: number }[];
  try {
    // Ranges in id order, each scanned in order: the bills come out by meter id.
    scans = await Promise.all(ranges.map((r) => scan(false, r)));
  } catch (err) {
    if (!(err instanceof UnorderedScanError)) throw err;
    scans = [await scan(true, {})];
  }
  const rows = scans.flatMap((s) => s.rows);
  const scanned = scans.reduce((sum, s) => sum + s.parsed, 0);
  if (scanned < Number(counted[0]!.rows))
    throw new UnavailableError(
      'clickhouse',
      `bucket scan ended early: ${scanned} of ${counted[0]!.rows} rows`,
    );
  return { rows, computedAt: now[0]!.now };
}

/** Billing rows of one month as stored (latest refresh). */
export async function billingRows(ch: ClickHouseClient, db: string, period: string): Promise<UsageRow[]> {
  const { from } = monthBounds(period);
  const rs = await ch.query({
    query: `SELECT * FROM ${sqlIdent(db)}.billing_usage FINAL WHERE billing_period = ${sqlDate(from)} ORDER BY meter_id`,
    format: 'JSONEachRow',
  });
  return rs.json<UsageRow>();
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * kWh and rupiah of one customer from local `from` to local `to` (both
 * inclusive days). The minimum charge applies only when the period is exactly
 * one whole calendar month.
 */
export async function customerUsage(
  ch: ClickHouseClient,
  db: string,
  idpel: string,
  from: string,
  to: string,
  opts: BillingOptions = {},
): Promise<UsageRow[]> {
  if (!/^\d{12}$/.test(idpel)) throw new ValidationError(`IDPEL must be 12 digits: ${idpel}`);
  if (!DATE.test(from) || !DATE.test(to) || to < from)
    throw new ValidationError(`need --from <= --to as YYYY-MM-DD (got ${from}, ${to})`);
  const end = nextDay(to);
  const wholeMonth = from.endsWith('-01') && monthBounds(from.slice(0, 7)).to === end;
  const q: UsageQuery = {
    db,
    from,
    to: end,
    asOfMs: opts.asOfMs ?? Date.now(),
    idpel,
    minimumEligible: wholeMonth,
    lookaroundDays: opts.lookaroundDays,
  };
  const { rows, computedAt } = await computeUsage(ch, q);
  return rows.map((r) => usageRowOf(r, from, computedAt));
}
