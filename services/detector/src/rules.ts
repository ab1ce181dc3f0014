import {
  BadRecordError,
  type MeterEvent,
  type MeterRead,
  type MeterStatus,
  type Outage,
  type OutageScope,
} from '@ami/lib';
import type { RulesConfig } from './config.js';
import {
  defaultFacts,
  isPlain,
  isTusbung,
  statusChange,
  type Darkness,
  type MeterFacts,
} from './meterStatus.js';
import type { MeterInfo, Topology } from './topology.js';
import { heapPop, heapPush } from './heap.js';

/**
 * THE outage rules. Plain functions over plain state (maps, arrays, records: changelog.ts writes it), fed
 * in event-time order by the edge (see eventTime.ts). Nothing here reads a
 * clock: timers fire at event times, so a replay at any speed gives the same
 * outages with the same ids.
 *
 * Lifecycle of an incident at one gardu:
 *   candidate --(confirm delay passed, evidence decides scope)--> open --> restored
 *            \--(supply back within the delay)--> momentary record, never OPEN
 *   open GARDU --(supply back)--> settling --(next read due)--> meters still
 *   dark become one nested METER outage (parent = the gardu outage).
 */

/** An Outage without the wall-clock field the edge stamps when it sends. */
export type OutageRecord = Omit<Outage, 'emitted_at'>;

export type Emission =
  | { to: 'outages'; record: OutageRecord }
  | { to: 'momentary'; record: OutageRecord }
  | { to: 'status'; record: MeterStatus };

export type Phase = 'candidate' | 'open' | 'settling';

export interface Incident {
  /** Unique within the gardu: start time and first meter. */
  key: string;
  phase: Phase;
  scope: OutageScope | null;
  outageId: string | null;
  parentId: string | null;
  startedAt: number;
  /** When the next timer of this incident fires (decision or settling); null: none. */
  dueAt: number | null;
  confirmedAt: number | null;
  restoredAt: number | null;
  /** Meter -> time of its last gasp (AMI meters only). */
  gasps: Record<string, number>;
  /** Meter -> latest event time it was seen powered after the start (read or power restore). */
  alive: Record<string, number>;
  /** Earliest proof that supply is back at the gardu (a power restore, or a read of a gasped meter). */
  supplyBackAt: number | null;
  /** METER scope: the meters of the outage; `dark` those still without supply. */
  members: string[];
  dark: string[];
  /** Meter -> first sign of supply after its last gasp (or after the start): when its interruption ended. */
  back: Record<string, number>;
  /** Meter -> its first power restore (event) after its last gasp. */
  returns: Record<string, number>;
  /**
   * GARDU scope: meters already dark in another open outage record (a METER outage of the gardu) when
   * this one started. They are in its scope but that record counts them (customers_interrupted).
   */
  countedElsewhere: string[];
  /** Nested METER outage: its parent's restore; its members' time dark counts from there. */
  parentRestoredAt: number | null;
  /** Nested METER outage: when its parent gardu went dark as a whole (members without a last gasp). */
  bulkStartedAt: number | null;
  /** Last published record minus status/emitted_at, to publish UPDATED only on change. */
  shown: string | null;
}

export interface GarduState {
  garduId: string;
  facts: Record<string, MeterFacts>;
  incidents: Incident[];
  /**
   * event_id -> occurred_at, remembered DEDUP_RETENTION_MS past the watermark. A Map, not an object:
   * every event id is a fresh string, and an object key is interned first (a storm's 200k gasps).
   */
  seen: Map<string, number>;
}

export interface FeederOutage {
  outageId: string;
  feederId: string;
  startedAt: number;
  confirmedAt: number;
  restoredAt: number | null;
  /** Child gardu -> its last published figures. */
  children: Record<string, ChildFigures>;
  /** Increases on every change: the newest copy wins when state is rebuilt. */
  rev: number;
  shown: string | null;
}

interface Timer {
  dueAt: number;
  garduId: string;
  key: string;
}

export interface DetectorState {
  gardus: Map<string, GarduState>;
  feeders: Map<string, FeederOutage>;
  /** Feeder-wide momentaries recently recorded (feeder -> id and start), so each is recorded once. */
  feederMomentaries: Map<string, { outageId: string; startedAt: number }>;
  timers: Timer[];
  /** Gardu whose state changed since the edge last saved it. */
  dirty: Set<string>;
}

export interface RulesContext {
  cfg: RulesConfig;
  topo: Topology;
}

export function newDetectorState(): DetectorState {
  return {
    gardus: new Map(),
    feeders: new Map(),
    feederMomentaries: new Map(),
    timers: [],
    dirty: new Set(),
  };
}

// ---------------------------------------------------------------- inputs

/** A repeated event_id is the same event: it changes nothing. `known`: the meter's topology entry, if looked up. */
export function isDuplicate(
  ctx: RulesContext,
  st: DetectorState,
  ev: MeterEvent,
  known?: MeterInfo,
): boolean {
  const g = st.gardus.get((known ?? ctx.topo.meter(ev.meter_id))?.garduId ?? ev.gardu_id);
  return g !== undefined && g.seen.has(ev.event_id);
}

