import type { EventCause, MeterEvent, MeterEventType, MeterRead, RelayState } from '@ami/lib';
import { heapPop, heapPush, ValidationError } from '@ami/lib';
import type { Fleet } from './fleet.js';
import type { InterruptionTruth, TruthSink } from './groundTruth.js';
import { localHourOf } from './loadCurve.js';
import { energyWh, estimatedRegisterWh, naturalDemandW, servedDemandW, voltageV } from './meterModel.js';
import { unit } from './prng.js';
import {
  parseDuration,
  resolveRange,
  resolveWhen,
  type Action,
  type Comms,
  type Scenario,
} from './scenario.js';
import type { SupplyChange } from './supply.js';
import { resolveMeters, resolveScope, type ScopeRange } from './targets.js';

/**
 * The simulation engine: pure (no I/O, no wall clock). Given a fleet, a
 * scenario and a time range it yields batches of records in delivery order
 * (sim time), and reports what it did to a ground-truth sink.
 *
 * Meter state: `dark` (how many interruptions cover the meter), relay
 * (CLOSED, OPEN by tusbung, OPEN with reconnect enabled, OPEN by a power-limit
 * trip), power limit, register. Reads come every interval from powered meters;
 * events come from AMI meters only, delivered best effort per KDPM.
 */

export interface Batch {
  /** Sim time at which these records are delivered. */
  at: number;
  reads: MeterRead[];
  events: MeterEvent[];
  /** Interruptions that started in this batch: the simulated physical world (not meter traffic). */
  supply: SupplyChange[];
}

export interface SimulationOptions {
  fleet: Fleet;
  scenario: Scenario;
  startMs: number;
  /** Default: the scenario's duration. */
  durationMs?: number;
  /** Records per batch (approximate upper bound for reads). */
  batchSize?: number;
  truth?: TruthSink;
}

const RELAY_CLOSED = 0;
const RELAY_TUSBUNG = 1;
const RELAY_RECONNECT_ENABLED = 2;
const RELAY_TRIPPED = 3;
const KDPM_PLC = 0;
const RETRY_MS = 15 * 60_000;
const STEP_MS = 60_000;
const MOMENTARY_MS = 5 * 60_000;

interface CommsRow {
  lastGasp: number;
  restore: number;
  delay: [number, number];
}

/** Defaults per KDPM (L, R, S, F): PLC is the least reliable, fibre the most. */
const DEFAULT_COMMS: readonly CommsRow[] = [
  { lastGasp: 0.6, restore: 0.8, delay: [5_000, 60_000] },
  { lastGasp: 0.85, restore: 0.9, delay: [2_000, 30_000] },
  { lastGasp: 0.92, restore: 0.95, delay: [1_000, 10_000] },
  { lastGasp: 0.98, restore: 0.99, delay: [1_000, 5_000] },
];

export function resolveComms(c: Comms): CommsRow[] {
  return (['L', 'R', 'S', 'F'] as const).map((k, i) => {
    const row = { ...DEFAULT_COMMS[i]! };
    for (const o of [c.default, c[k]]) {
      if (!o) continue;
      if (o.last_gasp !== undefined) row.lastGasp = o.last_gasp;
      if (o.restore !== undefined) row.restore = o.restore;
      if (o.delay) row.delay = [parseDuration(o.delay[0]), parseDuration(o.delay[1])];
    }
    return row;
  });
}

type Range = [number, number] | null;

/** A heap entry: due time, then insertion order (equal times come out first in, first out). */
interface Due<T> {
  at: number;
  seq: number;
  item: T;
}
const dueFirst = <T>(a: Due<T>, b: Due<T>): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

export class Simulation {
  readonly startMs: number;
  readonly endMs: number;
  readonly intervalMs: number;
  private readonly fleet: Fleet;
  private readonly scenario: Scenario;
  private readonly seed: number;
  private readonly batchSize: number;
  private readonly truth: TruthSink;
  private readonly comms: CommsRow[];
  private readonly dup: number;
  private readonly ooo: number;
  private readonly maxDelayMs: number;

  private readonly dark: Uint8Array;
  private readonly garduDark: Uint8Array;
  private readonly relay: Uint8Array;
  private readonly limit: Uint32Array;
  private readonly register: Float64Array;
  private readonly offSince: Float64Array;
  private readonly offMs: Float64Array;
  private readonly offTick: Int32Array;
  private readonly skewMs: Int32Array;
  /** When the meter's customer lost supply from the network (relay CLOSED as it went dark); NaN if not interrupted. */
  private readonly interruptedSince: Float64Array;
  /** Meters whose limit is below their contracted power: they trip under load (value: button delay range). */
  private readonly armed = new Map<number, Range>();

