import { sqlDate, sqlIdent, sqlNumber, sqlString } from '@ami/lib';
import { DEFAULT_TIMEZONE, TIMEZONES, localMidnight } from './timezones.js';

/**
 * The billing query: consumption and amount per meter between two LOCAL
 * dates (midnight in each meter's own time zone), from `reads_buckets`.
 * The same query fills `billing_usage` for a month and answers `ami usage`.
 * Works on ClickHouse 18.16 and current: no window functions, no query
 * parameters; the boundary logic mirrors billing.ts (startRegister,
 * endRegister, interpolateWh, periodUsage's register segments, charge).
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

/** Epoch seconds of local midnight `date` in the time zone of each row's `timezone` column. */
function localMidnightSql(date: string): string {
  sqlDate(date); // validates YYYY-MM-DD
  const branches = TIMEZONES.filter((tz) => tz !== DEFAULT_TIMEZONE).map(
    (tz) =>
      `timezone = ${sqlString(tz)}, toUInt32(toDateTime(${sqlString(`${date} 00:00:00`)}, ${sqlString(tz)}))`,
  );
  return `multiIf(${[...branches, `toUInt32(toDateTime(${sqlString(`${date} 00:00:00`)}, ${sqlString(DEFAULT_TIMEZONE)}))`].join(', ')})`;
}

/** Register at `at` between (pt, pe) and (nt, ne), rounded half up: interpolateWh in SQL. */
function interpolateSql(pt: string, pe: string, nt: string, ne: string, at: string): string {
  const num = `(toInt64(${ne}) - toInt64(${pe})) * (toInt64(${at}) - toInt64(${pt}))`;
  const den = `(toInt64(${nt}) - toInt64(${pt}))`;
  return `(toInt64(${pe}) + intDiv(${num} * 2 + ${den}, ${den} * 2))`;
}

/** `value * factor / 1000` rounded half up, in Int64 (energyChargeSen, minimumChargeSen). */
function roundPerMilleSql(value: string): string {
  return `intDiv(${value} * 2 + 1000, 2000)`;
}

/**
 * Per meter: the last read before and first read at/after each boundary,
 * and counts inside the period. Bucket starts align with local midnights,
 * so comparing a bucket's start with a boundary is exact (see 002_reads_buckets.sql).
 */
function neighboursSql(q: UsageQuery, db: string): string {
  const around = (q.lookaroundDays ?? 31) * 86_400;
  const customer = q.idpel === undefined ? '' : `WHERE idpel = ${sqlString(q.idpel)}`;
  const onlyCustomer =
    q.idpel === undefined ? '' : `AND meter_id IN (SELECT meter_id FROM ${db}.meters_latest ${customer})`;
  const inPeriod = 'bk >= b_start AND bk < b_end';
  return `
    SELECT
      meter_id, b_start, b_end, installed,
      countIf(bk < b_start) > 0 AS has_ps, argMaxIf(la, bk, bk < b_start) AS ps_t, argMaxIf(lw, bk, bk < b_start) AS ps_e,
      countIf(bk >= b_start) > 0 AS has_ns, argMinIf(fa, bk, bk >= b_start) AS ns_t, argMinIf(fw, bk, bk >= b_start) AS ns_e,
      countIf(bk < b_end) > 0 AS has_pe, argMaxIf(la, bk, bk < b_end) AS pe_t, argMaxIf(lw, bk, bk < b_end) AS pe_e,
      countIf(bk >= b_end) > 0 AS has_ne, argMinIf(fa, bk, bk >= b_end) AS ne_t, argMinIf(fw, bk, bk >= b_end) AS ne_e,
      sumIf(n, ${inPeriod}) AS received,
      minIf(iv, ${inPeriod} AND iv > 0) AS interval_s,
      maxIf(md, ${inPeriod}) AS max_demand_w,
      -- First and last register of every bucket inside the period, in time order (register segments).
      arraySort((x, k) -> k, groupArrayIf(fw, ${inPeriod}), groupArrayIf(bk, ${inPeriod})) AS in_fw,
      arraySort((x, k) -> k, groupArrayIf(lw, ${inPeriod}), groupArrayIf(bk, ${inPeriod})) AS in_lw
    FROM (
      -- FINAL merges each bucket's states while streaming the sorted parts: no hash table of every bucket.
      SELECT meter_id, toUInt32(bucket) AS bk,
        toUInt32(finalizeAggregation(first_at)) AS fa, finalizeAggregation(first_wh) AS fw,
        toUInt32(finalizeAggregation(last_at)) AS la, finalizeAggregation(last_wh) AS lw,
        finalizeAggregation(interval_reads) AS n, finalizeAggregation(interval_s) AS iv, finalizeAggregation(max_demand_w) AS md
      FROM ${db}.reads_buckets FINAL
      WHERE bucket >= toDateTime(${sqlNumber(scanBound(q.from, 'min') - around)})
        AND bucket < toDateTime(${sqlNumber(scanBound(q.to, 'max') + around)}) ${onlyCustomer}
    )
    ANY INNER JOIN (
      SELECT meter_id, ${localMidnightSql(q.from)} AS b_start, ${localMidnightSql(q.to)} AS b_end, toUInt32(installed_at) AS installed
      FROM ${db}.meters_latest ${customer}
    ) USING meter_id
    GROUP BY meter_id, b_start, b_end, installed`;
}

