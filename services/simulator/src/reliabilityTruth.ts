import type { Fleet } from './fleet.js';
import type { InterruptionTruth, TruthLine } from './groundTruth.js';

/**
 * The ground truth's reliability indices (IEEE 1366-2012), per customer: pure
 * functions over the simulator's `customer_dark` truth lines. Each customer's
 * dark intervals are merged (overlapping outages count once); a merged
 * interval longer than 300 s is one sustained interruption of that customer
 * (CI += 1, CMI += its minutes), one of 300 s or less a momentary one
 * (CMO += 1). An interruption counts in the local month (the customer's region
 * time zone) in which it started. customers_served (N_T): the ULP's meters
 * installed in or before that local month, as `reliability_monthly` counts them.
 * See docs/analysts.md for the definitions and a worked example.
 */

/** IEEE 1366: an interruption of 5 minutes or less is momentary. */
export const MOMENTARY_MAX_MS = 300_000;

export type Interval = readonly [start: number, end: number];

/** Where a customer is counted. */
export interface CustomerPlace {
  region: string;
  ulp: string;
  /** The region's fixed UTC offset in hours (Indonesia keeps no daylight saving). */
  utcOffsetH: number;
}

/** The indices of one region, ULP and local month, named as `reliability_monthly`'s columns. */
export interface ReliabilityFigures {
  region: string;
  ulp: string;
  /** First day of the local month, `YYYY-MM-01`. */
  month: string;
  customers_served: number;
  /** CI: sustained customer interruptions. */
  customers_interrupted: number;
  /** CMI: customer-minutes of sustained interruptions. */
  customer_minutes: number;
  /** CMO: momentary customer interruptions. */
  customer_momentary: number;
  saidi_minutes: number;
  saifi: number;
  caidi_minutes: number;
  maifi: number;
}

/** One cell of the truth's indices. */
export interface ReliabilityCell extends ReliabilityFigures {
  /**
   * Customers whose supply came back within `pendingWithinMs` of the range end (see
   * `customerDarkIntervals`): counted above, but a detector may not have seen their restore yet.
   */
  pending_customers: number;
  /** Their sustained customer-minutes (in `customer_minutes` too). */
  pending_minutes: number;
}

/** The union of `intervals`, sorted; touching intervals merge (supply never came back between them). */
export function mergeIntervals(intervals: readonly Interval[]): [number, number][] {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [start, end] of sorted) {
    const last = out[out.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else out.push([start, end]);
  }
  return out;
}

export interface CustomerDark {
  /** Merged dark intervals of each customer (meter_id), ended at or before `until`. */
  byMeter: Map<string, [number, number][]>;
  /** Customers still dark at `until` (no duration yet: like an open outage, not counted). */
  stillDark: number;
}

/**
 * Each customer's merged dark intervals from the truth's `customer_dark` lines, keeping the
 * intervals that ended by `until` (default: all that ended within the simulated range).
 */
export function customerDarkIntervals(
  truth: Iterable<TruthLine>,
  until = Number.POSITIVE_INFINITY,
): CustomerDark {
  const raw = new Map<string, Interval[]>();
  let stillDark = 0;
  for (const line of truth) {
    if (line.kind !== 'customer_dark') continue;
    if (line.end === null || line.end > until) {
      if (line.start < until) stillDark += line.meter_ids.length;
      continue;
    }
    for (const id of line.meter_ids) {
      const list = raw.get(id);
      if (list) list.push([line.start, line.end]);
      else raw.set(id, [[line.start, line.end]]);
    }
  }
  const byMeter = new Map<string, [number, number][]>();
  for (const [id, list] of raw) byMeter.set(id, mergeIntervals(list));
  return { byMeter, stillDark };
}

/** `YYYY-MM-01` of the local month containing `ms` at a fixed UTC offset. */
export function localMonth(ms: number, utcOffsetH: number): string {
  return `${new Date(ms + utcOffsetH * 3_600_000).toISOString().slice(0, 7)}-01`;
}

export interface IndexInputs {
  byMeter: ReadonlyMap<string, readonly Interval[]>;
  placeOf: (meterId: string) => CustomerPlace | undefined;
  /** N_T of a region, ULP and local month. */
  servedOf: (region: string, ulp: string, month: string) => number;
  /** Customers whose interval ended after this time count as `pending_customers`. */
  pendingAfter?: number;
}