  /** Scheduled actions and records held back (out of order, duplicates): min-heaps by due time. */
  private readonly agenda: Due<(t: number) => void>[] = [];
  private readonly pending: Due<MeterRead | MeterEvent>[] = [];
  private dueSeq = 0;
  private out: Batch;
  private stats = {
    reads: 0,
    events: 0,
    duplicates: 0,
    delayed: 0,
    interruptions: 0,
    relay_changes: 0,
    last_gasps_lost: 0,
  };

  constructor(opts: SimulationOptions) {
    const { fleet, scenario } = opts;
    this.fleet = fleet;
    this.scenario = scenario;
    this.seed = fleet.seed;
    this.intervalMs = parseDuration(scenario.interval);
    if (this.intervalMs < 60_000 || this.intervalMs % 60_000 !== 0)
      throw new ValidationError('interval must be a whole number of minutes');
    this.startMs = opts.startMs;
    this.endMs = opts.startMs + (opts.durationMs ?? parseDuration(scenario.duration));
    this.batchSize = opts.batchSize ?? 20_000;
    this.truth = opts.truth ?? (() => undefined);
    this.comms = resolveComms(scenario.comms);
    this.dup = scenario.delivery.duplicates;
    this.ooo = scenario.delivery.out_of_order;
    this.maxDelayMs = parseDuration(scenario.delivery.max_delay);
    const n = fleet.size;
    this.dark = new Uint8Array(n);
    this.garduDark = new Uint8Array(fleet.garduTotal);
    this.relay = new Uint8Array(n);
    this.limit = new Uint32Array(n);
    this.register = new Float64Array(n);
    this.offSince = new Float64Array(n).fill(Number.NaN);
    this.offMs = new Float64Array(n);
    this.offTick = new Int32Array(n).fill(-1);
    this.skewMs = new Int32Array(n);
    this.interruptedSince = new Float64Array(n).fill(Number.NaN);
    this.out = this.emptyBatch(this.startMs);
    this.initMeters();
    scenario.actions.forEach((a, i) => this.schedule(a, i));
  }

  private initMeters(): void {
    const skew = this.scenario.clock_skew;
    const maxSkew = parseDuration(skew.max);
    for (let m = 0; m < this.fleet.size; m++) {
      this.limit[m] = this.fleet.productOf(m).dayaVa;
      this.register[m] = estimatedRegisterWh(this.fleet, m, this.startMs);
      if (skew.share > 0 && unit(this.seed, m, 41) < skew.share)
        this.skewMs[m] = Math.round((unit(this.seed, m, 42) * 2 - 1) * maxSkew);
    }
  }

  private emptyBatch(at: number): Batch {
    return { at, reads: [], events: [], supply: [] };
  }

  // ---------------------------------------------------------------- schedule

  private later<T>(heap: Due<T>[], at: number, item: T): void {
    heapPush(heap, { at, seq: this.dueSeq++, item }, dueFirst);
  }

  private at(t: number, fn: (t: number) => void): void {
    if (t <= this.endMs) this.later(this.agenda, t, fn);
  }

  private when(v: string | number, region?: string): number {
    const offset =
      this.fleet.ulps.find((u) => u.region.code === region?.toUpperCase())?.region.utcOffsetH ?? 7;
    return resolveWhen(v, this.startMs, offset);
  }

  /** A time in a [min, max] range drawn for (meter, salt). */
  private pickIn(r: [number, number], m: number, salt: number): number {
    return Math.round(r[0] + (r[1] - r[0]) * unit(this.seed, m, salt, 61));
  }

