import { BadRecordError, heapPush, type MeterStatus, type Outage, type OutageScope } from '@ami/lib';
import type { RulesConfig } from '../config.js';
import { defaultFacts, type MeterFacts } from '../meterStatus.js';
import type { MeterInfo, Topology } from '../topology.js';

/**
 * The state the outage rules keep: plain data (maps, arrays, records: changelog.ts writes it per gardu),
 * and the plumbing that finds, creates and forgets its parts and schedules the incidents' timers.
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
  /**
   * Restoration pings that found a meter silent (restoration.ts): meter -> when the ping was sent
   * (`sentAt`, the detector's clock) and when the head-end gave up on it (`at`, its medium's time-out:
   * the evidence's event time). Absent until a ping was silent; saved with the gardu.
   */
  pingSilence?: Record<string, PingSilence>;
  /**
   * Its meters' statuses owed since this event time (status.ts, `oweStatuses`): a confirmed gardu
   * outage publishes its OPEN record at once and its meters' statuses when a step has room. Saved
   * with the gardu, so a restart still publishes them; absent when nothing is owed.
   */
  statusesOwedSince?: number;
}

/** A READ_NOW the meter did not answer within its medium's time-out. */
export interface PingSilence {
  sentAt: number;
  at: number;
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

/** A child's published figures, kept so the feeder adds up without its children's state. */
export interface ChildFigures {
  affected: number;
  lastGasps: number;
  tusbung: number;
  restoredAt: number | null;
}

export interface Timer {
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
  /** Gardu that owe their meters' statuses (`statusesOwedSince`), oldest first. */
  owing: Set<string>;
}

export interface RulesContext {
  cfg: RulesConfig;
  topo: Topology;
}

/**
 * What every rule passes along within one call of the edge: the configuration and topology it reads,
 * the state it changes and the emissions it collects, in order.
 */
export interface Step extends RulesContext {
  state: DetectorState;
  emissions: Emission[];
}

export function stepOf(ctx: RulesContext, state: DetectorState, emissions: Emission[]): Step {
  return { cfg: ctx.cfg, topo: ctx.topo, state, emissions };
}

export function newDetectorState(): DetectorState {
  return {
    gardus: new Map(),
    feeders: new Map(),
    feederMomentaries: new Map(),
    timers: [],
    dirty: new Set(),
    owing: new Set(),
  };
}

// ---------------------------------------------------------------- state plumbing

export function meterInfo(ctx: RulesContext, meterId: string): MeterInfo {
  const info = ctx.topo.meter(meterId);
  if (!info) throw new BadRecordError('unknown-meter', `meter ${meterId} is not in the meters table`);
  return info;
}

export function gardu(st: DetectorState, garduId: string): GarduState {
  let g = st.gardus.get(garduId);
  if (!g) {
    g = { garduId, facts: {}, incidents: [], seen: new Map() };
    st.gardus.set(garduId, g);
  }
  return g;
}

export function factsOf(g: GarduState, m: string): MeterFacts {
  let f = g.facts[m];
  if (!f) {
    f = defaultFacts();
    g.facts[m] = f;
  }
  return f;
}

export function setRelay(
  f: MeterFacts,
  relay: MeterFacts['relay'],
  cause: MeterFacts['cause'],
  at: number,
): void {
  f.relay = relay;
  f.cause = relay === 'CLOSED' ? 'NONE' : cause;
  f.reconnectEnabled = false;
  f.relaySince = at;
}

/** A gardu with nothing to remember is dropped (steady state stays small). True when it was. */
export function forgetIfIdle(st: DetectorState, g: GarduState): boolean {
  if (g.incidents.length > 0 || !isEmpty(g.facts) || g.seen.size > 0 || g.statusesOwedSince !== undefined)
    return false;
  if (st.gardus.get(g.garduId) !== g) return false;
  st.gardus.delete(g.garduId);
  return true;
}

function isEmpty(o: Record<string, unknown>): boolean {
  for (const _ in o) return false;
  return true;
}

export function newIncident(key: string, startedAt: number): Incident {
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

export function schedule(st: DetectorState, garduId: string, inc: Incident, dueAt: number): void {
  inc.dueAt = dueAt;
  heapPush(st.timers, { dueAt, garduId, key: inc.key }, earlier);
}

/** Due time first; ties in a fixed order so a rebuilt state fires them the same way. */
export const earlier = (a: Timer, b: Timer): boolean =>
  a.dueAt !== b.dueAt ? a.dueAt < b.dueAt : a.garduId !== b.garduId ? a.garduId < b.garduId : a.key < b.key;
