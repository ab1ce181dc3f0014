import fc from 'fast-check';
import {
  advance,
  applyInput,
  inputTime,
  type DetectorState,
  type Input,
  type OutageRecord,
} from '../src/rules.js';
import type { Kdpm } from '@ami/lib';
import { T0, World, event, meterId, read, type GarduSpec } from './world.js';

/**
 * Random compositions of interruptions on a small fleet (one feeder of 3-4 gardu), with their ground
 * truth (each customer's dark intervals) and the telemetry the meters would send: what the generative
 * tests of the rules feed them and judge them by.
 *
 * Meter indexes per gardu: 0 is AMR when the gardu has one (world.ts: the first `amr` meters); the next
 * two AMI meters are "prone" (the only ones a METER fault hits: a blown service fuse); the last one
 * is disconnected (tusbung) when the gardu has one. Everything else is plain AMI.
 */

export const FEEDER = 'F1';
const S = 1000;
const MOMENTARY_MAX_S = 200;
const SUSTAINED_MIN_S = 600;

export interface GarduPlan {
  id: string;
  meters: number;
  amr: 0 | 1;
  tusbung: boolean;
  /** Plain AMI meters whose last gasps (resp. power restores) never arrive. */
  lostGasps: number[];
  lostRestores: number[];
  /**
   * Plain AMI meters on PLC: their gardu's data concentrator dies with it, so they send no last gasp
   * when it goes dark (plain meters only go dark with their gardu), but their power restores arrive.
   * The other AMI meters are cellular. Absent: none (every AMI meter cellular). Before, absent meant
   * PLC meters that gasp, which the rules' model of the media (and the simulator) never produces.
   */
  plc?: number[];
  /** A customer-side power-limit trip: relay OPEN then CLOSED again, supply never lost. */
  trip: { meter: number; at: number; durS: number } | null;
}

export interface Fault {
  what: string;
  /** Gardu index (all gardu for a feeder fault). */
  gardus: number[];
  /** Meter indexes hit, or null: every meter of the gardu. */
  meters: number[] | null;
  start: number;
  end: number;
}

export interface Composition {
  gardus: GarduPlan[];
  faults: Fault[];
  /** Per-customer event-time jitter of a fault's start and end (ms below one second). */
  jitterSeed: number;
  /** Event ids delivered twice (indexes into the events, modulo their count). */
  duplicates: number[];
}

export function prone(g: GarduPlan): number[] {
  return [g.amr, g.amr + 1];
}

function plainAmi(g: GarduPlan): number[] {
  const out: number[] = [];
  for (let i = g.amr + 2; i < g.meters - (g.tusbung ? 1 : 0); i++) out.push(i);
  return out;
}

export function specs(c: Composition): GarduSpec[] {
  return c.gardus.map((g) => ({
    id: g.id,
    meters: g.meters,
    amr: g.amr,
    feeder: FEEDER,
    kdpm: cellularExcept(g, g.plc ?? []),
  }));
}

/** KDPM by meter index: S for every AMI meter but the PLC ones (L). */
function cellularExcept(g: GarduPlan, plc: number[]): Record<number, Kdpm> {
  const kdpm: Record<number, Kdpm> = {};
  for (let i = g.amr; i < g.meters; i++) if (!plc.includes(i)) kdpm[i] = 'S';
  return kdpm;
}

// ---------------------------------------------------------------- generation

const garduPlan = (id: string): fc.Arbitrary<GarduPlan> =>
  fc
    .record({
      meters: fc.integer({ min: 5, max: 10 }),
      amr: fc.constantFrom<0 | 1>(0, 1),
      tusbung: fc.boolean(),
      lostGaspShare: fc.double({ min: 0, max: 1, noNaN: true }),
      lostRestoreShare: fc.double({ min: 0, max: 1, noNaN: true }),
      plcShare: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
      trip: fc.option(
        fc.record({ at: fc.integer({ min: 0, max: 4 * 3600 }), durS: fc.integer({ min: 30, max: 3600 }) }),
      ),
    })
    .map(({ meters, amr, tusbung, lostGaspShare, lostRestoreShare, plcShare, trip }) => {
      const g: GarduPlan = { id, meters, amr, tusbung, lostGasps: [], lostRestores: [], trip: null };
      // At least 3 AMI meters keep their last gasp: the gardu outage stays provable from gasps alone.
      const plain = plainAmi(g);
      const canLose = Math.max(0, plain.length + 2 - 3);
      g.lostGasps = plain.slice(0, Math.floor(canLose * lostGaspShare));
      // At least one plain meter's power restore arrives: the gardu's restore is known when it happens.
      // Disjoint from the lost gasps: a meter whose restore and next last gasp were both lost, with no
      // read between, is taken as dark throughout (nothing tells otherwise).
      const restorable = plain.slice(g.lostGasps.length);
      g.lostRestores = restorable.slice(
        restorable.length - Math.floor(Math.max(0, restorable.length - 1) * lostRestoreShare),
      );
      if (trip) g.trip = { meter: plain[plain.length - 1] ?? g.amr, at: T0 + trip.at * S, durS: trip.durS };
      // PLC among the meters whose gasps would arrive, keeping 3 that do (the 2 prone ones included).
      if (plcShare !== null) {
        const gasping = plain.slice(g.lostGasps.length);
        g.plc = gasping.slice(0, Math.floor(Math.max(0, gasping.length - 1) * plcShare));
      }
      return g;
    });