  private schedule(a: Action, i: number): void {
    const salt = 1000 + i;
    switch (a.type) {
      case 'outage': {
        const start = this.when(a.at, a.target.region);
        this.interruption(
          resolveScope(this.fleet, a.scope, a.target, salt),
          start,
          start + parseDuration(a.duration),
          `${i}`,
        );
        return;
      }
      case 'momentaries': {
        const scope = resolveScope(this.fleet, a.scope, a.target, salt);
        const within = resolveRange(a.within)!;
        const dur = resolveRange(a.duration)!;
        for (let k = 0; k < a.count; k++) {
          const start = this.startMs + this.pickIn(within, k, salt);
          this.interruption(scope, start, start + this.pickIn(dur, k, salt + 1), `${i}.${k}`);
        }
        return;
      }
      case 'tusbung': {
        const at = this.when(a.at, a.target.region);
        const spread = parseDuration(a.spread);
        const plan = {
          reconnect: resolveRange(a.reconnect_after),
          share: a.reconnect_share,
          button: resolveRange(a.button_after),
          never: a.button_never_share,
          salt,
        };
        for (const m of resolveMeters(this.fleet, a.target, a.meter_ids, a.share, salt)) {
          this.at(at + Math.floor(spread * unit(this.seed, m, salt, 62)), (t) => this.disconnect(m, t, plan));
        }
        return;
      }
      case 'power_limit': {
        const at = this.when(a.at, a.target.region);
        const button = resolveRange(a.button_after);
        for (const m of resolveMeters(this.fleet, a.target, a.meter_ids, a.share, salt)) {
          this.at(at + Math.floor(60_000 * unit(this.seed, m, salt, 63)), (t) =>
            this.setLimit(m, t, a.limit_va, a.trip ? button : undefined),
          );
        }
        return;
      }
    }
  }

  private interruption(scope: ScopeRange, start: number, end: number, id: string): void {
    if (end <= start) throw new ValidationError(`interruption ${id} has no duration`);
    const rec = { id: `INT-${this.scenario.name}-${id}` };
    this.at(start, (t) => this.goDark(scope, t, end, rec.id));
    this.at(end, (t) => this.goLight(scope, t));
  }

  // ------------------------------------------------------------ transitions

  private isOn(m: number): boolean {
    return this.dark[m] === 0 && this.relay[m] === RELAY_CLOSED;
  }

  private tickOf(t: number): number {
    return Math.ceil((t - this.startMs) / this.intervalMs);
  }

  /** Apply a state change, keeping the off time inside the current interval for the next read's demand. */
  private change(m: number, t: number, mutate: () => void): void {
    const wasOn = this.isOn(m);
    mutate();
    const isOn = this.isOn(m);
    if (wasOn && !isOn) this.offSince[m] = t;
    else if (!wasOn && isOn) {
      this.addOff(m, t);
      this.offSince[m] = Number.NaN;
    }
  }

  private addOff(m: number, t: number): void {
    const tick = this.tickOf(t);
    const intervalStart = this.startMs + (tick - 1) * this.intervalMs;
    if (this.offTick[m] !== tick) {
      this.offTick[m] = tick;
      this.offMs[m] = 0;
    }
    this.offMs[m]! += t - Math.max(this.offSince[m]!, intervalStart);
  }

  private goDark(s: ScopeRange, t: number, end: number, id: string): void {
    if (s.scope !== 'METER') for (let g = s.garduFirst; g < s.garduEnd; g++) this.garduDark[g]!++;
    const truth: InterruptionTruth = {
      kind: 'interruption',
      id,
      scope: s.scope,
      region: s.region,
      ulp: s.ulp,
      feeder_id: s.feederId,
      gardu_id: s.garduId,
      meter_ids: s.scope === 'METER' ? [this.fleet.meterId(s.meterFirst)] : [],
      start: t,
      end,
      momentary: end - t <= MOMENTARY_MS,
      ami_meters_total: 0,
      meters_affected: 0,
      tusbung_excluded: 0,
      trip_excluded: 0,
      already_dark: 0,
      amr_meters: 0,
      last_gasps_sent: 0,
      last_gasps_delivered: 0,
    };
    for (let m = s.meterFirst; m < s.meterEnd; m++) {
      const ami = this.fleet.isAmi(m);
      const wasDark = this.dark[m]! > 0;
      if (!ami) truth.amr_meters++;
      else {
        truth.ami_meters_total++;
        if (wasDark) truth.already_dark++;
        else if (this.relay[m] === RELAY_CLOSED) truth.meters_affected++;
        else if (this.relay[m] === RELAY_TRIPPED) truth.trip_excluded++;
        else truth.tusbung_excluded++;
      }
      this.change(m, t, () => this.dark[m]!++);
      if (!wasDark && this.relay[m] === RELAY_CLOSED) this.interruptedSince[m] = t;
      if (ami && !wasDark) {
        truth.last_gasps_sent++;
        if (this.powerEvent(m, t, 'LAST_GASP')) truth.last_gasps_delivered++;
      }
    }
    this.stats.interruptions++;
    this.stats.last_gasps_lost += truth.last_gasps_sent - truth.last_gasps_delivered;
    this.truth(truth);
    this.out.supply.push({
      interruption_id: id,
      scope: s.scope,
      unit_id: this.unitOf(s),
      dark_from: t,
      back_at: end,
    });
  }

