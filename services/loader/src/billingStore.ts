import { randomInt } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { sqlDate, sqlIdent, UnavailableError, ValidationError } from '@ami/lib';
import {
  SERVER_NOW_SQL,
  bucketsSql,
  daysSql,
  insertBillingSql,
  ROW_END_MARK,
  SCAN_SETTINGS,
  metersSql,
  scanWindow,
  type MeterRange,
  type ScanWindow,
  type UsageQuery,
} from './billingSql.js';
import { jsonRows, summariseDays } from './billingDays.js';
import { streamInsert } from './insert.js';
import { RowBinaryReader } from './rowbinary.js';
import {
  PeriodScanner,
  UnorderedScanError,
  type BillRow,
  type MeterProfileRow,
  type PeriodContext,
} from './billingScan.js';
import { encodeBills, usageRowOf } from './billingRows.js';
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
  /** See BILLING_SETTLE_S (config.ts). */
  settleS?: number;
}

/** BILLING_SETTLE_S's default, for callers without the loader's configuration. */
export const DEFAULT_SETTLE_S = 60;

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
    settleS: opts.settleS,
  };
  const { rows, computedAt } = await computeUsage(ch, q);
  if (rows.length === 0) return;
  await streamInsert(
    ch,
    insertBillingSql(db),
    Readable.from([encodeBills(rows, from, computedAt)]),
    'billing insert',
  );
}

/**
 * Concurrent scans of a whole-fleet refresh, each over a range of meter ids. A
 * FINAL merge is one thread per query in 18.16 and is most of the time; the
 * project's machines have 2 cores (a constant, not a setting: see README).
 */
const SCAN_STREAMS = 2;

/** Meter-id ranges with about as many known meters each, covering every id. */
export function meterRanges(ids: string[], parts: number): MeterRange[] {
  if (parts <= 1 || ids.length < parts * 1000) return [{}];
  // Cuts from a random sample of 10,000 ids: sorting all 1.2 M ids took seconds of every refresh, and
  // the ranges only need to be about even (random, not every k-th: the ids' order may have a pattern).
  // String order picks the cuts; ClickHouse compares bytes, so the cuts themselves are put in byte
  // order: the ranges then never overlap, whatever the characters.
  const sample = Array.from({ length: Math.min(ids.length, 10_000) }, () => ids[randomInt(ids.length)]!);
  const sorted = sample.sort();
  const cuts = [
    ...new Set(
      Array.from({ length: parts - 1 }, (_, i) => sorted[Math.floor(((i + 1) * sorted.length) / parts)]!),
    ),
  ].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const ranges: MeterRange[] = [{ to: cuts[0]! }];
  for (let i = 1; i < cuts.length; i++) ranges.push({ from: cuts[i - 1]!, to: cuts[i]! });
  ranges.push({ from: cuts.at(-1)! });
  return ranges;
}

/** metersSql's profiles; a result cut by a server error fails (its rows' end mark). */
async function readProfiles(ch: ClickHouseClient, q: UsageQuery): Promise<MeterProfileRow[]> {
  const res = await ch.exec({ query: metersSql(q), clickhouse_settings: SCAN_SETTINGS });
  const chunks: Buffer[] = [];
  for await (const chunk of res.stream) chunks.push(chunk as Buffer);
  const r = new RowBinaryReader(Buffer.concat(chunks));
  const rows: MeterProfileRow[] = [];
  try {
    while (!r.done) {
      rows.push({
        meter_id: r.string(),
        idpel: r.string(),
        region: r.string(),
        ulp: r.string(),
        tariff: r.string(),
        daya_va: r.u32(),
        timezone: r.string(),
        installed: r.u32(),
      });
      if (r.u32() !== ROW_END_MARK) throw new RangeError('a profile without its end mark');
    }
  } catch (err) {
    throw new UnavailableError('clickhouse', `meter profiles cut short: ${(err as Error).message}`, err);
  }
  return rows;
}

/** What a scan of summary rows bills and which meters it could not bill from them alone. */
interface ScanResult {
  rows: BillRow[];
  wider: string[];
}

interface ScanSpec {
  source: 'days' | 'buckets';
  window: ScanWindow;
  /** Meter-id ranges scanned side by side, or a list of meters. */
  ranges: readonly MeterRange[];
  ids?: readonly string[];
  idpel?: string;
}

/**
 * Bills from one stream of summary rows per meter range, in meter-id order. A stream out of
 * (meter_id, start) order is read again sorted; a cut one fails on a row without its end
 * mark (ROW_END_MARK: retriable, the loader tries again at its next tick).
 */
