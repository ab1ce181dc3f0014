import { sqlDate, sqlIdent, sqlNumber, sqlString } from '@ami/lib';
import { TIMEZONES, localMidnight } from './timezones.js';

/**
 * The SQL of billing: only reading. The money rule is not in SQL any more:
 * billingScan.ts applies billing.ts to the rows these queries stream (one
 * statement of the rule instead of an SQL mirror; the SQL mirror spent 10-15 s
 * of a 100,000-meter month in its GROUP BY). Works on ClickHouse 18.16 and current.
 */
export interface UsageQuery {
  db: string;
  /** First local day of the period, YYYY-MM-DD. */
  from: string;
  /** First local day AFTER the period, YYYY-MM-DD. */
  to: string;
  /** Periods ending after this instant (epoch ms) are in progress. */
  asOfMs: number;
  /** Only this customer (IDPEL); all meters when absent. */
  idpel?: string;
  /** Whether the minimum charge may apply (a whole billing month). */
  minimumEligible: boolean;
  /** How far before and after the period to look for a boundary's neighbour reads. */
  lookaroundDays?: number;
  /** A whole-fleet period: see BILLING_SETTLE_S (config.ts). */
  settleS?: number;
  /**
   * What a whole-fleet period reads: the day summaries (default) or the buckets they are made
   * of (the bench's baseline and cross-check). One customer's period always reads buckets.
   */
  source?: 'days' | 'buckets';
}

/** The earliest (or latest) local midnight of `date` over all known zones: the scan range. */
function scanBound(date: string, which: 'min' | 'max'): number {
  const all = TIMEZONES.map((tz) => localMidnight(date, tz));
  return which === 'min' ? Math.min(...all) : Math.max(...all);
}

function customerFilter(q: UsageQuery): string {
  return q.idpel === undefined ? '' : `WHERE idpel = ${sqlString(q.idpel)}`;
}

/** Meter ids from `from` (inclusive) to `to` (exclusive); open ends when absent. */
export interface MeterRange {
  from?: string;
  to?: string;
}

/** Instants [lo, hi) in epoch seconds: the rows a scan reads (by bucket or summary start). */
export interface ScanWindow {
  lo: number;
  hi: number;
}

/** The window a period's bills need: its own buckets and `lookaroundDays` on each side. */
export function scanWindow(q: UsageQuery): ScanWindow {
  const around = (q.lookaroundDays ?? 31) * 86_400;
  return { lo: scanBound(q.from, 'min') - around, hi: scanBound(q.to, 'max') + around };
}

/**
 * Byte layout of one summary row after the meter_id String, the same for
 * bucketsSql and daysSql (see billingScan.ts): start, first_at, first_wh,
 * last_at, last_wh, interval reads, interval_s, max_demand_w, rising_wh, resets,
 * ROW_END_MARK as UInt32, UInt32, Int64, UInt32, Int64, UInt32, UInt32, Int32,
 * Int64, UInt32, UInt32.
 */
export const SUMMARY_ROW_BYTES = 56;

/**
 * Ends every summary row. An error in the middle of an HTTP result only appends its text
 * to the RowBinary body; text never has these (non-ASCII) bytes where a row ends, so a cut
 * stream fails to parse instead of billing short. (It replaces a count() taken before each
 * scan: a second FINAL merge of the same rows.)
 */
export const ROW_END_MARK = 0xfeedface;

export interface ScanOptions {
  /** An explicit ORDER BY (see bucketsSql). */
  ordered?: boolean;
  range?: MeterRange;
  /** Only these meters (a few thousand at most: the query's size). */
  ids?: readonly string[];
  /** Only this customer's meters. */
  idpel?: string;
}

/**
 * Every merged bucket of the window, in RowBinary (SUMMARY_ROW_BYTES; a
 * bucket's rise and reset are those of its first and last register). FINAL
 * merges each bucket's states while streaming the sorted parts, so on 18.16
 * the rows come in (meter_id, bucket) order without a sort; the reader checks
 * that order and asks again with `ordered` (an explicit ORDER BY, as a server
 * that reads FINAL in parallel needs) when it does not hold. `range` splits the
 * scan by meter id (the first key column: granules are skipped), so that
 * several FINAL merges, each one thread, run side by side.
 */
export function bucketsSql(db: string, w: ScanWindow, o: ScanOptions = {}): string {
  return `
    SELECT meter_id, toUInt32(bucket) AS bk,
      toUInt32(finalizeAggregation(first_at)) AS fa, finalizeAggregation(first_wh) AS fw,
      toUInt32(finalizeAggregation(last_at)) AS la, finalizeAggregation(last_wh) AS lw,
      toUInt32(finalizeAggregation(interval_reads)) AS n, finalizeAggregation(interval_s) AS iv,
      finalizeAggregation(max_demand_w) AS md,
      if(lw > fw, lw - fw, toInt64(0)) AS rising, toUInt32(lw < fw) AS resets,
      toUInt32(${ROW_END_MARK}) AS row_end
    FROM ${sqlIdent(db)}.reads_buckets_daily FINAL
    ${windowWhere(db, 'bucket', w, o)}
    ${o.ordered ? 'ORDER BY meter_id, bk' : ''}
    FORMAT RowBinary`;
}

/**
 * The day summaries (migrations/008_reads_days.sql) of the window in the
 * layout of bucketsSql, latest summary of each row (FINAL on plain columns).
 */