/** Durations keep clear of the 300 s momentary bound (jitter is below a second). */
const duration = fc.oneof(
  fc.integer({ min: 10, max: MOMENTARY_MAX_S }),
  fc.integer({ min: SUSTAINED_MIN_S, max: 2 * 3600 }),
);
const startS = fc.integer({ min: 0, max: 3 * 3600 });
const pronePick = fc.constantFrom<number[]>([0], [1], [0, 1]);

/** One physical event, possibly several faults (an escalation, a gardu outlasting its feeder). */
const episode = (n: number): fc.Arbitrary<Fault[]> =>
  fc.oneof(
    fc.record({ s: startS, d: duration }).map(({ s, d }) => [fault('feeder', range(n), null, s, d)]),
    fc
      .record({ g: fc.nat(n - 1), s: startS, d: duration })
      .map(({ g, s, d }) => [fault('gardu', [g], null, s, d)]),
    fc
      .record({ g: fc.nat(n - 1), p: pronePick, s: startS, d: duration })
      .map(({ g, p, s, d }) => [fault('meter', [g], p, s, d)]),
    // A fuse, then the transformer (inside or beyond the confirmation delay); the fuse may outlast it.
    fc
      .record({
        g: fc.nat(n - 1),
        p: pronePick,
        s: startS,
        delayS: fc.integer({ min: 5, max: 900 }),
        d: fc.integer({ min: SUSTAINED_MIN_S, max: 2 * 3600 }),
        lingerS: fc.oneof(fc.constant(0), fc.integer({ min: 60, max: 1800 })),
      })
      .map(({ g, p, s, delayS, d, lingerS }) => [
        fault('escalation-fuse', [g], p, s, delayS + d + lingerS),
        fault('escalation-gardu', [g], null, s + delayS, d),
      ]),
    // A feeder outage with one gardu dark longer (its own fault found during the feeder's).
    fc
      .record({
        g: fc.nat(n - 1),
        s: startS,
        d: fc.integer({ min: SUSTAINED_MIN_S, max: 3600 }),
        extraS: fc.integer({ min: 60, max: 3600 }),
      })
      .map(({ g, s, d, extraS }) => [
        fault('feeder', range(n), null, s, d),
        fault('outlasting-gardu', [g], null, s, d + extraS),
      ]),
  );

function fault(what: string, gardus: number[], meters: number[] | null, s: number, d: number): Fault {
  return { what, gardus, meters, start: T0 + s * S, end: T0 + (s + d) * S };
}

export const composition: fc.Arbitrary<Composition> = fc
  .integer({ min: 3, max: 4 })
  .chain((n) =>
    fc.record({
      gardus: fc.tuple(...range(n).map((i) => garduPlan(`G${i}`))),
      episodes: fc.array(episode(n), { minLength: 1, maxLength: 4 }),
      jitterSeed: fc.nat(),
      duplicates: fc.array(fc.nat(), { maxLength: 5 }),
    }),
  )
  .map(({ gardus, episodes, jitterSeed, duplicates }) => ({
    gardus,
    faults: apart(
      episodes.flat().map((f) => ({
        ...f,
        meters: f.meters === null ? null : f.meters.map((k) => prone(gardus[f.gardus[0]!]!)[k]!),
      })),
      gardus,
    ),
    jitterSeed,
    duplicates,
  }));