  /** The id of the unit an interruption darkens: meter, gardu, feeder or region. */
  private unitOf(s: ScopeRange): string {
    if (s.scope === 'METER') return this.fleet.meterId(s.meterFirst);
    if (s.scope === 'GARDU') return s.garduId!;
    if (s.scope === 'FEEDER') return s.feederId!;
    return s.region;
  }

  private goLight(s: ScopeRange, t: number): void {
    if (s.scope !== 'METER') for (let g = s.garduFirst; g < s.garduEnd; g++) this.garduDark[g]!--;
    const relit = new Map<number, string[]>();
    for (let m = s.meterFirst; m < s.meterEnd; m++) {
      this.change(m, t, () => this.dark[m]!--);
      if (this.dark[m] !== 0) continue;
      this.takeInterrupted(m, relit);
      if (this.fleet.isAmi(m)) this.powerEvent(m, t, 'POWER_RESTORE');
    }
    this.customerDark(relit, t);
  }

  /** Moves an interrupted customer's dark start into `byStart` (meter ids by start time). */
  private takeInterrupted(m: number, byStart: Map<number, string[]>): void {
    const since = this.interruptedSince[m]!;
    if (Number.isNaN(since)) return;
    this.interruptedSince[m] = Number.NaN;
    const ids = byStart.get(since);
    if (ids) ids.push(this.fleet.meterId(m));
    else byStart.set(since, [this.fleet.meterId(m)]);
  }

  private customerDark(byStart: Map<number, string[]>, end: number | null): void {
    for (const [start, meter_ids] of byStart) this.truth({ kind: 'customer_dark', start, end, meter_ids });
  }

  /** Last gasp or power restore: delivered best effort per KDPM. Returns whether it gets through. */
  private powerEvent(m: number, t: number, type: 'LAST_GASP' | 'POWER_RESTORE'): boolean {
    const k = this.fleet.meterKdpm[m]!;
    const row = this.comms[k]!;
    const occurred = t + Math.floor(unit(this.seed, m, t, 64) * 1000);
    if (
      type === 'LAST_GASP' &&
      k === KDPM_PLC &&
      this.scenario.comms.plc_concentrator_dies_with_gardu &&
      this.garduDark[this.fleet.meterGardu[m]!]! > 0
    )
      return false;
    const share = type === 'LAST_GASP' ? row.lastGasp : row.restore;
    if (unit(this.seed, m, t, type === 'LAST_GASP' ? 65 : 66) >= share) return false;
    this.emitEvent(m, occurred, type, 'NONE', null, this.pickIn(row.delay, m, t % 1_000_000));
    return true;
  }

  private relayEvent(
    m: number,
    t: number,
    type: 'RELAY_OPENED' | 'RELAY_CLOSED' | 'RECONNECT_ENABLED',
    cause: 'REMOTE_DISCONNECT' | 'REMOTE_CONNECT' | 'BUTTON' | 'POWER_LIMIT_TRIP',
  ): void {
    this.emitEvent(m, t, type, cause, null, 0);
    this.stats.relay_changes++;
    this.truth({
      kind: 'relay',
      meter_id: this.fleet.meterId(m),
      idpel: this.fleet.idpelOf(m),
      gardu_id: this.fleet.garduIds[this.fleet.meterGardu[m]!]!,
      at: t,
      type,
      cause,
    });
  }

  /** A command or button needs a powered meter; a dark one is retried later (as the head-end would). */
  private whenPowered(m: number, t: number, fn: (t: number) => void): boolean {
    if (this.dark[m] === 0) return true;
    this.at(t + RETRY_MS, fn);
    return false;
  }

  private disconnect(
    m: number,
    t: number,
    plan: { reconnect: Range; share: number; button: Range; never: number; salt: number },
  ): void {
    if (!this.whenPowered(m, t, (t2) => this.disconnect(m, t2, plan)) || this.relay[m] !== RELAY_CLOSED)
      return;
    this.change(m, t, () => (this.relay[m] = RELAY_TUSBUNG));
    this.relayEvent(m, t, 'RELAY_OPENED', 'REMOTE_DISCONNECT');
    if (plan.reconnect && unit(this.seed, m, plan.salt, 67) < plan.share) {
      const button = unit(this.seed, m, plan.salt, 68) < plan.never ? null : plan.button;
      this.at(t + this.pickIn(plan.reconnect, m, plan.salt + 1), (t2) => this.enableReconnect(m, t2, button));
    }
  }