const cellKey = (region: string, ulp: string, month: string) => `${region}\u0000${ulp}\u0000${month}`;

/** The indices of every region, ULP and local month with at least one interruption, sorted. */
export function reliabilityIndices(input: IndexInputs): ReliabilityCell[] {
  const cells = new Map<string, ReliabilityCell>();
  const pendingAfter = input.pendingAfter ?? Number.POSITIVE_INFINITY;
  for (const [meterId, intervals] of input.byMeter) {
    const place = input.placeOf(meterId);
    if (!place) throw new RangeError(`customer ${meterId} of the ground truth is not in the fleet`);
    for (const [start, end] of intervals) {
      const month = localMonth(start, place.utcOffsetH);
      const key = cellKey(place.region, place.ulp, month);
      let c = cells.get(key);
      if (!c) {
        c = emptyCell(place.region, place.ulp, month, input.servedOf(place.region, place.ulp, month));
        cells.set(key, c);
      }
      const sustained = end - start > MOMENTARY_MAX_MS;
      const minutes = sustained ? (end - start) / 60_000 : 0;
      if (sustained) c.customers_interrupted++;
      else c.customer_momentary++;
      c.customer_minutes += minutes;
      if (end > pendingAfter) {
        c.pending_customers++;
        c.pending_minutes += minutes;
      }
    }
  }
  return [...cells.values()].map(withIndices).sort(byPlaceAndMonth);
}

function emptyCell(region: string, ulp: string, month: string, served: number): ReliabilityCell {
  return {
    region,
    ulp,
    month,
    customers_served: served,
    customers_interrupted: 0,
    customer_minutes: 0,
    customer_momentary: 0,
    saidi_minutes: 0,
    saifi: 0,
    caidi_minutes: 0,
    maifi: 0,
    pending_customers: 0,
    pending_minutes: 0,
  };
}

/** SAIDI = CMI / N_T, SAIFI = CI / N_T, CAIDI = CMI / CI, MAIFI = CMO / N_T (0 when the divisor is 0), as the view. */
export function withIndices(c: ReliabilityCell): ReliabilityCell {
  const n = c.customers_served;
  return {
    ...c,
    saidi_minutes: n === 0 ? 0 : c.customer_minutes / n,
    saifi: n === 0 ? 0 : c.customers_interrupted / n,
    caidi_minutes: c.customers_interrupted === 0 ? 0 : c.customer_minutes / c.customers_interrupted,
    maifi: n === 0 ? 0 : c.customer_momentary / n,
  };
}

export function byPlaceAndMonth(
  a: { region: string; ulp: string; month: string },
  b: { region: string; ulp: string; month: string },
): number {
  return a.region.localeCompare(b.region) || a.ulp.localeCompare(b.ulp) || a.month.localeCompare(b.month);
}

/** Months since year 0 of the local month containing `ms` (cheap to compare, no string). */
function monthIndex(ms: number, utcOffsetH: number): number {
  const d = new Date(ms + utcOffsetH * 3_600_000);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
}

/** Where each meter of a fleet is counted, and its N_T per local month (installations up to that month). */
export function fleetPlaces(fleet: Fleet): Pick<IndexInputs, 'placeOf' | 'servedOf'> {
  // Per ULP: meters installed per local month, then cumulated over the sorted months.
  const installs = new Map<string, Map<number, number>>();
  for (const feeder of fleet.feeders) {
    const { ulp } = feeder;
    const key = `${ulp.region.code}\u0000${ulp.name}`;
    let byMonth = installs.get(key);
    if (!byMonth) installs.set(key, (byMonth = new Map()));
    for (const g of feeder.gardu) {
      const { first, end } = fleet.metersOfGardu(g);
      for (let m = first; m < end; m++) {
        const month = monthIndex(fleet.installedAt(m), ulp.region.utcOffsetH);
        byMonth.set(month, (byMonth.get(month) ?? 0) + 1);
      }
    }
  }
  const cumulative = new Map<string, { months: number[]; served: number[] }>();
  for (const [key, byMonth] of installs) {
    const months = [...byMonth.keys()].sort((a, b) => a - b);
    let total = 0;
    cumulative.set(key, { months, served: months.map((m) => (total += byMonth.get(m)!)) });
  }
  return {
    placeOf(meterId) {
      const m = fleet.meterIndex(meterId);
      if (m === undefined) return undefined;
      const ulp = fleet.feederOfGardu(fleet.meterGardu[m]!).ulp;
      return { region: ulp.region.code, ulp: ulp.name, utcOffsetH: ulp.region.utcOffsetH };
    },
    servedOf(region, ulp, month) {
      const c = cumulative.get(`${region}\u0000${ulp}`);
      if (!c) return 0;
      const at = Number(month.slice(0, 4)) * 12 + Number(month.slice(5, 7)) - 1;
      const i = countAtMost(c.months, at);
      return i === 0 ? 0 : c.served[i - 1]!;
    },
  };
}