/** `known`: the meter's topology entry if the caller already looked it up (as of now). Returns it. */
export function applyEvent(
  ctx: RulesContext,
  st: DetectorState,
  ev: MeterEvent,
  out: Emission[],
  known?: MeterInfo,
): MeterInfo {
  const info = known ?? meterInfo(ctx, ev.meter_id);
  const g = gardu(st, info.garduId);
  if (g.seen.has(ev.event_id)) return info;
  g.seen.set(ev.event_id, ev.occurred_at);
  st.dirty.add(g.garduId);
  const t = ev.occurred_at;
  const f = factsOf(g, info.meterId);
  if (ev.relay === 'OPEN' && ev.cause === 'REMOTE_DISCONNECT' && f.relay === 'CLOSED')
    setRelay(f, 'OPEN', 'REMOTE_DISCONNECT', t);
  switch (ev.type) {
    case 'LAST_GASP':
      if (info.ami) onLastGasp(ctx, st, g, info, t, out);
      break;
    case 'POWER_RESTORE':
      onAlive(ctx, st, g, info.meterId, t, true, out);
      break;
    case 'RELAY_OPENED':
      setRelay(f, 'OPEN', ev.cause, t);
      break;
    case 'RELAY_CLOSED':
      setRelay(f, 'CLOSED', ev.cause, t);
      break;
    case 'RECONNECT_ENABLED':
      f.reconnectEnabled = f.relay === 'OPEN';
      break;
    case 'POWER_LIMIT_CHANGED':
      break;
  }
  // Tusbung during an open outage changes its counts.
  if (ev.type.startsWith('RELAY') || ev.type === 'RECONNECT_ENABLED')
    for (const inc of g.incidents) publish(ctx, st, g, inc, 'UPDATED', out);
  refreshStatus(ctx, st, g, info.meterId, t, out);
  return info;
}

/** `known`: the meter's topology entry if the caller already looked it up (as of now). Returns it. */
export function applyRead(
  ctx: RulesContext,
  st: DetectorState,
  read: MeterRead,
  out: Emission[],
  known?: MeterInfo,
): MeterInfo {
  const info = known ?? meterInfo(ctx, read.meter_id);
  const m = info.meterId;
  // Fast path of the steady state: nothing remembered about the meter, no incident at its gardu, relay
  // as expected: the read changes nothing. A gardu is often remembered only for its recent event ids;
  // going on would scan them (forgetIfIdle) at every read of its meters.
  const remembered = st.gardus.get(info.garduId);
  if (
    read.relay === 'CLOSED' &&
    (remembered === undefined || (remembered.incidents.length === 0 && remembered.facts[m] === undefined))
  )
    return info;
  const g = remembered ?? gardu(st, info.garduId);
  const f = g.facts[m];
  // The meter knows its relay best; a read fixes a missed relay event.
  let changed = false;
  if ((f?.relay ?? 'CLOSED') !== read.relay) {
    setRelay(factsOf(g, m), read.relay, f?.cause ?? 'NONE', read.read_at);
    changed = true;
  }
  if (onAlive(ctx, st, g, m, read.read_at, false, out)) changed = true;
  // Marks the gardu dirty itself when the status or the remembered facts change.
  refreshStatus(ctx, st, g, m, read.read_at, out);
  if (forgetIfIdle(st, g)) changed = true;
  // A read that changed nothing (e.g. a gardu remembered only for its event ids) needs no new snapshot.
  if (changed) st.dirty.add(g.garduId);
  return info;
}

/** A read or an event, as released by the edge in event-time order. */
export type Input = { kind: 'event'; value: MeterEvent } | { kind: 'read'; value: MeterRead };

export function inputTime(i: Input): number {
  return i.kind === 'event' ? i.value.occurred_at : i.value.read_at;
}

/**
 * One step in event time: timers due before the input fire first, then the
 * input applies. `known`: the meter's topology entry if the caller already
 * looked it up (as of now). Returns the meter's topology entry.
 */
export function applyInput(
  ctx: RulesContext,
  st: DetectorState,
  input: Input,
  out: Emission[],
  known?: MeterInfo,
): MeterInfo {
  if (st.timers.length > 0) advance(ctx, st, inputTime(input) - 1, out);
  if (input.kind === 'event') return applyEvent(ctx, st, input.value, out, known);
  return applyRead(ctx, st, input.value, out, known);
}

/**
 * Fire every timer due at or before `upTo` (event time), in time order, until
 * `out` holds `limit` emissions. Returns false when due timers are left.
 */
export function advance(
  ctx: RulesContext,
  st: DetectorState,
  upTo: number,
  out: Emission[],
  limit = Number.POSITIVE_INFINITY,
): boolean {
  while (st.timers.length > 0 && st.timers[0]!.dueAt <= upTo) {
    if (out.length >= limit) return false;
    const timer = heapPop(st.timers, earlier);
    const g = st.gardus.get(timer.garduId);
    const inc = g?.incidents.find((i) => i.key === timer.key && i.dueAt === timer.dueAt);
    if (!g || !inc) continue; // stale: the incident moved on
    st.dirty.add(g.garduId);
    if (inc.phase === 'candidate') decide(ctx, st, g, inc, timer.dueAt, out);
    else if (inc.phase === 'settling') settle(ctx, st, g, inc, timer.dueAt, out);
    forgetIfIdle(st, g);
  }
  return true;
}

/** Forget event ids older than the retention; called by the edge now and then. */
export function pruneSeen(ctx: RulesContext, st: DetectorState, watermark: number): void {
  const horizon = watermark - ctx.cfg.DEDUP_RETENTION_MS;
  for (const g of st.gardus.values()) {
    let changed = false;
    for (const [id, at] of g.seen) {
      if (at < horizon) {
        g.seen.delete(id);
        changed = true;
      }
    }
    if (changed) st.dirty.add(g.garduId);
    forgetIfIdle(st, g);
  }
}

// ---------------------------------------------------------------- evidence

