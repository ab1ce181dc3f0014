/**
 * BillRows out: RowBinary for the INSERT into billing_usage (BILLING_COLUMNS
 * order), or the JSON shape `ami usage` always printed (as ClickHouse's
 * JSONEachRow gave it: Decimals and 64-bit integers as numbers).
 */
import type { BillRow } from './billing-scan.js';
import type { UsageRow } from './billing-store.js';

const TWO_32 = 4294967296;

/** Just the RowBinary primitives billing_usage needs, on a growable buffer. */
class Writer {
  private buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  string(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.ensure(n + 5);
    for (let v = n; ; v = Math.floor(v / 128)) {
      if (v < 0x80) {
        this.buf[this.pos++] = v;
        break;
      }
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
    }
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  u8(v: boolean | number): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  u16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeUInt16LE(v, this.pos);
  }

  u32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeUInt32LE(v, this.pos);
  }

  i32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeInt32LE(v, this.pos);
  }

  /** Int64 / UInt64 / Decimal64 from a safe integer, two's complement. */
  i64(v: number): void {
    this.ensure(8);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.buf.writeInt32LE(Math.floor(v / TWO_32), this.pos + 4);
    this.pos += 8;
  }

  take(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

const dayNumber = (date: string) => Date.parse(`${date}T00:00:00Z`) / 86_400_000;

/** The RowBinary body of INSERT INTO billing_usage (BILLING_COLUMNS), period `from`, written at `computedAt`. */
export function encodeBills(rows: readonly BillRow[], from: string, computedAt: number): Buffer {
  const w = new Writer();
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
    w.u8(r.estimated);
    w.u8(r.startEstimated);
    w.u8(r.endEstimated);
    w.u8(r.resets > 0);
    w.u32(r.resets);
    w.u8(r.periodComplete);
    w.i32(r.maxDemandW);
    w.string(r.tariffVersion);
    w.i64(r.rateSen);
    w.i64(r.energySen);
    w.i64(r.minimumSen);
    w.u8(r.minimumApplied);
    w.i64(r.amountSen);
    w.i64(r.amountSen); // amount_rp Decimal(18, 2): sen exactly
    w.u32(computedAt);
  }
  return w.take();
}

const dateTime = (s: number) => new Date(s * 1000).toISOString().slice(0, 19).replace('T', ' ');

/** A bill as `ami usage` shows it (the columns and JSON types of billing_usage). */
export function usageRowOf(r: BillRow, from: string, computedAt: number): UsageRow & { computed_at: string } {
  const m = r.meter;
  return {
    meter_id: m.meter_id,
    idpel: m.idpel,
    region: m.region,
    ulp: m.ulp,
    tariff: m.tariff,
    daya_va: m.daya_va,
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
