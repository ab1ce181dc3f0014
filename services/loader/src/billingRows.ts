/**
 * BillRows out: RowBinary for the INSERT into billing_usage (BILLING_COLUMNS
 * order), or the JSON shape `ami usage` always printed (as ClickHouse's
 * JSONEachRow gave it: Decimals and 64-bit integers as numbers).
 */
import type { BillRow } from './billingScan.js';
import type { UsageRow } from './billingStore.js';
import { RowBinaryWriter } from './rowbinary.js';

const dayNumber = (date: string) => Date.parse(`${date}T00:00:00Z`) / 86_400_000;

/** The RowBinary body of INSERT INTO billing_usage (BILLING_COLUMNS), period `from`, written at `computedAt`. */
export function encodeBills(rows: readonly BillRow[], from: string, computedAt: number): Buffer {
  const w = new RowBinaryWriter();
  const period = dayNumber(from);
  for (const r of rows) {
    const m = r.meter;
    w.string(m.meter_id);
    w.string(m.idpel);
    w.string(m.region);
    w.string(m.ulp);
    w.string(m.tariff);
    w.u32(m.daya_va);
    w.u16(period);
    w.u32(r.periodStart);
    w.u32(r.periodEnd);
    w.i64(r.startWh);
    w.i64(r.endWh);
    w.i64(r.wh); // kwh Decimal(18, 3): Wh exactly
    w.u32(r.readsReceived);
    w.u32(r.readsExpected);
    w.u8(r.estimated ? 1 : 0);
    w.u8(r.startEstimated ? 1 : 0);
    w.u8(r.endEstimated ? 1 : 0);
    w.u8(r.resets > 0 ? 1 : 0);
    w.u32(r.resets);
    w.u8(r.periodComplete ? 1 : 0);
    w.i32(r.maxDemandW);
    w.string(r.tariffVersion);
    w.i64(r.rateSen);
    w.i64(r.energySen);
    w.i64(r.minimumSen);
    w.u8(r.minimumApplied ? 1 : 0);
    w.i64(r.amountSen);
    w.i64(r.amountSen); // amount_rp Decimal(18, 2): sen exactly
    w.u32(computedAt);
  }
  return w.take();
}

const dateTime = (s: number) => new Date(s * 1000).toISOString().slice(0, 19).replace('T', ' ');

/** A bill as `ami usage` shows it (the columns and JSON types of billing_usage). */
export function usageRowOf(r: BillRow, from: string, computedAt: number): UsageRow & { computed_at: string } {
  // The meter's labels, as UsageRow takes them from MeterProfileRow.
  const { timezone: _timezone, installed: _installed, ...labels } = r.meter;
  return {
    ...labels,
    billing_period: from,
    period_start: dateTime(r.periodStart),
    period_end: dateTime(r.periodEnd),
    energy_start_wh: r.startWh,
    energy_end_wh: r.endWh,
    // Wh / 1000 is the double nearest the exact decimal, as parsing ClickHouse's "49.500" gives.
    kwh: r.wh / 1000,
    reads_received: r.readsReceived,
    reads_expected: r.readsExpected,
    estimated: r.estimated ? 1 : 0,
    start_estimated: r.startEstimated ? 1 : 0,
    end_estimated: r.endEstimated ? 1 : 0,
    register_reset: r.resets > 0 ? 1 : 0,
    register_resets: r.resets,
    period_complete: r.periodComplete ? 1 : 0,
    max_demand_w: r.maxDemandW,
    tariff_version: r.tariffVersion,
    rate_sen_per_kwh: r.rateSen,
    energy_charge_sen: r.energySen,
    minimum_charge_sen: r.minimumSen,
    minimum_applied: r.minimumApplied ? 1 : 0,
    amount_sen: r.amountSen,
    amount_rp: r.amountSen / 100,
    computed_at: dateTime(computedAt),
  };
}