function onLastGasp(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  info: MeterInfo,
  t: number,
  out: Emission[],
): void {
  const m = info.meterId;
  const covering = g.incidents.find((i) => i.scope === 'GARDU' && i.phase === 'open' && i.startedAt <= t);
  if (covering) {
    // Already out with the whole gardu: every last gasp is still accounted.
    covering.gasps[m] = t;
    publish(ctx, st, g, covering, 'UPDATED', out);
    return;
  }
  if (inMeterOutage(g, m)) return;
  // One physical outage, one incident: evidence joins the gardu's candidate until it is decided, however
  // long after its first last gasp (a fuse, then the transformer), so it escalates instead of doubling;
  // unless supply came back since: then that interruption is over and this is another.
  let inc = g.incidents.find((i) => i.phase === 'candidate' && i.supplyBackAt === null);
  if (!inc) {
    inc = newIncident(`${t}:${m}`, t);
    g.incidents.push(inc);
    schedule(st, g.garduId, inc, t + ctx.cfg.CONFIRM_DELAY_MS);
  }
  inc.gasps[m] = t;
  delete inc.alive[m];
  delete inc.back[m];
  delete inc.returns[m];
}

/** Meters dark in an open METER outage of the gardu (root or nested, started before `since`): that record counts them. */
function inMeterOutage(g: GarduState, m: string, since = Infinity): boolean {
  return g.incidents.some(
    (i) => i.scope === 'METER' && i.phase === 'open' && i.startedAt < since && i.dark.includes(m),
  );
}

/**
 * A meter with a fault of its own (its last gasp came before its gardu went dark as a whole, e.g. a
 * fuse) and no sign of life since that gardu outage's restore (it is settling): still dark. A meter
 * that went dark with the gardu and is silent since may just have lost its power restore message.
 */
function stillDarkFromEarlier(ctx: RulesContext, g: GarduState, inc: Incident, m: string): boolean {
  return g.incidents.some(
    (o) =>
      o !== inc &&
      o.phase === 'settling' &&
      o.scope === 'GARDU' &&
      o.restoredAt! <= inc.startedAt &&
      (o.gasps[m] ?? Infinity) < bulkStart(ctx, g, o) &&
      !((o.alive[m] ?? -1) >= o.restoredAt!),
  );
}

function darkInMeterOutages(g: GarduState, except: Incident): string[] {
  return g.incidents.flatMap((i) =>
    i !== except && i.scope === 'METER' && i.phase === 'open' ? i.dark : [],
  );
}

/** The meter had supply at `t`: a power restore (`restore`) or a read. */
function onAlive(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  m: string,
  t: number,
  restore: boolean,
  out: Emission[],
): boolean {
  if (g.incidents.length === 0) return false;
  let touched = false;
  for (const inc of [...g.incidents]) {
    const gaspAt = inc.gasps[m];
    if (t <= (gaspAt ?? inc.startedAt)) continue;
    touched = true;
    inc.alive[m] = Math.max(inc.alive[m] ?? t, t);
    if (inc.back[m] === undefined) inc.back[m] = t;
    if (restore && inc.returns[m] === undefined) inc.returns[m] = t;
    const supplyBack = restore || gaspAt !== undefined;
    if (supplyBack && inc.supplyBackAt === null) inc.supplyBackAt = t;
    if (inc.phase === 'open' && inc.scope === 'GARDU' && supplyBack) restoreGardu(ctx, st, g, inc, t, out);
    else if (inc.phase === 'open' && inc.scope === 'METER' && inc.dark.includes(m))
      restoreMeter(ctx, st, g, inc, m, t, out);
  }
  return touched;
}

// ---------------------------------------------------------------- decisions

interface Evidence {
  population: number;
  gasps: number;
  silent: number;
  silenceKnown: boolean;
}

/** Counts over the gardu's AMI meters (AMR excluded from every share). */
function evidence(ctx: RulesContext, g: GarduState, inc: Incident, now: number): Evidence {
  let silent = 0;
  let darkElsewhere = 0;
  const ami = ctx.topo.garduAmiMeters(g.garduId);
  for (const m of ami) {
    if (inc.gasps[m] !== undefined || inc.alive[m] !== undefined) continue;
    if (inMeterOutage(g, m) || stillDarkFromEarlier(ctx, g, inc, m)) darkElsewhere++;
    else silent++;
  }
  const population = ami.length;
  // Meters of an open METER outage, or not back since an earlier outage's restore, gasped already: they
  // are dark evidence of this incident too.
  const gasps = Object.keys(inc.gasps).length + darkElsewhere;
  return { population, gasps, silent, silenceKnown: now >= silenceKnownAt(ctx, inc.startedAt) };
}

/** A read falls due at the first interval boundary after the start; it is missing after the grace. */
export function silenceKnownAt(ctx: RulesContext, startedAt: number): number {
  const every = ctx.cfg.READ_INTERVAL_MS;
  return (Math.floor(startedAt / every) + 1) * every + ctx.cfg.READ_GRACE_MS;
}

type Verdict = 'GARDU' | 'METER' | 'WAIT';

/** Which scope the evidence proves at `now`; WAIT while silence could still tip it. */
export function verdict(cfg: RulesConfig, e: Evidence): Verdict {
  if (e.population === 0 || e.gasps < cfg.GARDU_MIN_GASPS) return 'METER';
  if (e.gasps / e.population >= cfg.GARDU_GASP_SHARE) return 'GARDU';
  if (!e.silenceKnown) return 'WAIT';
  return (e.gasps + e.silent) / e.population >= cfg.GARDU_EVIDENCE_SHARE ? 'GARDU' : 'METER';
}

