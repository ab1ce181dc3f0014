import { sqlIdent, sqlNumber, sqlString } from '@ami/lib';
import { TIMEZONES, localMidnight } from './timezones.js';

/**
 * The SQL of billing: only reading. The money rule is not in SQL any more:
 * billing-scan.ts applies billing.ts to the rows these queries stream (one
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

/** Byte layout of one row of bucketsSql, after the meter_id String (see billing-scan.ts). */
export const BUCKET_ROW_BYTES = 40;

/**
 * Every merged bucket of the scan range, in RowBinary: meter_id String, then
 * bucket, first_at, first_wh, last_at, last_wh, interval reads, interval_s,
 * max_demand_w as UInt32, UInt32, Int64, UInt32, Int64, UInt32, UInt32, Int32.
 * FINAL merges each bucket's states while streaming the sorted parts, so on
 * 18.16 the rows come in (meter_id, bucket) order without a sort; the reader
 * checks that order and asks again with `ordered` (an explicit ORDER BY, as
 * a server that reads FINAL in parallel needs) when it does not hold.
 * `range` splits the scan by meter id (the first key column: granules are
 * skipped), so that several FINAL merges, each one thread, run side by side.
 */
export function bucketsSql(q: UsageQuery, ordered = false, range: MeterRange = {}): string {
  return `
    SELECT meter_id, toUInt32(bucket) AS bk,
      toUInt32(finalizeAggregation(first_at)) AS fa, finalizeAggregation(first_wh) AS fw,
      toUInt32(finalizeAggregation(last_at)) AS la, finalizeAggregation(last_wh) AS lw,
      toUInt32(finalizeAggregation(interval_reads)) AS n, finalizeAggregation(interval_s) AS iv,
      finalizeAggregation(max_demand_w) AS md
    FROM ${sqlIdent(q.db)}.reads_buckets FINAL
    ${scanWhere(q, range)}
    ${ordered ? 'ORDER BY meter_id, bk' : ''}
    FORMAT RowBinary`;
}

/**
 * How many rows bucketsSql streams at least (taken before the scan: later inserts only add).
 * An error in the middle of an HTTP result only appends its text to the RowBinary body, so a
 * scan that parsed fewer rows was cut short, however the text happened to parse.
 */
export function bucketCountSql(q: UsageQuery): string {
  return `SELECT count() AS rows FROM ${sqlIdent(q.db)}.reads_buckets FINAL ${scanWhere(q, {})}`;
}

/** The buckets a period's bills need: its own and `lookaroundDays` on each side. */
function scanWhere(q: UsageQuery, range: MeterRange): string {
  const db = sqlIdent(q.db);
  const around = (q.lookaroundDays ?? 31) * 86_400;
  const onlyCustomer =
    q.idpel === undefined
      ? ''
      : `AND meter_id IN (SELECT meter_id FROM ${db}.meters_latest ${customerFilter(q)})`;
  const lower = range.from === undefined ? '' : `AND meter_id >= ${sqlString(range.from)}`;
  const upper = range.to === undefined ? '' : `AND meter_id < ${sqlString(range.to)}`;
  return `WHERE bucket >= toDateTime(${sqlNumber(scanBound(q.from, 'min') - around)})
      AND bucket < toDateTime(${sqlNumber(scanBound(q.to, 'max') + around)}) ${onlyCustomer} ${lower} ${upper}`;
}

/** The latest live profile of every meter (or one IDPEL): what a bill is labelled and priced with. */
export function metersSql(q: UsageQuery): string {
  return `
    SELECT meter_id, idpel, region, ulp, tariff, daya_va, timezone, toUInt32(installed_at) AS installed
    FROM ${sqlIdent(q.db)}.meters_latest ${customerFilter(q)}`;
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