  private enableReconnect(m: number, t: number, button: Range): void {
    if (
      !this.whenPowered(m, t, (t2) => this.enableReconnect(m, t2, button)) ||
      this.relay[m] !== RELAY_TUSBUNG
    )
      return;
    this.relay[m] = RELAY_RECONNECT_ENABLED;
    this.relayEvent(m, t, 'RECONNECT_ENABLED', 'REMOTE_CONNECT');
    if (button) this.at(t + this.pickIn(button, m, t % 1_000_000), (t2) => this.pressButton(m, t2));
  }

  private pressButton(m: number, t: number): void {
    if (!this.whenPowered(m, t, (t2) => this.pressButton(m, t2))) return;
    if (this.relay[m] !== RELAY_RECONNECT_ENABLED && this.relay[m] !== RELAY_TRIPPED) return;
    this.change(m, t, () => (this.relay[m] = RELAY_CLOSED));
    this.relayEvent(m, t, 'RELAY_CLOSED', 'BUTTON');
  }

  private setLimit(m: number, t: number, va: number, tripButton: Range | undefined): void {
    if (!this.whenPowered(m, t, (t2) => this.setLimit(m, t2, va, tripButton))) return;
    this.limit[m] = va;
    if (tripButton !== undefined && va < this.fleet.productOf(m).dayaVa) this.armed.set(m, tripButton);
    else this.armed.delete(m);
    this.emitEvent(m, t, 'POWER_LIMIT_CHANGED', 'NONE', va, 0);
    this.truth({
      kind: 'power_limit',
      meter_id: this.fleet.meterId(m),
      gardu_id: this.fleet.garduIds[this.fleet.meterGardu[m]!]!,
      at: t,
      power_limit_va: va,
    });
  }

  /** Load above the limit trips the relay inside the interval ending at `tickT`; the customer learns (disarmed). */
  private trip(m: number, tickT: number): void {
    const t = tickT - Math.floor(this.intervalMs * (0.1 + 0.8 * unit(this.seed, m, tickT % 1_000_000, 69)));
    const button = this.armed.get(m) ?? null;
    this.armed.delete(m);
    this.change(m, t, () => (this.relay[m] = RELAY_TRIPPED));
    this.relayEvent(m, t, 'RELAY_OPENED', 'POWER_LIMIT_TRIP');
    if (button) this.at(t + this.pickIn(button, m, 70), (t2) => this.pressButton(m, t2));
  }

  // ---------------------------------------------------------------- output

  private relayState(m: number): RelayState {
    return this.relay[m] === RELAY_CLOSED ? 'CLOSED' : 'OPEN';
  }

  private emitEvent(
    m: number,
    t: number,
    type: MeterEventType,
    cause: EventCause,
    limitVa: number | null,
    delayMs: number,
  ): void {
    if (!this.fleet.isAmi(m)) return;
    const meterId = this.fleet.meterId(m);
    const ev: MeterEvent = {
      event_id: `${meterId}-${type}-${t}`,
      meter_id: meterId,
      gardu_id: this.fleet.garduIds[this.fleet.meterGardu[m]!]!,
      occurred_at: t + this.skewMs[m]!,
      type,
      relay: this.relayState(m),
      cause,
      power_limit_va: limitVa,
    };
    this.deliver(
      ev,
      t + delayMs,
      unit(this.seed, m, t % 1_000_000, 71),
      unit(this.seed, m, t % 1_000_000, 72),
    );
  }

  /** Route a record: now, later (out of order), or now and again later (duplicate). */
  private deliver(rec: MeterRead | MeterEvent, at: number, u: number, v: number): void {
    const isRead = 'read_at' in rec;
    if (this.dup > 0 && u < this.dup) {
      this.stats.duplicates++;
      this.later(this.pending, at + Math.floor(v * this.maxDelayMs), rec);
    } else if (this.ooo > 0 && u < this.dup + this.ooo) {
      this.stats.delayed++;
      this.later(this.pending, at + Math.floor(v * this.maxDelayMs), rec);
      return;
    }
    if (at > this.out.at) this.later(this.pending, at, rec);
    else if (isRead) this.out.reads.push(rec as MeterRead);
    else this.out.events.push(rec as MeterEvent);
  }