/** How many of the sorted `values` are <= `x`. */
function countAtMost(values: readonly number[], x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface TruthIndexOptions {
  /** End of the replayed range: intervals ending later are not counted (the default: all that ended). */
  until?: number;
  /** Customers restored within this long before `until` are marked pending (a restore the detector may not have seen). */
  pendingWithinMs?: number;
}

/** The ground truth's indices for a simulated fleet. */
export function truthReliability(
  truth: Iterable<TruthLine>,
  fleet: Fleet,
  o: TruthIndexOptions = {},
): { cells: ReliabilityCell[]; stillDark: number; unseen: number } {
  const until = o.until ?? Number.POSITIVE_INFINITY;
  const lines = [...truth];
  const { byMeter, stillDark } = customerDarkIntervals(lines, until);
  const unseen = dropUnseen(byMeter, unseenInterruptions(lines, fleet));
  const cells = reliabilityIndices({
    byMeter,
    ...fleetPlaces(fleet),
    pendingAfter: until - (o.pendingWithinMs ?? 0),
  });
  return { cells, stillDark, unseen };
}

/**
 * A lone meter whose last gasp the network lost (or an AMR meter, which sends none) says nothing
 * while it is dark: no pipeline can
 * count that interruption when it happens (its next read shows only a gap). Such interruptions,
 * unless a wider interruption covering the meter overlaps them, are taken out of the truth's
 * indices and reported apart (`unseen`), so a judge neither blames nor excuses them silently.
 * Returns meter id -> the start times of its unseen interruptions.
 */
export function unseenInterruptions(lines: readonly TruthLine[], fleet: Fleet): Map<string, number[]> {
  const wider = lines.filter((l): l is InterruptionTruth => l.kind === 'interruption' && l.scope !== 'METER');
  const covers = (w: InterruptionTruth, meterId: string, start: number, end: number): boolean => {
    if (w.start > end || w.end < start) return false;
    const m = fleet.meterIndex(meterId);
    if (m === undefined) return false;
    const g = fleet.meterGardu[m]!;
    const feeder = fleet.feederOfGardu(g);
    if (w.scope === 'GARDU') return w.gardu_id === fleet.garduIds[g];
    if (w.scope === 'FEEDER') return w.feeder_id === feeder.id;
    return w.region === feeder.ulp.region.code;
  };
  const out = new Map<string, number[]>();
  for (const l of lines) {
    if (l.kind !== 'interruption' || l.scope !== 'METER') continue;
    if (l.last_gasps_delivered > 0) continue; // an AMR meter sends none
    for (const id of l.meter_ids) {
      if (wider.some((w) => covers(w, id, l.start, l.end))) continue;
      const starts = out.get(id);
      if (starts) starts.push(l.start);
      else out.set(id, [l.start]);
    }
  }
  return out;
}

/** Removes the dark intervals that begin with an unseen interruption; returns how many were removed. */
function dropUnseen(byMeter: Map<string, [number, number][]>, unseen: Map<string, number[]>): number {
  let dropped = 0;
  for (const [id, starts] of unseen) {
    const intervals = byMeter.get(id);
    if (!intervals) continue;
    const kept = intervals.filter(([start]) => !starts.includes(start));
    dropped += intervals.length - kept.length;
    if (kept.length === 0) byMeter.delete(id);
    else byMeter.set(id, kept);
  }
  return dropped;
}