function decide(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  inc: Incident,
  now: number,
  out: Emission[],
): void {
  const v = verdict(ctx.cfg, evidence(ctx, g, inc, now));
  if (v === 'WAIT') return schedule(st, g.garduId, inc, silenceKnownAt(ctx, inc.startedAt));
  if (v === 'GARDU') return finishGardu(ctx, st, g, inc, now, out);
  // Meters, not the gardu, were out: each meter's own interruption decides. Back within the delay of
  // its own last gasp is a blink (momentary record), the others are the METER outage.
  inc.scope = 'METER';
  const gasped = Object.keys(inc.gasps).filter((m) => !isTusbung(g.facts[m])); // a tusbung last gasp is no outage
  const blinked = gasped.filter((m) => (inc.back[m] ?? Infinity) - inc.gasps[m]! <= ctx.cfg.CONFIRM_DELAY_MS);
  if (blinked.length > 0) recordBlinks(ctx, g, inc, blinked.sort(), out);
  const members = gasped.filter((m) => !blinked.includes(m)).sort();
  if (members.length === 0) return dissolve(ctx, st, g, inc, now, out);
  inc.members = members;
  inc.dark = members.filter((m) => inc.back[m] === undefined);
  inc.startedAt = Math.min(...members.map((m) => inc.gasps[m]!));
  inc.outageId = meterOutageId(g.garduId, inc.startedAt, members[0]!);
  confirm(ctx, st, g, inc, now, out);
  if (inc.dark.length === 0)
    restoreMeterOutage(ctx, st, g, inc, Math.max(...members.map((m) => inc.back[m]!)), out);
}

/** The meters of a METER incident that were back within the delay: one momentary METER record. */
function recordBlinks(
  ctx: RulesContext,
  g: GarduState,
  inc: Incident,
  blinked: string[],
  out: Emission[],
): void {
  const startedAt = Math.min(...blinked.map((m) => inc.gasps[m]!));
  const backAt = Math.max(...blinked.map((m) => inc.back[m]!));
  const blink: Incident = {
    ...inc,
    members: blinked,
    dark: [],
    startedAt,
    confirmedAt: backAt,
    restoredAt: backAt,
    outageId: meterOutageId(g.garduId, startedAt, blinked[0]!),
  };
  out.push({ to: 'momentary', record: outageRecord(ctx, g, blink, 'RESTORED', 'momentary') });
}

function finishGardu(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  inc: Incident,
  now: number,
  out: Emission[],
): void {
  inc.scope = 'GARDU';
  inc.outageId = garduOutageId(g.garduId, inc.startedAt);
  settleBefore(ctx, st, g, inc, now, out);
  inc.countedElsewhere = darkInMeterOutages(g, inc).sort();
  if (inc.supplyBackAt !== null && isMomentary(ctx, inc, inc.supplyBackAt)) {
    inc.parentId = feederMomentary(ctx, st, g, inc, inc.supplyBackAt, now, out);
    return momentary(ctx, st, g, inc, inc.supplyBackAt, out);
  }
  const joined = rollUpToFeeder(ctx, st, g, inc, now);
  confirm(ctx, st, g, inc, now, out);
  for (const [og, oi] of joined) publish(ctx, st, og, oi, 'UPDATED', out);
  if (inc.supplyBackAt !== null) restoreGardu(ctx, st, g, inc, inc.supplyBackAt, out);
}

function isMomentary(ctx: RulesContext, inc: Incident, backAt: number): boolean {
  return backAt - inc.startedAt <= ctx.cfg.CONFIRM_DELAY_MS;
}

function confirm(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  inc: Incident,
  now: number,
  out: Emission[],
): void {
  inc.phase = 'open';
  inc.confirmedAt = now;
  inc.dueAt = null;
  publish(ctx, st, g, inc, 'OPEN', out);
  refreshGardu(ctx, st, g, now, out);
}

/**
 * A gardu restored before confirmation: recorded for reliability statistics, never OPEN. It settles
 * like a restored outage: meters still dark at the next read had a sustained interruption of their own.
 */
function momentary(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  inc: Incident,
  backAt: number,
  out: Emission[],
): void {
  inc.confirmedAt = backAt;
  inc.restoredAt = backAt;
  out.push({ to: 'momentary', record: outageRecord(ctx, g, inc, 'RESTORED', 'momentary') });
  inc.phase = 'settling';
  schedule(st, g.garduId, inc, silenceKnownAt(ctx, backAt));
  refreshGardu(ctx, st, g, backAt, out);
}

/** A settling gardu incident that was a momentary (never published on the outages topic). */
function wasMomentary(inc: Incident): boolean {
  return inc.shown === null;
}

function dissolve(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  inc: Incident,
  at: number,
  out: Emission[],
): void {
  g.incidents = g.incidents.filter((i) => i !== inc);
  refreshGardu(ctx, st, g, at, out);
}

// ---------------------------------------------------------------- restoration

function restoreGardu(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  inc: Incident,
  at: number,
  out: Emission[],
): void {
  inc.restoredAt = at;
  inc.phase = 'settling';
  publish(ctx, st, g, inc, 'RESTORED', out);
  schedule(st, g.garduId, inc, silenceKnownAt(ctx, at));
  refreshGardu(ctx, st, g, at, out);
}

/** Supply is back at the gardu; AMI meters with no sign of life since become one nested METER outage. */
function settle(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  inc: Incident,
  now: number,
  out: Emission[],
): void {
  const back = inc.restoredAt!;
  const candidates = ctx.topo
    .garduAmiMeters(g.garduId)
    .filter((m) => !isTusbung(g.facts[m]) && !inMeterOutage(g, m, back) && !inc.countedElsewhere.includes(m));
  // A sign of life since the restore, or a last gasp since (it had supply to lose), ends the meter's interruption.
  const stillDark = candidates.filter(
    (m) =>
      !((inc.alive[m] ?? -1) >= back) && !g.incidents.some((o) => o !== inc && (o.gasps[m] ?? -1) >= back),
  );
  // After a momentary (no parent on the outages topic) a meter's own interruption must be sustained.
  const root = wasMomentary(inc);
  const lateBack = candidates.filter(
    (m) =>
      returnedLate(inc, m, back) &&
      (!root || inc.returns[m]! - (inc.gasps[m] ?? inc.startedAt) > ctx.cfg.CONFIRM_DELAY_MS),
  );
  const members = [...stillDark, ...lateBack].sort();
  g.incidents = g.incidents.filter((i) => i !== inc);
  if (members.length === 0) return refreshGardu(ctx, st, g, now, out);
  const nested = newIncident(`${inc.startedAt}:${members[0]}:nested`, inc.startedAt);
  nested.scope = 'METER';
  nested.members = members;
  nested.dark = stillDark.sort();
  nested.gasps = Object.fromEntries(
    members.filter((m) => inc.gasps[m] !== undefined).map((m) => [m, inc.gasps[m]!]),
  );
  nested.back = Object.fromEntries(lateBack.map((m) => [m, inc.returns[m]!]));
  nested.parentId = root ? null : inc.outageId;
  nested.parentRestoredAt = root ? null : back;
  nested.bulkStartedAt = bulkStart(ctx, g, inc);
  nested.outageId = meterOutageId(g.garduId, inc.startedAt, members[0]!);
  g.incidents.push(nested);
  confirm(ctx, st, g, nested, now, out);
  if (stillDark.length === 0)
    restoreMeterOutage(ctx, st, g, nested, Math.max(...Object.values(nested.back)), out);
}

