/**
 * Billing arithmetic as plain functions: the one statement of the money rule.
 * The billing refresh and `ami usage` (billingScan.ts) apply these same
 * functions to the bucket and day summaries; tests compare that with
 * periodUsage on every read.
 *
 * Rounding rule (money and energy are integers, nothing is a float):
 * - Rates are integer sen per kWh (Rp 1,444.70 = 144470 sen).
 * - Energy charge (sen) = Wh x rate / 1000, rounded half up to a whole sen.
 * - Minimum charge (sen) = hours x VA x rate / 1000, rounded half up to a whole sen.
 * - Amount = the larger of the two when the minimum applies, else the energy
 *   charge; amount_rp = amount_sen / 100 exactly (2 decimals). No other rounding.
 * - An interpolated register is rounded half up to a whole Wh.
 */
import { ValidationError } from '@ami/lib';

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
  if (!m) throw new ValidationError(`not a rupiah amount with at most 2 decimals: ${JSON.stringify(rp)}`);
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

/** A meter's tariff in one version: its class and power band's row, and the version a bill names. */
export interface TariffChoice {
  row: TariffRow | undefined;
  /** Empty when the version has no such class at all (the bill names no version). */
  version: string;
}

/** THE tariff lookup: the row of class `tariff` whose power band holds `dayaVa` in `version`. */
export function tariffIn(
  rows: readonly TariffRow[],
  version: string | undefined,
  tariff: string,
  dayaVa: number,
): TariffChoice {
  const inVersion = rows.filter((r) => r.version === version && r.tariff === tariff);
  return {
    row: inVersion.find((r) => dayaVa >= r.daya_min_va && dayaVa <= r.daya_max_va),
    version: inVersion.length > 0 ? version! : '',
  };
}

/** The tariff row in force on `periodStart` (tariffIn of the version of that day). */
export function findTariff(
  rows: readonly TariffRow[],
  tariff: string,
  dayaVa: number,
  periodStart: string,
): TariffRow | undefined {
  return tariffIn(rows, tariffVersionAt(rows, periodStart), tariff, dayaVa).row;
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
  /** Times the register went backwards (meter replaced or reset) in or across the period. */
  resets: number;
}

/**
 * The registers inside a period, folded in time order into monotonic segments:
 * the first and last register, the sum of every rise between consecutive
 * registers, and the number of steps down (resets, which count 0).
 */
export interface Segments {
  firstWh: number;
  lastWh: number;
  risingWh: number;
  resets: number;
}

/** Adds the next register inside the period, in time order (mutates and returns `seg`). */
export function addRegister(seg: Segments | undefined, wh: number): Segments {
  if (!seg) return { firstWh: wh, lastWh: wh, risingWh: 0, resets: 0 };
  const d = wh - seg.lastWh;
  if (d < 0) seg.resets++;
  else seg.risingWh += d;
  seg.lastWh = wh;
  return seg;
}

/** The shorter of two read intervals in seconds, 0 meaning none known. */
export function shortestInterval(a: number, b: number): number {
  return b > 0 && (a === 0 || b < a) ? b : a;
}

/**
 * Appends a run of registers already folded (first, last, rises, resets, in
 * time order) after `seg`: the same as adding its registers one by one, so a
 * bucket or a whole day's summary folds like its reads (mutates and returns `seg`).
 * A bucket of first register f and last l is the run (f, l, max(l - f, 0), l < f ? 1 : 0).
 */
export function appendSegment(
  seg: Segments | undefined,
  firstWh: number,
  lastWh: number,
  risingWh: number,
  resets: number,
): Segments {
  if (!seg) return { firstWh, lastWh, risingWh, resets };
  const d = firstWh - seg.lastWh;
  if (d < 0) seg.resets++;
  else seg.risingWh += d;
  seg.risingWh += risingWh;
  seg.resets += resets;
  seg.lastWh = lastWh;
  return seg;
}

/**
 * All the billing rule needs of a meter's reads for one period: the reads
 * around each boundary (last before, first at or after) and the segments
 * inside. periodUsage builds it from every read; the billing refresh
 * (billingScan.ts) from the bucket or day summaries, whose first and last
 * register per bucket are reads too (so both go through usageOf).
 */
export interface PeriodReads {
  startPrev?: RegisterPoint;
  startNext?: RegisterPoint;
  endPrev?: RegisterPoint;
  endNext?: RegisterPoint;
  /** Undefined when no read lies inside the period. */
  inside?: Segments;
}

/**
 * Consumption of one meter between two boundaries (epoch seconds), from its
 * reads; the reference the bucket-based refresh is tested against.
 *
 * Register resets (README "Billing rule"): consumption is the sum over the
 * monotonic segments of the register. Between two consecutive reads the
 * register may only go up; when it goes down (meter replaced or reset) the
 * consumption between the last pre-reset read and the first post-reset read
 * is unknown: it counts as 0 and the period is estimated (never netted, never
 * negative). A boundary is never interpolated across a reset: the start of a
 * period whose start boundary falls inside a reset gap is the first read after
 * it, the end of one whose end boundary falls inside a reset gap is the last
 * read before it. A reset whose gap contains a boundary is counted in both
 * periods; one at a read exactly on the boundary belongs to the period before.
 */
export function periodUsage(
  reads: readonly RegisterPoint[],
  start: number,
  end: number,
  installedAt: number,
  asOf: number,
): PeriodUsage | undefined {
  const s = neighbours(reads, start);
  const e = neighbours(reads, end);
  // Reads inside the period, one per instant, in time order.
  const inside = [
    ...new Map(reads.filter((r) => r.t >= start && r.t < end).map((r) => [r.t, r])).values(),
  ].sort((a, b) => a.t - b.t);
  let seg: Segments | undefined;
  for (const r of inside) seg = addRegister(seg, r.wh);
  return usageOf(
    { startPrev: s.prev, startNext: s.next, endPrev: e.prev, endNext: e.next, inside: seg },
    start,
    end,
    installedAt,
    asOf,
  );
}

/** The billing rule on a period's boundary neighbours and inside segments (see periodUsage). */
export function usageOf(
  p: PeriodReads,
  start: number,
  end: number,
  installedAt: number,
  asOf: number,
): PeriodUsage | undefined {
  const { startPrev: sp, startNext: sn, endPrev: ep, endNext: en, inside } = p;
  const periodComplete = end <= asOf;
  const startReset = !!(sp && sn && sn.t !== start && sp.wh > sn.wh);
  const endReset = !!(periodComplete && ep && en && ep.wh > en.wh);
  let startB = startRegister(sp, sn, start, installedAt);
  if (!startB) return undefined;
  if (startReset) startB = { wh: sn!.wh, estimated: true };
  let endB = endRegister(ep, en, end, !periodComplete, startB);
  if (endReset) endB = { wh: ep!.wh, estimated: true };
  let wh = 0;
  let resets = 0;
  if (!inside) {
    // No read in the period: one pair of reads spans it (both boundaries share it).
    if (startReset || endReset) resets = 1;
    else wh = endB.wh - startB.wh;
  } else {
    if (startReset) resets++;
    else wh += inside.firstWh - startB.wh;
    wh += inside.risingWh;
    resets += inside.resets;
    if (endReset) resets++;
    else wh += endB.wh - inside.lastWh;
  }
  return {
    startWh: startB.wh,
    endWh: endB.wh,
    wh,
    startEstimated: startB.estimated,
    endEstimated: endB.estimated,
    estimated: startB.estimated || endB.estimated || resets > 0,
    periodComplete,
    resets,
  };
}