/** The earliest (or latest) local midnight of `date` over all known zones: the scan range. */
function scanBound(date: string, which: 'min' | 'max'): number {
  const all = TIMEZONES.map((tz) => localMidnight(date, tz));
  return which === 'min' ? Math.min(...all) : Math.max(...all);
}

/** Boundary registers (startRegister / endRegister of billing.ts). */
function boundariesSql(q: UsageQuery): string {
  const asOf = sqlNumber(Math.floor(q.asOfMs / 1000));
  return `
    SELECT *,
      b_end > ${asOf} AS in_progress,
      -- The register went backwards between the two reads around a boundary: never interpolate.
      has_ps AND has_ns AND ns_t != b_start AND ps_e > ns_e AS start_reset,
      NOT in_progress AND has_pe AND has_ne AND pe_e > ne_e AS end_reset,
      multiIf(start_reset, toInt64(ns_e),
              has_ns AND ns_t = b_start, toInt64(ns_e),
              has_ps AND has_ns, ${interpolateSql('ps_t', 'ps_e', 'ns_t', 'ns_e', 'b_start')},
              has_ns, toInt64(ns_e),
              toInt64(ps_e)) AS energy_start_wh,
      multiIf(start_reset, 1,
              has_ns AND ns_t = b_start, 0,
              has_ps AND has_ns, ps_e != ns_e,
              has_ns, installed < b_start,
              1) AS start_est,
      multiIf(in_progress, if(has_pe, toInt64(pe_e), energy_start_wh),
              end_reset, toInt64(pe_e),
              has_ne AND ne_t = b_end, toInt64(ne_e),
              has_pe AND has_ne, ${interpolateSql('pe_t', 'pe_e', 'ne_t', 'ne_e', 'b_end')},
              has_pe, toInt64(pe_e),
              energy_start_wh) AS energy_end_wh,
      multiIf(in_progress, 0,
              end_reset, 1,
              has_ne AND ne_t = b_end, 0,
              has_pe AND has_ne, pe_e != ne_e,
              1) AS end_est,
      -- Sum over monotonic register segments (periodUsage of billing.ts): inside each bucket,
      -- between consecutive buckets and at both boundaries; a step down counts 0 and as a reset.
      length(in_fw) = 0 AS no_reads_inside,
      arraySum(arrayMap((f, l) -> greatest(toInt64(l) - toInt64(f), 0), in_fw, in_lw))
        + arraySum(arrayMap((f, l) -> greatest(toInt64(f) - toInt64(l), 0), arrayPopFront(in_fw), arrayPopBack(in_lw)))
        AS inside_wh,
      arraySum(arrayMap((f, l) -> toUInt32(l < f), in_fw, in_lw))
        + arraySum(arrayMap((f, l) -> toUInt32(f < l), arrayPopFront(in_fw), arrayPopBack(in_lw)))
        AS inside_resets,
      toUInt32(if(no_reads_inside, start_reset OR end_reset, start_reset + end_reset + inside_resets)) AS register_resets,
      toInt64(if(no_reads_inside,
        if(start_reset OR end_reset, 0, energy_end_wh - energy_start_wh),
        if(start_reset, 0, toInt64(in_fw[1]) - energy_start_wh) + inside_wh
          + if(end_reset, 0, energy_end_wh - toInt64(in_lw[-1])))) AS consumption_wh,
      toUInt32(if(interval_s = 0, 0,
        intDiv(greatest(toInt64(least(toUInt32(${asOf}), b_end)) - toInt64(greatest(b_start, installed)), 0), interval_s))) AS reads_expected
    FROM (${neighboursSql(q, sqlIdent(q.db))})
    WHERE installed < b_end AND (has_ps OR ns_t < b_end)`;
}