/**
 * The gardu went dark again before an earlier restored outage of it settled: settle that one now,
 * so meters still dark from it are its nested METER outage (counted there, not again by this one).
 */
function settleBefore(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  inc: Incident,
  now: number,
  out: Emission[],
): void {
  for (const earlier of g.incidents.filter((i) => i.phase === 'settling' && i.restoredAt! <= inc.startedAt))
    settle(ctx, st, g, earlier, now, out);
}

/**
 * A power restore more than this after its gardu's is the meter's own (a fuse that outlasted the
 * transformer): it was dark in between. Closer, it is the same restore arriving a moment later.
 */
export const LATE_RETURN_MS = 10_000;

/** The meter's supply came back by its own power restore, well after its gardu's, with no sign of life before. */
function returnedLate(inc: Incident, m: string, back: number): boolean {
  const at = inc.returns[m];
  return at !== undefined && at > back + LATE_RETURN_MS && inc.back[m] === at;
}

function restoreMeter(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  inc: Incident,
  m: string,
  at: number,
  out: Emission[],
): void {
  inc.dark = inc.dark.filter((d) => d !== m);
  if (inc.dark.length === 0) return restoreMeterOutage(ctx, st, g, inc, at, out);
  publish(ctx, st, g, inc, 'UPDATED', out);
}

function restoreMeterOutage(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  inc: Incident,
  at: number,
  out: Emission[],
): void {
  inc.dark = [];
  inc.restoredAt = at;
  publish(ctx, st, g, inc, 'RESTORED', out);
  dissolve(ctx, st, g, inc, at, out);
}

// ---------------------------------------------------------------- feeder roll-up

/**
 * When enough gardu of one feeder go out together, a FEEDER outage becomes the
 * parent. Counts this gardu, open unparented gardu outages and gardu whose
 * last gasps already qualify, all starting within the feeder window. A gardu
 * outage starting while the feeder's outage is open joins it, however late its
 * evidence came (one feeder outage at a time). Returns the already-open gardu
 * outages that just got the new parent.
 */
function rollUpToFeeder(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  inc: Incident,
  now: number,
): Array<[GarduState, Incident]> {
  const feederId = placeOf(ctx, g.garduId).feederId;
  const win = ctx.cfg.FEEDER_WINDOW_MS;
  const existing = st.feeders.get(feederId);
  if (existing) {
    if (inc.startedAt >= existing.startedAt - win) inc.parentId = existing.outageId;
    return [];
  }
  const group: Array<[GarduState, Incident]> = [];
  for (const other of ctx.topo.feederGardus(feederId)) {
    const og = other === g.garduId ? undefined : st.gardus.get(other);
    const oi = og?.incidents.find(
      (i) => Math.abs(i.startedAt - inc.startedAt) <= win && joinsFeeder(ctx, og, i, now),
    );
    if (og && oi) group.push([og, oi]);
  }
  const size = group.length + 1;
  if (
    size < ctx.cfg.FEEDER_MIN_GARDU ||
    size / ctx.topo.feederGardus(feederId).size < ctx.cfg.FEEDER_GARDU_SHARE
  )
    return [];
  const startedAt = Math.min(inc.startedAt, ...group.map(([, i]) => i.startedAt));
  const feeder: FeederOutage = {
    outageId: `FEEDER-${feederId}-${startedAt}`,
    feederId,
    startedAt,
    confirmedAt: now,
    restoredAt: null,
    children: {},
    rev: 0,
    shown: null,
  };
  st.feeders.set(feederId, feeder);
  inc.parentId = feeder.outageId;
  const joined = group.filter(([, oi]) => oi.phase === 'open');
  for (const [, oi] of joined) oi.parentId = feeder.outageId;
  return joined;
}

/**
 * A momentary of several gardu of one feeder is one FEEDER momentary (the same
 * roll-up rule as sustained outages); the gardu records name it as parent.
 */
