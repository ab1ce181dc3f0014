/**
 * Billing arithmetic as plain functions. The SQL in billing-sql.ts computes
 * the same numbers inside ClickHouse; tests compare both.
 *
 * Rounding rule (money and energy are integers, nothing is a float):
 * - Rates are integer sen per kWh (Rp 1,444.70 = 144470 sen).
 * - Energy charge (sen) = Wh x rate / 1000, rounded half up to a whole sen.
 * - Minimum charge (sen) = hours x VA x rate / 1000, rounded half up to a whole sen.
 * - Amount = the larger of the two when the minimum applies, else the energy
 *   charge; amount_rp = amount_sen / 100 exactly (2 decimals). No other rounding.
 * - An interpolated register is rounded half up to a whole Wh.
 */

export interface TariffRow {
  version: string;
  valid_from: string; // YYYY-MM-DD
  tariff: string;
  daya_min_va: number;
  daya_max_va: number;
  rate_sen_per_kwh: number;
  subsidised: boolean;
  min_charge_hours: number;
}

/** n / d rounded half up, for n >= 0 and d > 0 (exact with bigint). */
export function roundDiv(n: bigint, d: bigint): bigint {
  return (n * 2n + d) / (d * 2n);
}

/** "1444.70" → 144470 sen, exactly (no float parsing). */
export function rupiahToSen(rp: string): number {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(rp);
  if (!m) throw new Error(`not a rupiah amount with at most 2 decimals: ${JSON.stringify(rp)}`);
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

/** 7512440 → "75124.40". */
export function senToRupiah(sen: number): string {
  const sign = sen < 0 ? '-' : '';
  const abs = Math.abs(sen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** The tariff version in force on `periodStart` (latest valid_from on or before it). */
export function tariffVersionAt(rows: readonly TariffRow[], periodStart: string): string | undefined {
  let best: TariffRow | undefined;
  for (const r of rows)
    if (r.valid_from <= periodStart && (!best || r.valid_from > best.valid_from)) best = r;
  return best?.version;
}

export function findTariff(
  rows: readonly TariffRow[],
  tariff: string,
  dayaVa: number,
  periodStart: string,
): TariffRow | undefined {
  const version = tariffVersionAt(rows, periodStart);
  return rows.find(
    (r) => r.version === version && r.tariff === tariff && dayaVa >= r.daya_min_va && dayaVa <= r.daya_max_va,
  );
}

export function energyChargeSen(wh: number, rateSen: number): number {
  return Number(roundDiv(BigInt(Math.max(wh, 0)) * BigInt(rateSen), 1000n));
}

export function minimumChargeSen(dayaVa: number, rateSen: number, hours: number): number {
  return Number(roundDiv(BigInt(hours) * BigInt(dayaVa) * BigInt(rateSen), 1000n));
}

export interface Charge {
  energySen: number;
  minimumSen: number;
  minimumApplied: boolean;
  amountSen: number;
}

/**
 * The amount for `wh` consumed. The minimum charge applies only to a complete
 * billing month (not to a month in progress or an arbitrary usage period).
 */
export function charge(
  wh: number,
  dayaVa: number,
  tariff: TariffRow | undefined,
  minimumEligible: boolean,
): Charge {
  const rate = tariff?.rate_sen_per_kwh ?? 0;
  const energySen = energyChargeSen(wh, rate);
  const minimumSen = minimumChargeSen(dayaVa, rate, tariff?.min_charge_hours ?? 0);
  const minimumApplied = minimumEligible && minimumSen > energySen;
  return { energySen, minimumSen, minimumApplied, amountSen: minimumApplied ? minimumSen : energySen };
}

/** A read reduced to what billing needs: epoch seconds and register Wh. */
export interface RegisterPoint {
  t: number;
  wh: number;
}

/** Register at `at` on the straight line between two reads, rounded half up to a Wh. */
export function interpolateWh(prev: RegisterPoint, next: RegisterPoint, at: number): number {
  const num = BigInt(next.wh - prev.wh) * BigInt(at - prev.t);
  const den = BigInt(next.t - prev.t);
  return prev.wh + Number((num * 2n + den) / (den * 2n));
}

export interface Boundary {
  wh: number;
  estimated: boolean;
}

/**
 * The register at a period's START boundary `at`. `prev` is the last read
 * before it, `next` the first read at or after it. A meter installed at or
 * after the boundary starts at its first read, exactly.
 */
export function startRegister(
  prev: RegisterPoint | undefined,
  next: RegisterPoint | undefined,
  at: number,
  installedAt: number,
): Boundary | undefined {
  if (next && next.t === at) return { wh: next.wh, estimated: false };
  if (prev && next) return { wh: interpolateWh(prev, next, at), estimated: prev.wh !== next.wh };
  if (next) return { wh: next.wh, estimated: installedAt < at };
  if (prev) return { wh: prev.wh, estimated: true };
  return undefined;
}

/** The register at a period's END boundary; a period in progress ends at its latest read. */
export function endRegister(
  prev: RegisterPoint | undefined,
  next: RegisterPoint | undefined,
  at: number,
  inProgress: boolean,
  start: Boundary,
): Boundary {
  if (inProgress) return { wh: prev?.wh ?? start.wh, estimated: false };
  if (next && next.t === at) return { wh: next.wh, estimated: false };
  if (prev && next) return { wh: interpolateWh(prev, next, at), estimated: prev.wh !== next.wh };
  return { wh: prev?.wh ?? start.wh, estimated: true };
}

/** Last read strictly before `at` and first read at or after it (duplicates harmless). */
export function neighbours(
  reads: readonly RegisterPoint[],
  at: number,
): { prev?: RegisterPoint; next?: RegisterPoint } {
  let prev: RegisterPoint | undefined;
  let next: RegisterPoint | undefined;
  for (const r of reads) {
    if (r.t < at && (!prev || r.t > prev.t)) prev = r;
    if (r.t >= at && (!next || r.t < next.t)) next = r;
  }
  return { prev, next };
}

export interface PeriodUsage {
  startWh: number;
  endWh: number;
  wh: number;
  startEstimated: boolean;
  endEstimated: boolean;
  estimated: boolean;
  periodComplete: boolean;
}

/**
 * Consumption of one meter between two boundaries (epoch seconds), from its
 * reads; the reference the SQL is tested against.
 */
export function periodUsage(
  reads: readonly RegisterPoint[],
  start: number,
  end: number,
  installedAt: number,
  asOf: number,
): PeriodUsage | undefined {
  const s = neighbours(reads, start);
  const startB = startRegister(s.prev, s.next, start, installedAt);
  if (!startB) return undefined;
  const e = neighbours(reads, end);
  const periodComplete = end <= asOf;
  const endB = endRegister(e.prev, e.next, end, !periodComplete, startB);
  return {
    startWh: startB.wh,
    endWh: endB.wh,
    wh: endB.wh - startB.wh,
    startEstimated: startB.estimated,
    endEstimated: endB.estimated,
    estimated: startB.estimated || endB.estimated,
    periodComplete,
  };
}
