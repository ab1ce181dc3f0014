import type { ClickHouseClient } from '@clickhouse/client';
import { sqlDate, sqlIdent, ValidationError } from '@ami/lib';
import { refreshBillingSql, usageSql, type UsageQuery } from './billing-sql.js';
import { monthBounds, nextDay } from './timezones.js';

/** A billing_usage row as JSON (Decimals and Int64 come back as strings or numbers). */
export interface UsageRow {
  meter_id: string;
  idpel: string;
  region: string;
  ulp: string;
  tariff: string;
  daya_va: number;
  billing_period: string;
  period_start: string;
  period_end: string;
  energy_start_wh: number;
  energy_end_wh: number;
  kwh: string;
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
  amount_rp: string;
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
  await ch.command({ query: refreshBillingSql(q), clickhouse_settings: { max_execution_time: 600 } });
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
  const rs = await ch.query({ query: `${usageSql(q)} ORDER BY meter_id`, format: 'JSONEachRow' });
  return rs.json<UsageRow>();
}