function feederMomentary(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  inc: Incident,
  backAt: number,
  now: number,
  out: Emission[],
): string | null {
  const place = placeOf(ctx, g.garduId);
  const win = ctx.cfg.FEEDER_WINDOW_MS;
  const known = st.feederMomentaries.get(place.feederId);
  if (known && Math.abs(known.startedAt - inc.startedAt) <= win) return known.outageId;
  const group = [...ctx.topo.feederGardus(place.feederId)].filter((other) => {
    if (other === g.garduId) return true;
    const og = st.gardus.get(other);
    return (
      og?.incidents.some(
        (i) => Math.abs(i.startedAt - inc.startedAt) <= win && joinsFeeder(ctx, og, i, now),
      ) ?? false
    );
  });
  const total = ctx.topo.feederGardus(place.feederId).size;
  if (group.length < ctx.cfg.FEEDER_MIN_GARDU || group.length / total < ctx.cfg.FEEDER_GARDU_SHARE)
    return null;
  const startedAt = Math.min(
    inc.startedAt,
    ...group
      .flatMap((id) => st.gardus.get(id)?.incidents.map((i) => i.startedAt) ?? [])
      .filter((t) => Math.abs(t - inc.startedAt) <= win),
  );
  const outageId = `FEEDER-${place.feederId}-${startedAt}`;
  st.feederMomentaries.set(place.feederId, { outageId, startedAt });
  let customersTotal = 0;
  for (const id of ctx.topo.feederGardus(place.feederId)) customersTotal += ctx.topo.garduMeters(id).size;
  let affected = 0;
  for (const id of group) affected += ctx.topo.garduMeters(id).size;
  out.push({
    to: 'momentary',
    record: {
      outage_id: outageId,
      scope: 'FEEDER',
      status: 'RESTORED',
      region: place.region,
      ulp: place.ulp,
      feeder_id: place.feederId,
      gardu_id: null,
      meter_ids: [],
      parent_outage_id: null,
      started_at: startedAt,
      confirmed_at: backAt,
      restored_at: backAt,
      customers_affected: affected,
      customers_total: customersTotal,
      last_gasps: group.reduce(
        (s, id) =>
          s +
          Object.keys(
            st.gardus.get(id)?.incidents.find((i) => Math.abs(i.startedAt - inc.startedAt) <= win)?.gasps ??
              {},
          ).length,
        0,
      ),
      tusbung_excluded: 0,
      customers_interrupted: 0,
      customer_interruption_s: 0,
    },
  });
  return outageId;
}

function joinsFeeder(ctx: RulesContext, g: GarduState, i: Incident, now: number): boolean {
  if (i.phase === 'open') return i.scope === 'GARDU' && i.parentId === null;
  return (
    i.phase === 'candidate' &&
    verdict(ctx.cfg, { ...evidence(ctx, g, i, now), silenceKnown: false }) === 'GARDU'
  );
}

/** A child's published figures, kept so the feeder adds up without its children's state. */
export interface ChildFigures {
  affected: number;
  lastGasps: number;
  tusbung: number;
  restoredAt: number | null;
}

function feederOf(st: DetectorState, r: OutageRecord): FeederOutage | undefined {
  const f = r.parent_outage_id === null ? undefined : st.feeders.get(r.feeder_id);
  return f && f.outageId === r.parent_outage_id ? f : undefined;
}

/**
 * The feeder's supply is back when the children still dark no longer make a feeder outage by the
 * roll-up rule: restored at the child restore that made them too few. Null while they still do.
 */
function feederRestoredAt(ctx: RulesContext, feeder: FeederOutage): number | null {
  const kids = Object.values(feeder.children);
  const gardus = ctx.topo.feederGardus(feeder.feederId).size;
  const ends = kids.flatMap((c) => (c.restoredAt === null ? [] : [c.restoredAt])).sort((a, b) => a - b);
  let dark = kids.length;
  for (const at of ends) {
    dark--;
    if (dark < ctx.cfg.FEEDER_MIN_GARDU || dark / gardus < ctx.cfg.FEEDER_GARDU_SHARE) return at;
  }
  return null;
}

/**
 * OPEN on creation, UPDATED as children change, RESTORED when its supply is back (feederRestoredAt);
 * gardu outages still dark then stay open as its children and are restored on their own.
 */
function publishFeeder(ctx: RulesContext, st: DetectorState, feeder: FeederOutage, out: Emission[]): void {
  const kids = Object.values(feeder.children);
  const sum = (f: (c: ChildFigures) => number) => kids.reduce((s, c) => s + f(c), 0);
  const restoredAt = feederRestoredAt(ctx, feeder);
  const anyGardu = ctx.topo.feederGardus(feeder.feederId).values().next().value;
  const where = anyGardu === undefined ? { region: '', ulp: '' } : placeOf(ctx, anyGardu);
  let customersTotal = 0;
  for (const garduId of ctx.topo.feederGardus(feeder.feederId))
    customersTotal += ctx.topo.garduMeters(garduId).size;
  const record: OutageRecord = {
    outage_id: feeder.outageId,
    scope: 'FEEDER',
    status: feeder.shown === null ? 'OPEN' : restoredAt !== null ? 'RESTORED' : 'UPDATED',
    region: where.region,
    ulp: where.ulp,
    feeder_id: feeder.feederId,
    gardu_id: null,
    meter_ids: [],
    parent_outage_id: null,
    started_at: feeder.startedAt,
    confirmed_at: feeder.confirmedAt,
    restored_at: restoredAt,
    customers_affected: sum((c) => c.affected),
    customers_total: customersTotal,
    last_gasps: sum((c) => c.lastGasps),
    tusbung_excluded: sum((c) => c.tusbung),
    customers_interrupted: 0,
    customer_interruption_s: 0,
  };
  const digest = digestOf(record);
  if (digest === feeder.shown) return;
  feeder.shown = digest;
  feeder.rev++;
  for (const child of Object.keys(feeder.children)) st.dirty.add(child);
  out.push({ to: 'outages', record });
  if (restoredAt !== null) st.feeders.delete(feeder.feederId);
}

// ---------------------------------------------------------------- records

export function garduOutageId(garduId: string, startedAt: number): string {
  return `GARDU-${garduId}-${startedAt}`;
}

export function meterOutageId(garduId: string, startedAt: number, firstMeter: string): string {
  return `METER-${garduId}-${startedAt}-${firstMeter}`;
}

/**
 * The one path by which a gardu or meter outage is published: OPEN and
 * RESTORED always, UPDATED only when something an operator sees changed.
 * A parent feeder follows its children.
 */