/** The tariff bands of each class in the version in force on the period's first day. */
function tariffsSql(q: UsageQuery, db: string): string {
  return `
    SELECT tariff, any(version) AS tariff_version,
      groupArray(daya_min_va) AS t_min, groupArray(daya_max_va) AS t_max,
      groupArray(rate_sen_per_kwh) AS t_rate, groupArray(min_charge_hours) AS t_hours
    FROM ${db}.tariffs FINAL
    WHERE version = (SELECT argMax(version, valid_from) FROM ${db}.tariffs WHERE valid_from <= ${sqlDate(q.from)})
    GROUP BY tariff`;
}

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

/** The SELECT producing BILLING_COLUMNS for every meter (or one IDPEL) over the period. */
export function usageSql(q: UsageQuery): string {
  const db = sqlIdent(q.db);
  const eligible = q.minimumEligible ? 1 : 0;
  return `
    SELECT
      meter_id, idpel, region, ulp, tariff, daya_va,
      ${sqlDate(q.from)} AS billing_period,
      toDateTime(b_start) AS period_start, toDateTime(b_end) AS period_end,
      energy_start_wh, energy_end_wh,
      toDecimal64(consumption_wh, 3) / 1000 AS kwh,
      toUInt32(received) AS reads_received, reads_expected,
      toUInt8(start_est OR end_est OR register_resets > 0) AS estimated,
      toUInt8(start_est) AS start_estimated, toUInt8(end_est) AS end_estimated,
      toUInt8(register_resets > 0) AS register_reset, register_resets,
      toUInt8(NOT in_progress) AS period_complete,
      max_demand_w, tariff_version,
      toUInt64(rate) AS rate_sen_per_kwh,
      ${roundPerMilleSql('greatest(consumption_wh, 0) * rate')} AS energy_charge_sen,
      ${roundPerMilleSql('toInt64(hours) * toInt64(daya_va) * rate')} AS minimum_charge_sen,
      toUInt8(${eligible} AND NOT in_progress AND minimum_charge_sen > energy_charge_sen) AS minimum_applied,
      if(minimum_applied, minimum_charge_sen, energy_charge_sen) AS amount_sen,
      toDecimal64(amount_sen, 2) / 100 AS amount_rp,
      now() AS computed_at
    FROM (
      SELECT *,
        arrayFirstIndex((lo, hi) -> daya_va >= lo AND daya_va <= hi, t_min, t_max) AS band,
        toInt64(t_rate[band]) AS rate,
        t_hours[band] AS hours
      FROM (
        SELECT * FROM (${boundariesSql(q)})
        ANY INNER JOIN (
          SELECT meter_id, idpel, region, ulp, tariff, daya_va FROM ${db}.meters_latest
        ) USING meter_id
      )
      ANY LEFT JOIN (${tariffsSql(q, db)}) USING tariff
    )`;
}

/** INSERT of one billing period into billing_usage. */
export function refreshBillingSql(q: UsageQuery): string {
  return `INSERT INTO ${sqlIdent(q.db)}.billing_usage (${BILLING_COLUMNS.join(', ')}) ${usageSql(q)}`;
}