export function daysSql(db: string, w: ScanWindow, o: ScanOptions = {}): string {
  return `
    SELECT meter_id, toUInt32(start) AS bk, toUInt32(first_at) AS fa, first_wh,
      toUInt32(last_at) AS la, last_wh, interval_reads, interval_s, max_demand_w, rising_wh, resets,
      toUInt32(${ROW_END_MARK}) AS row_end
    FROM ${sqlIdent(db)}.reads_days FINAL
    ${windowWhere(db, 'start', w, o)}
    ${o.ordered ? 'ORDER BY meter_id, bk' : ''}
    FORMAT RowBinary`;
}

function windowWhere(db: string, column: string, w: ScanWindow, o: ScanOptions): string {
  const only = [
    o.idpel === undefined
      ? ''
      : `AND meter_id IN (SELECT meter_id FROM ${sqlIdent(db)}.meters_latest WHERE idpel = ${sqlString(o.idpel)})`,
    o.ids === undefined ? '' : `AND meter_id IN (${o.ids.map(sqlString).join(', ') || "''"})`,
    o.range?.from === undefined ? '' : `AND meter_id >= ${sqlString(o.range.from)}`,
    o.range?.to === undefined ? '' : `AND meter_id < ${sqlString(o.range.to)}`,
  ];
  return `WHERE ${column} >= toDateTime(${sqlNumber(w.lo)}) AND ${column} < toDateTime(${sqlNumber(w.hi)})
    ${only.join(' ')}`;
}

/**
 * Units (YYYY-MM-DD) from `first` to `last` with their latest stamp in `table`: when each was
 * last summarised (reads_days_summarised.summarised_at) or got reads (reads_arrivals.arrived_at).
 */
export function unitStampsSql(
  db: string,
  stamp: 'reads_days_summarised.summarised_at' | 'reads_arrivals.arrived_at',
  first: string,
  last: string,
): string {
  const [table, column] = stamp.split('.') as [string, string];
  return `SELECT toString(unit) AS day, toUInt32(max(${sqlIdent(column)})) AS at
    FROM ${sqlIdent(db)}.${sqlIdent(table)}
    WHERE unit >= ${sqlDate(first)} AND unit <= ${sqlDate(last)} GROUP BY unit`;
}

/** Settings of the streamed scans and summary queries: they run for a while. */
export const SCAN_SETTINGS = { max_execution_time: 600 } as const;

/** Columns of reads_days in the order billingDays.ts encodes them. */
export const DAY_COLUMNS = [
  'meter_id',
  'start',
  'unit',
  'first_at',
  'first_wh',
  'last_at',
  'last_wh',
  'rising_wh',
  'resets',
  'interval_reads',
  'interval_s',
  'max_demand_w',
  'version',
] as const;

export function insertDaysSql(db: string): string {
  return `INSERT INTO ${sqlIdent(db)}.reads_days (${DAY_COLUMNS.join(', ')}) FORMAT RowBinary`;
}

/** Marks units summarised as of `at` (epoch seconds); units are validated YYYY-MM-DD. */
export function markSummarisedSql(db: string, units: readonly string[], at: number): string {
  const rows = units.map((u) => `(${sqlDate(u)}, toDateTime(${sqlNumber(at)}))`).join(', ');
  return `INSERT INTO ${sqlIdent(db)}.reads_days_summarised (unit, summarised_at) VALUES ${rows}`;
}

/**
 * The latest live profile of every meter (or one IDPEL): what a bill is labelled and priced
 * with. RowBinary (JSON took as long to parse as the query ran): meter_id, idpel, region,
 * ulp, tariff String, daya_va UInt32, timezone String, installed UInt32, ROW_END_MARK UInt32.
 */
export function metersSql(q: UsageQuery): string {
  return `
    SELECT meter_id, idpel, region, ulp, tariff, daya_va, timezone, toUInt32(installed_at) AS installed,
      toUInt32(${ROW_END_MARK}) AS row_end
    FROM ${sqlIdent(q.db)}.meters_latest ${customerFilter(q)}
    FORMAT RowBinary`;
}

/** The server's clock: `computed_at`, the ReplacingMergeTree version of billing_usage. */
export const SERVER_NOW_SQL = 'SELECT toUInt32(now()) AS now';

/** Columns of `billing_usage`, in insert order. */
export const BILLING_COLUMNS = [
  'meter_id',
  'idpel',
  'region',
  'ulp',
  'tariff',
  'daya_va',
  'billing_period',
  'period_start',
  'period_end',
  'energy_start_wh',
  'energy_end_wh',
  'kwh',
  'reads_received',
  'reads_expected',
  'estimated',
  'start_estimated',
  'end_estimated',
  'register_reset',
  'register_resets',
  'period_complete',
  'max_demand_w',
  'tariff_version',
  'rate_sen_per_kwh',
  'energy_charge_sen',
  'minimum_charge_sen',
  'minimum_applied',
  'amount_sen',
  'amount_rp',
  'computed_at',
] as const;

/** The INSERT a refresh streams its RowBinary rows into. */
export function insertBillingSql(db: string): string {
  return `INSERT INTO ${sqlIdent(db)}.billing_usage (${BILLING_COLUMNS.join(', ')}) FORMAT RowBinary`;
}