function publish(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  inc: Incident,
  status: Outage['status'],
  out: Emission[],
): void {
  const r = outageRecord(ctx, g, inc, status);
  const digest = digestOf(r);
  if (status === 'UPDATED' && (inc.phase !== 'open' || digest === inc.shown)) return;
  inc.shown = digest;
  out.push({ to: 'outages', record: r });
  const feeder = feederOf(st, r);
  if (!feeder || r.gardu_id === null || r.scope !== 'GARDU') return;
  feeder.children[r.gardu_id] = {
    affected: r.customers_affected,
    lastGasps: r.last_gasps,
    tusbung: r.tusbung_excluded,
    restoredAt: r.restored_at,
  };
  publishFeeder(ctx, st, feeder, out);
}

function outageRecord(
  ctx: RulesContext,
  g: GarduState,
  inc: Incident,
  status: Outage['status'],
  topic: Emission['to'] = 'outages',
): OutageRecord {
  const where = placeOf(ctx, g.garduId);
  const base = {
    outage_id: inc.outageId!,
    scope: inc.scope!,
    status,
    region: where.region,
    ulp: where.ulp,
    feeder_id: where.feederId,
    gardu_id: g.garduId,
    parent_outage_id: inc.parentId,
    started_at: inc.startedAt,
    confirmed_at: inc.confirmedAt ?? inc.startedAt,
    restored_at: inc.restoredAt,
  };
  // Final figures at RESTORED: a customer counts (customers_interrupted) when this record is the first to
  // see a sustained interruption of theirs, or on the momentary topic; before, every customer counted so far.
  const count = new Counter(ctx, status === 'RESTORED', topic === 'momentary');
  if (inc.scope === 'METER') {
    for (const m of inc.members) {
      const from = inc.gasps[m] ?? inc.bulkStartedAt ?? inc.startedAt;
      const to = inc.back[m] ?? inc.restoredAt ?? Infinity;
      // Nested: the parent counted the member if it was dark long enough in it, and its time up to the restore.
      const parentEnd = inc.parentRestoredAt;
      if (parentEnd !== null && parentEnd - from > ctx.cfg.CONFIRM_DELAY_MS) count.timeOnly(parentEnd, to);
      else count.customer(from, to);
    }
    return {
      ...base,
      meter_ids: inc.members,
      customers_affected: inc.members.length,
      customers_total: inc.members.length,
      last_gasps: inc.members.filter((m) => inc.gasps[m] !== undefined).length,
      tusbung_excluded: 0,
      customers_interrupted: count.customers,
      customer_interruption_s: count.seconds(),
    };
  }
  let total = 0;
  let tusbung = 0;
  let aliveThrough = 0;
  // Alive while the gardu was dark: seen after its last gasp (an earlier read, e.g. during the partial
  // failure an escalation starts with, proves nothing) and before its restore.
  let lastGasp = inc.startedAt;
  for (const m in inc.gasps) lastGasp = Math.max(lastGasp, inc.gasps[m]!);
  const restoredAt = inc.restoredAt ?? Infinity;
  const bulk = bulkStart(ctx, g, inc);
  for (const m of ctx.topo.garduMeters(g.garduId)) {
    total++;
    const seen = inc.back[m];
    if (isTusbung(g.facts[m])) tusbung++;
    else if (inc.gasps[m] === undefined && seen !== undefined && seen > lastGasp && seen < restoredAt)
      aliveThrough++;
    else if (!inc.countedElsewhere.includes(m)) count.customer(inc.gasps[m] ?? bulk, restoredAt);
  }
  return {
    ...base,
    meter_ids: [],
    customers_affected: total - tusbung - aliveThrough,
    customers_total: total,
    last_gasps: Object.keys(inc.gasps).length,
    tusbung_excluded: tusbung,
    customers_interrupted: count.customers,
    customer_interruption_s: count.seconds(),
  };
}

/** Adds up one record's customers and customer-milliseconds. */
class Counter {
  customers = 0;
  private ms = 0;
  constructor(
    private readonly ctx: RulesContext,
    private readonly final: boolean,
    private readonly momentary: boolean,
  ) {}

  /** A customer dark from `from` to `to` in this record, counted here unless momentary on the outages topic. */
  customer(from: number, to: number): void {
    if (!this.final) return void this.customers++;
    if (!this.momentary && to - from <= this.ctx.cfg.CONFIRM_DELAY_MS) return;
    this.customers++;
    this.ms += to - from;
  }

  /** A customer counted by another record; only its time from `from` to `to` is this record's. */
  timeOnly(from: number, to: number): void {
    if (this.final) this.ms += Math.max(0, to - from);
  }

  seconds(): number {
    return this.final ? seconds(this.ms) : 0;
  }
}

/**
 * When the gardu as a whole went dark: the last gasp that made the gasps alone prove it (a partial
 * failure before it, as in an escalation, is earlier), else the last one. Customers without a last gasp
 * of their own (AMR, lost) are dark from then.
 */
function bulkStart(ctx: RulesContext, g: GarduState, inc: Incident): number {
  const times = Object.values(inc.gasps).sort((a, b) => a - b);
  if (times.length === 0) return inc.startedAt;
  const population = ctx.topo.garduAmiMeters(g.garduId).length;
  const need = Math.max(ctx.cfg.GARDU_MIN_GASPS, Math.ceil(ctx.cfg.GARDU_GASP_SHARE * population));
  return times[Math.min(times.length, need) - 1]!;
}

/** Customer-milliseconds to whole customer-seconds (a long: 1.2 M customers x hours fits). */
function seconds(customerMs: number): number {
  return Math.round(customerMs / 1000);
}

function digestOf(r: OutageRecord): string {
  return JSON.stringify({ ...r, status: undefined });
}

function placeOf(ctx: RulesContext, garduId: string): { region: string; ulp: string; feederId: string } {
  const first = ctx.topo.garduMeters(garduId).values().next().value;
  const info = first === undefined ? undefined : ctx.topo.meter(first);
  return { region: info?.region ?? '', ulp: info?.ulp ?? '', feederId: info?.feederId ?? '' };
}