/**
 * Moves fault starts out of what is not knowable:
 * - within 2 s of another fault's end at the same gardu: supply back and lost again within the
 *   per-customer jitter leaves some meters dark throughout and others not, and which customers without
 *   telemetry (AMR, lost gasps) saw the blink cannot be told;
 * - a gardu-wide fault before the first read after another's end at that gardu: a meter silent since
 *   that restore may be dark or may have lost its power restore, and the new last gasps alone (fewer
 *   than GARDU_MIN_GASPS when meters are still dark) cannot tell a gardu outage from a few meters';
 * - any fault before that read at a gardu where a meter's power restores are lost: a lost power restore
 *   is only known from the meter's next read, and until then its silence is evidence for the new fault
 *   (seed 3 at 10,000 runs: a 2-meter fault taken for its gardu's, the meter's read missed by 19 ms).
 */
function apart(faults: Fault[], gardus: GarduPlan[]): Fault[] {
  const losesRestores = (gi: number) => gardus[gi]!.lostRestores.length > 0;
  const settled = (t: number) => Math.ceil((t + 1) / EVERY) * EVERY + 2 * 60 * S;
  for (const f of faults)
    for (const o of faults) {
      const shared = f.gardus.filter((g) => o.gardus.includes(g));
      if (o === f || shared.length === 0) continue;
      if (Math.abs(f.start - o.end) < 2 * S) f.start = o.end + 2 * S;
      const silenceMisleads = (f.meters === null && o.meters === null) || shared.some(losesRestores);
      if (silenceMisleads && f.start >= o.end && f.start < settled(o.end)) f.start = settled(o.end) + S;
    }
  return faults.filter((f) => f.end > f.start);
}

// ---------------------------------------------------------------- truth

export interface Interval {
  start: number;
  end: number;
}

/** Customer (meter id) -> merged dark intervals. Tusbung customers are not interrupted (excluded). */
export function truth(c: Composition): Map<string, Interval[]> {
  const dark = new Map<string, Interval[]>();
  c.faults.forEach((f, fi) => {
    for (const gi of f.gardus) {
      const g = c.gardus[gi]!;
      for (const i of f.meters ?? range(g.meters)) {
        if (g.tusbung && i === g.meters - 1) continue;
        const m = meterId(g.id, i);
        const list = dark.get(m) ?? [];
        list.push({ start: f.start + jitter(c, fi, m, 0), end: f.end + jitter(c, fi, m, 1) });
        dark.set(m, list);
      }
    }
  });
  for (const [m, list] of dark) dark.set(m, merge(list));
  return dark;
}

/** The meters of one gardu as physics sees them: dark intervals including the tusbung meter's own supply. */
function supplyLoss(c: Composition, gi: number): Map<number, Interval[]> {
  const g = c.gardus[gi]!;
  const out = new Map<number, Interval[]>();
  c.faults.forEach((f, fi) => {
    if (!f.gardus.includes(gi)) return;
    for (const i of f.meters ?? range(g.meters)) {
      const m = meterId(g.id, i);
      const list = out.get(i) ?? [];
      list.push({ start: f.start + jitter(c, fi, m, 0), end: f.end + jitter(c, fi, m, 1) });
      out.set(i, list);
    }
  });
  for (const [i, list] of out) out.set(i, merge(list));
  return out;
}

function merge(list: Interval[]): Interval[] {
  const sorted = [...list].sort((a, b) => a.start - b.start);
  const out: Interval[] = [];
  for (const iv of sorted) {
    const last = out.at(-1);
    if (last && iv.start <= last.end) last.end = Math.max(last.end, iv.end);
    else out.push({ ...iv });
  }
  return out;
}

/** Below one second, deterministic per fault, meter and edge; 0 half the time (ties for the edge). */
function jitter(c: Composition, fault: number, meter: string, edge: number): number {
  let h = (c.jitterSeed ^ (fault * 7919) ^ (edge * 104729)) >>> 0;
  for (let i = 0; i < meter.length; i++) h = Math.imul(h ^ meter.charCodeAt(i), 2654435761) >>> 0;
  return h % 2 === 0 ? 0 : h % 1000;
}

// ---------------------------------------------------------------- telemetry

export const REPORT_FROM = T0 - 30 * 60 * S;
/** Interval reads at every quarter hour. */
const EVERY = 15 * 60 * S;