  private readsAt(g: number, tickT: number, tick: number): void {
    const fleet = this.fleet;
    const garduId = fleet.garduIds[g]!;
    const hour = localHourOf(tickT - this.intervalMs / 2, fleet.feederOfGardu(g).ulp.region.utcOffsetH);
    const intervalS = this.intervalMs / 1000;
    const { first, end } = fleet.metersOfGardu(g);
    for (let m = first; m < end; m++) {
      if (this.dark[m]! > 0) continue;
      const natural = naturalDemandW(fleet, m, hour, tick);
      const limit = this.limit[m]!;
      if (this.relay[m] === RELAY_CLOSED && natural > limit && this.armed.has(m)) this.trip(m, tickT);
      const offMs =
        (this.offTick[m] === tick ? this.offMs[m]! : 0) +
        (this.isOn(m) ? 0 : tickT - Math.max(this.offSince[m]!, tickT - this.intervalMs));
      this.offTick[m] = -1;
      const onShare = Math.max(0, 1 - offMs / this.intervalMs);
      const demand = Math.round(servedDemandW(natural, fleet.productOf(m).dayaVa, limit) * onShare);
      this.register[m]! += energyWh(demand, intervalS);
      const rec: MeterRead = {
        meter_id: fleet.meterId(m),
        gardu_id: garduId,
        read_at: tickT + this.skewMs[m]!,
        interval_s: intervalS,
        energy_import_wh: Math.floor(this.register[m]!),
        demand_w: demand,
        voltage_v: voltageV(fleet, m, tick),
        relay: this.relayState(m),
        power_limit_va: limit,
        kind: 'INTERVAL',
      };
      if (this.dup > 0 || this.ooo > 0)
        this.deliver(rec, tickT, unit(this.seed, m, tick, 73), unit(this.seed, m, tick, 74));
      else this.out.reads.push(rec);
    }
  }

  private *flush(at: number, force: boolean): Generator<Batch> {
    const n = this.out.reads.length + this.out.events.length + this.out.supply.length;
    if (n > 0 && (force || n >= this.batchSize)) {
      this.stats.reads += this.out.reads.length;
      this.stats.events += this.out.events.length;
      yield this.out;
      this.out = this.emptyBatch(at);
    } else this.out.at = at;
  }

  private releasePending(until: number): void {
    while (this.pending.length > 0 && this.pending[0]!.at <= until) {
      const rec = heapPop(this.pending, dueFirst)!.item;
      if ('read_at' in rec) this.out.reads.push(rec);
      else this.out.events.push(rec);
    }
  }

  /** Run the whole range, yielding batches in delivery order. */
  *run(): Generator<Batch> {
    for (let t = this.startMs; t < this.endMs;) {
      const tickT = this.startMs + (Math.floor((t - this.startMs) / this.intervalMs) + 1) * this.intervalMs;
      const stepEnd = Math.min(t + STEP_MS, tickT, this.endMs);
      yield* this.flush(stepEnd, false);
      while (this.agenda.length > 0 && this.agenda[0]!.at <= stepEnd) {
        const due = heapPop(this.agenda, dueFirst)!;
        due.item(due.at);
      }
      this.releasePending(stepEnd);
      if (stepEnd === tickT) yield* this.tick(tickT);
      yield* this.flush(stepEnd, true);
      t = stepEnd;
    }
    this.releasePending(Number.POSITIVE_INFINITY);
    yield* this.flush(this.endMs, true);
    this.summary();
  }

  private *tick(tickT: number): Generator<Batch> {
    const tick = this.tickOf(tickT);
    for (let g = 0; g < this.fleet.garduTotal; g++) {
      this.readsAt(g, tickT, tick);
      yield* this.flush(tickT, false);
    }
  }

  private summary(): void {
    const stillDark = new Map<number, string[]>();
    for (let m = 0; m < this.fleet.size; m++) this.takeInterrupted(m, stillDark);
    this.customerDark(stillDark, null);
    this.truth({
      kind: 'summary',
      scenario: this.scenario.name,
      seed: this.seed,
      meters: this.fleet.size,
      gardu: this.fleet.garduTotal,
      start: this.startMs,
      end: this.endMs,
      interval_s: this.intervalMs / 1000,
      ...this.stats,
    });
  }
}