// ---------------------------------------------------------------- meter status

/** Where meter `m` is dark, if anywhere (and the outage id once confirmed). */
function darkness(g: GarduState, m: string): Darkness | null {
  for (const inc of g.incidents) {
    const alive = inc.alive[m];
    if (inc.phase === 'candidate' && inc.gasps[m] !== undefined && alive === undefined)
      return { outageId: null };
    if (inc.scope === 'METER' && inc.phase === 'open' && inc.dark.includes(m))
      return { outageId: inc.outageId };
    if (inc.scope === 'GARDU' && inc.phase === 'open' && alive === undefined)
      return { outageId: inc.outageId };
    if (
      inc.scope === 'GARDU' &&
      inc.phase === 'settling' &&
      !wasMomentary(inc) &&
      !((alive ?? -1) >= inc.restoredAt!)
    )
      return { outageId: inc.outageId };
  }
  return null;
}

function refreshStatus(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  m: string,
  at: number,
  out: Emission[],
): void {
  const had = g.facts[m];
  const dark = darkness(g, m);
  // Nothing remembered and not dark: ENERGIZED as last shown, nothing to publish or keep.
  if (had === undefined && dark === null) return;
  const f = had ?? defaultFacts();
  const change = statusChange(m, g.garduId, f, dark, at);
  if (change) out.push({ to: 'status', record: change });
  if (isPlain(f)) {
    if (had !== undefined) {
      delete g.facts[m];
      st.dirty.add(g.garduId);
    }
  } else if (had === undefined) {
    g.facts[m] = f;
    st.dirty.add(g.garduId);
  }
  if (change) st.dirty.add(g.garduId);
}

/** After a gardu-wide change, every meter of the gardu may show a new state. */
function refreshGardu(
  ctx: RulesContext,
  st: DetectorState,
  g: GarduState,
  at: number,
  out: Emission[],
): void {
  for (const m of ctx.topo.garduMeters(g.garduId)) refreshStatus(ctx, st, g, m, at, out);
}

// ---------------------------------------------------------------- state plumbing

function meterInfo(ctx: RulesContext, meterId: string): MeterInfo {
  const info = ctx.topo.meter(meterId);
  if (!info) throw new BadRecordError('unknown-meter', `meter ${meterId} is not in the meters table`);
  return info;
}

function gardu(st: DetectorState, garduId: string): GarduState {
  let g = st.gardus.get(garduId);
  if (!g) {
    g = { garduId, facts: {}, incidents: [], seen: new Map() };
    st.gardus.set(garduId, g);
  }
  return g;
}

function factsOf(g: GarduState, m: string): MeterFacts {
  let f = g.facts[m];
  if (!f) {
    f = defaultFacts();
    g.facts[m] = f;
  }
  return f;
}

function setRelay(f: MeterFacts, relay: MeterFacts['relay'], cause: MeterFacts['cause'], at: number): void {
  f.relay = relay;
  f.cause = relay === 'CLOSED' ? 'NONE' : cause;
  f.reconnectEnabled = false;
  f.relaySince = at;
}

/** A gardu with nothing to remember is dropped (steady state stays small). True when it was. */
function forgetIfIdle(st: DetectorState, g: GarduState): boolean {
  if (g.incidents.length > 0 || !isEmpty(g.facts) || g.seen.size > 0) return false;
  if (st.gardus.get(g.garduId) !== g) return false;
  st.gardus.delete(g.garduId);
  return true;
}

function isEmpty(o: Record<string, unknown>): boolean {
  for (const _ in o) return false;
  return true;
}

function newIncident(key: string, startedAt: number): Incident {
  return {
    key,
    phase: 'candidate',
    scope: null,
    outageId: null,
    parentId: null,
    startedAt,
    dueAt: startedAt,
    confirmedAt: null,
    restoredAt: null,
    gasps: {},
    alive: {},
    supplyBackAt: null,
    members: [],
    dark: [],
    back: {},
    returns: {},
    countedElsewhere: [],
    parentRestoredAt: null,
    bulkStartedAt: null,
    shown: null,
  };
}

function schedule(st: DetectorState, garduId: string, inc: Incident, dueAt: number): void {
  inc.dueAt = dueAt;
  heapPush(st.timers, { dueAt, garduId, key: inc.key }, earlier);
}

// ---------------------------------------------------------------- snapshots

/** Everything needed to rebuild one gardu after a crash or rebalance (JSON). */
export interface GarduSnapshot {
  gardu: GarduState;
  feeders: FeederOutage[];
}

export function snapshotGardu(st: DetectorState, garduId: string): GarduSnapshot | null {
  const g = st.gardus.get(garduId);
  if (!g) return null;
  const feeders = [...st.feeders.values()].filter((f) => f.children[garduId] !== undefined);
  return { gardu: g, feeders };
}

export function loadGardu(st: DetectorState, snap: GarduSnapshot): void {
  st.gardus.set(snap.gardu.garduId, snap.gardu);
  for (const inc of snap.gardu.incidents) {
    if (inc.dueAt !== null)
      heapPush(st.timers, { dueAt: inc.dueAt, garduId: snap.gardu.garduId, key: inc.key }, earlier);
  }
  for (const f of snap.feeders) {
    const known = st.feeders.get(f.feederId);
    if (!known || known.rev < f.rev) st.feeders.set(f.feederId, f);
  }
}

export function dropGardu(st: DetectorState, garduId: string): void {
  st.gardus.delete(garduId);
  st.dirty.delete(garduId);
}

/** Due time first; ties in a fixed order so a rebuilt state fires them the same way. */
const earlier = (a: Timer, b: Timer): boolean =>
  a.dueAt !== b.dueAt ? a.dueAt < b.dueAt : a.garduId !== b.garduId ? a.garduId < b.garduId : a.key < b.key;