/** Every input the meters send, in generation order (the edge sorts them by event time). */
export function telemetry(c: Composition): { inputs: Input[]; horizon: number } {
  const events: Input[] = [];
  const readsOut: Input[] = [];
  let horizon = T0;
  for (const f of c.faults) horizon = Math.max(horizon, f.end);
  horizon += 2 * 3600 * S;
  c.gardus.forEach((g, gi) => {
    const loss = supplyLoss(c, gi);
    const tusbungMeter = g.tusbung ? meterId(g.id, g.meters - 1) : null;
    if (tusbungMeter)
      events.push(
        event(tusbungMeter, 'RELAY_OPENED', REPORT_FROM - 60 * S, {
          relay: 'OPEN',
          cause: 'REMOTE_DISCONNECT',
        }),
      );
    for (let i = 0; i < g.meters; i++) {
      const m = meterId(g.id, i);
      const ami = i >= g.amr;
      const dark = loss.get(i) ?? [];
      if (ami)
        dark.forEach((iv, k) => {
          const relay = m === tusbungMeter ? 'OPEN' : 'CLOSED';
          if (!g.lostGasps.includes(i) && !(g.plc?.includes(i) ?? false))
            events.push(event(m, 'LAST_GASP', iv.start, { relay }));
          // A lost restore is only knowable from the next read: one the meter sends before it is dark again.
          const nextRead = Math.ceil((iv.end + 1) / EVERY) * EVERY;
          const readFirst = nextRead < (dark[k + 1]?.start ?? Infinity);
          if (!(g.lostRestores.includes(i) && readFirst))
            events.push(event(m, 'POWER_RESTORE', iv.end, { relay }));
        });
      const trip = g.trip?.meter === i ? g.trip : null;
      if (trip && ami) {
        events.push(event(m, 'RELAY_OPENED', trip.at, { relay: 'OPEN', cause: 'POWER_LIMIT_TRIP' }));
        events.push(event(m, 'RELAY_CLOSED', trip.at + trip.durS * S, { relay: 'CLOSED', cause: 'BUTTON' }));
      }
      // Interval reads at every quarter hour the meter has supply (AMR meters are read too).
      for (let b = Math.ceil(REPORT_FROM / EVERY) * EVERY; b <= horizon; b += EVERY) {
        if (dark.some((iv) => iv.start <= b && b < iv.end)) continue;
        const tripped = trip !== null && trip.at <= b && b < trip.at + trip.durS * S;
        readsOut.push(read(m, b, m === tusbungMeter || tripped ? 'OPEN' : 'CLOSED'));
      }
    }
  });
  const dups = events.length === 0 ? [] : c.duplicates.map((k) => events[k % events.length]!);
  return { inputs: [...events, ...dups, ...readsOut], horizon };
}

// ---------------------------------------------------------------- delivery

export interface Delivered {
  outages: OutageRecord[];
  momentaries: OutageRecord[];
  /** Event times at which one gardu had two open GARDU outages, or one meter was dark in two open METER outages. */
  doubles: string[];
}

/** In event-time order as the edge releases it: ties in `order`, timers fired up to `stops`. */
export function deliver(c: Composition, inputs: Input[], horizon: number, shuffle: number | null): Delivered {
  const w = new World(specs(c));
  const doubles: string[] = [];
  const rnd = prng(shuffle ?? 0);
  const keyed = inputs.map((input, k) => ({ input, k, tie: shuffle === null ? k : rnd() }));
  keyed.sort((a, b) => inputTime(a.input) - inputTime(b.input) || a.tie - b.tie);
  let last = Number.NEGATIVE_INFINITY;
  for (const { input } of keyed) {
    const t = inputTime(input);
    // The edge advances timers to its watermark whenever it likes, never past a held input.
    if (shuffle !== null && t > last + 1 && rnd() < 0.3)
      advance(w.ctx, w.st, last + Math.floor(rnd() * (t - last)), w.out);
    applyInput(w.ctx, w.st, input, w.out);
    doubles.push(...openTwice(w.st, t));
    last = t;
  }
  w.until(horizon);
  return { outages: w.outages(), momentaries: w.momentaries(), doubles };
}

/** At most one open outage per scope and place (gardu; meter for METER outages) in the rules' state. */
function openTwice(st: DetectorState, t: number): string[] {
  const found: string[] = [];
  for (const g of st.gardus.values()) {
    const open = g.incidents.filter((i) => i.phase === 'open');
    if (open.filter((i) => i.scope === 'GARDU').length > 1)
      found.push(`${t}: two open GARDU at ${g.garduId}`);
    const dark = open.flatMap((i) => (i.scope === 'METER' ? i.dark : []));
    if (new Set(dark).size < dark.length)
      found.push(`${t}: a meter in two open METER outages at ${g.garduId}`);
  }
  return found;
}

/** A small deterministic generator (xorshift32) for orders and delays. */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

export function latest(records: OutageRecord[]): OutageRecord[] {
  return [...new Map(records.map((r) => [r.outage_id, r])).values()];
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export const bounds = { MOMENTARY_MAX_S, SUSTAINED_MIN_S };