async function scanBills(
  ch: ClickHouseClient,
  db: string,
  meters: ReadonlyMap<string, MeterProfileRow>,
  ctx: PeriodContext,
  spec: ScanSpec,
): Promise<ScanResult> {
  const only = { ids: spec.ids, idpel: spec.idpel };
  const scan = async (ordered: boolean, range: MeterRange) => {
    const rows: BillRow[] = [];
    const scanner = new PeriodScanner(meters, ctx, (r) => rows.push(r));
    const o = { ...only, ordered, range };
    const query = spec.source === 'days' ? daysSql(db, spec.window, o) : bucketsSql(db, spec.window, o);
    const res = await ch.exec({ query, clickhouse_settings: SCAN_SETTINGS });
    try {
      for await (const chunk of res.stream) scanner.push(chunk as Buffer);
    } finally {
      res.stream.destroy();
    }
    scanner.end();
    return { rows, wider: scanner.wider };
  };
  let scans: ScanResult[];
  try {
    // Ranges in id order, each scanned in order: the bills come out by meter id.
    scans = await Promise.all(spec.ranges.map((r) => scan(false, r)));
  } catch (err) {
    if (!(err instanceof UnorderedScanError)) throw err;
    scans = [await scan(true, {})];
  }
  return { rows: scans.flatMap((s) => s.rows), wider: scans.flatMap((s) => s.wider) };
}

/** Meters looked up one by one (an IN list) in the wide second scan; more read the whole window. */
const WIDER_BY_ID_MAX = 5000;

/**
 * Every bill of the period (one per meter with reads around or in it): the
 * profiles, tariffs and server clock first, then streamed summary rows. One
 * customer's arbitrary period reads its buckets (its boundaries may be any local
 * midnight). A whole-fleet period reads the day summaries, brought up to date
 * first (billingDays.ts), in two steps: the period and one day around it, which
 * holds the boundary neighbours of nearly every meter, then the whole lookaround
 * window for the meters it left without one (gaps, dark or new meters), whose
 * bills replace the first ones. A meter's bill is the same as from one scan of
 * the whole window: the last row before a boundary and the first at or after it
 * are the same rows when the near window holds them.
 */
export async function computeUsage(
  ch: ClickHouseClient,
  q: UsageQuery,
): Promise<{ rows: BillRow[]; computedAt: number; summarised?: { units: number; rows: number } }> {
  const [profiles, tariffs, now] = await Promise.all([
    readProfiles(ch, q),
    readTariffs(ch, q.db),
    jsonRows<{ now: number }>(ch, SERVER_NOW_SQL),
  ]);
  const meters = new Map(profiles.map((m) => [m.meter_id, m]));
  const ctx: PeriodContext = {
    from: q.from,
    to: q.to,
    asOf: Math.floor(q.asOfMs / 1000),
    minimumEligible: q.minimumEligible,
    tariffs,
  };
  const computedAt = Number(now[0]!.now);
  const window = scanWindow(q);
  const ranges = meterRanges(q.idpel === undefined ? [...meters.keys()] : [], SCAN_STREAMS);
  if (q.idpel !== undefined || q.source === 'buckets') {
    const { rows } = await scanBills(ch, q.db, meters, ctx, {
      source: 'buckets',
      window,
      ranges,
      idpel: q.idpel,
    });
    return { rows, computedAt };
  }
  const summarised = await summariseDays(ch, q.db, window, {
    settleS: q.settleS ?? DEFAULT_SETTLE_S,
    ranges,
  });
  const near = scanWindow({ ...q, lookaroundDays: Math.min(1, q.lookaroundDays ?? 31) });
  const first = await scanBills(ch, q.db, meters, ctx, { source: 'days', window: near, ranges });
  const billed = new Set(first.rows.map((r) => r.meter.meter_id));
  // Meters without a neighbour in the near window, and meters without a row in it at all.
  const wider = new Set(first.wider);
  for (const id of meters.keys()) if (!billed.has(id)) wider.add(id);
  if (wider.size === 0) return { rows: first.rows, computedAt, summarised };
  const second = await scanBills(
    ch,
    q.db,
    new Map([...wider].map((id) => [id, meters.get(id)!])),
    ctx,
    wider.size <= WIDER_BY_ID_MAX
      ? { source: 'days', window, ranges: [{}], ids: [...wider] }
      : { source: 'days', window, ranges },
  );
  const rows = [...first.rows.filter((r) => !wider.has(r.meter.meter_id)), ...second.rows];
  // By meter id, as the scans give them (ids are ASCII: string order is byte order).
  rows.sort((a, b) =>
    a.meter.meter_id < b.meter.meter_id ? -1 : a.meter.meter_id > b.meter.meter_id ? 1 : 0,
  );
  return { rows, computedAt, summarised };
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
