import type { SuspectedOutage, SuspicionStatus } from '@ami/lib';
import { isTusbung } from './meterStatus.js';
import {
  garduOutageId,
  meterOutageId,
  verdict,
  type DetectorState,
  type Emission,
  type Input,
  type OutageRecord,
  type RulesContext,
} from './rules.js';
import type { MeterInfo } from './topology.js';

/**
 * Suspected outages: the outage rules' threshold applied to last gasps as they ARRIVE, before the
 * event-time buffer orders them, so an operator sees a predicted outage within a second instead of
 * after the confirmation delay and the allowed lateness. Plain functions over plain data (saved as
 * JSON in the state topic); the event-time rules (rules.ts) stay the only source of outages.
 *
 * Lifecycle of one suspicion (one candidate: a gardu's last gasps until supply is back):
 *   SUSPECTED --(more last gasps: same record, new counts)--> SUSPECTED
 *   SUSPECTED METER --(the gasps cross the gardu share)--> CANCELLED (ESCALATED) + SUSPECTED GARDU
 *   SUSPECTED --(supply back within the confirmation delay, on arrival)--> CANCELLED (SUPPLY_BACK)
 *   SUSPECTED|CANCELLED --(the event-time rule opens the outage)--> CONFIRMED (final)
 *   SUSPECTED --(the rule recorded a momentary, or decided nothing for it)--> CANCELLED (final)
 *   SUSPECTED --(pings: every meter silent / every meter answered)--> VERIFIED / CANCELLED (applyPings)
 */

/** A suspected outage without the wall-clock field the edge stamps when it sends. */
export type SuspicionRecord = Omit<SuspectedOutage, 'emitted_at'>;

/** What was last published for a candidate. */
export interface Shown {
  outageId: string;
  scope: 'GARDU' | 'METER';
  status: SuspicionStatus;
  reason: string | null;
  confirmedOutageId: string | null;
  /** Kafka timestamp of the input that crossed the threshold for this scope. */
  evidenceLoggedAt: number;
  /** The record last published, minus emitted_at, to publish only on change. */
  digest: string;
  pingsSent: number;
  pingsAnswered: number;
  pingsSilent: number;
}

/** One gardu's last gasps as they arrived, until supply was back: the arrival twin of an Incident. */
export interface Candidate {
  startedAt: number;
  /** AMI meter -> its last gasp (event time). */
  gasps: Record<string, number>;
  /** Meters in `gasps` (a storm gardu's 100+ gasps are counted at every arrival). */
  gasped: number;
  /** The latest last gasp (event time). */
  lastGaspAt: number;
  /** Meter -> first sign of supply after its last gasp. */
  back: Record<string, number>;
  /** Earliest proof of supply (a power restore, or a read of a gasped meter). */
  supplyBackAt: number | null;
  /** Kafka timestamp of the input that made the candidate cross each scope's threshold. */
  crossed: { GARDU?: number; METER?: number };
  shown: Shown | null;
  /** Settled by the event-time rule (CONFIRMED or CANCELLED): nothing changes it any more. */
  final: boolean;
  /**
   * A nested METER suspicion (`suspectNested`): the id of the restored GARDU outage whose restoration
   * pings found these meters still dark. Absent for suspicions of last gasps.
   */
  nested?: string;
}

export interface ArrivalGardu {
  garduId: string;
  candidates: Candidate[];
  /** Meter -> relay as last heard on arrival (true: opened by a remote disconnect) and when. */
  relays: Record<string, { tusbung: boolean; at: number }>;
}

export interface SuspicionState {
  gardus: Map<string, ArrivalGardu>;
  /** Gardu whose arrival state changed since the edge last published and saved it. */
  dirty: Set<string>;
}

export function newSuspicionState(): SuspicionState {
  return { gardus: new Map(), dirty: new Set() };
}

// ---------------------------------------------------------------- arrival

/**
 * One input as it arrives (not yet in event-time order). `info`: the meter's topology entry;
 * `loggedAt`: the input's Kafka timestamp. Duplicates are harmless (a meter counts once).
 */
export function onArrival(
  ctx: RulesContext,
  st: SuspicionState,
  rules: DetectorState | undefined,
  input: Input,
  info: MeterInfo,
  loggedAt: number,
): void {
  if (input.kind === 'read') {
    const g = st.gardus.get(info.garduId);
    if (g !== undefined) supplySeen(st, g, info.meterId, input.value.read_at, false);
    return;
  }
  const ev = input.value;
  const t = ev.occurred_at;
  if (ev.type === 'LAST_GASP') {
    if (info.ami) onGasp(ctx, st, rules, gardu(st, info.garduId), info.meterId, t, loggedAt);
  } else if (ev.type === 'POWER_RESTORE') {
    const g = st.gardus.get(info.garduId);
    if (g !== undefined) supplySeen(st, g, info.meterId, t, true);
  }
  const disconnected = ev.relay === 'OPEN' && ev.cause === 'REMOTE_DISCONNECT';
  if (disconnected || ev.type === 'RELAY_CLOSED') heardRelay(st, rules, info, disconnected, t);
}

/**
 * The rules' relay facts lag by the allowed lateness: a disconnection (tusbung) heard a moment ago
 * counts now, and so does the reconnection of a meter known disconnected. Other relay changes do not
 * matter to a suspicion.
 */
function heardRelay(
  st: SuspicionState,
  rules: DetectorState | undefined,
  info: MeterInfo,
  disconnected: boolean,
  t: number,
): void {
  const known = st.gardus.get(info.garduId)?.relays[info.meterId];
  const wasTusbung = known?.tusbung ?? isTusbung(rules?.gardus.get(info.garduId)?.facts[info.meterId]);
  if ((!disconnected && !wasTusbung) || (known !== undefined && known.at > t)) return;
  gardu(st, info.garduId).relays[info.meterId] = { tusbung: disconnected, at: t };
  st.dirty.add(info.garduId);
}

function onGasp(
  ctx: RulesContext,
  st: SuspicionState,
  rules: DetectorState | undefined,
  g: ArrivalGardu,
  m: string,
  t: number,
  loggedAt: number,
): void {
  // As the rules: evidence joins the gardu's candidate unless supply came back before it.
  let c: Candidate | undefined;
  for (let i = g.candidates.length - 1; i >= 0 && c === undefined; i--) {
    const o = g.candidates[i]!;
    if (o.nested === undefined && (o.supplyBackAt === null || t < o.supplyBackAt)) c = o;
  }
  if (c === undefined) {
    c = {
      startedAt: t,
      gasps: {},
      gasped: 0,
      lastGaspAt: t,
      back: {},
      supplyBackAt: null,
      crossed: {},
      shown: null,
      final: false,
    };
    g.candidates.push(c);
  }
  if (c.gasps[m] !== undefined && c.gasps[m]! >= t) return; // a repeat (or an older one)
  if (c.gasps[m] === undefined) c.gasped++;
  c.gasps[m] = Math.max(c.gasps[m] ?? t, t);
  delete c.back[m];
  if (t < c.startedAt) c.startedAt = t;
  if (t > c.lastGaspAt) c.lastGaspAt = t;
  st.dirty.add(g.garduId);
  if (c.final) return;
  // The threshold crossed by this input: its Kafka timestamp is the start of the detection latency.
  if (c.crossed.GARDU === undefined && garduVerdict(ctx, g.garduId, c)) c.crossed.GARDU = loggedAt;
  if (c.crossed.METER === undefined && !tusbung(rules, g, m)) c.crossed.METER = loggedAt;
}

/** The meter had supply at `t` (a power restore when `restore`, else a read). */
function supplySeen(st: SuspicionState, g: ArrivalGardu, m: string, t: number, restore: boolean): void {
  for (const c of g.candidates) {
    const gaspAt = c.gasps[m];
    if (t <= (gaspAt ?? c.startedAt)) continue;
    // As the rules: a read proves supply only for a meter that gasped; a power restore always.
    if (!restore && gaspAt === undefined) continue;
    // Settled: only when supply came back matters (later last gasps are another incident).
    if (c.final && c.supplyBackAt !== null && c.supplyBackAt <= t) continue;
    if (!c.final && gaspAt !== undefined && (c.back[m] === undefined || t < c.back[m]!)) c.back[m] = t;
    if (c.supplyBackAt === null || t < c.supplyBackAt) c.supplyBackAt = t;
    st.dirty.add(g.garduId);
  }
}

/** THE rule's threshold (rules.ts `verdict`), over the gasps so far; silence is not known on arrival. */
function garduVerdict(ctx: RulesContext, garduId: string, c: Candidate): boolean {
  const population = ctx.topo.garduAmiMeters(garduId).length;
  return verdict(ctx.cfg, { population, gasps: c.gasped, silent: 0, silenceKnown: false }) === 'GARDU';
}

/** Disconnected by tusbung: as last heard on arrival, else as the rules know it. */
function tusbung(rules: DetectorState | undefined, g: ArrivalGardu, m: string): boolean {
  const heard = g.relays[m];
  if (heard !== undefined) return heard.tusbung;
  return isTusbung(rules?.gardus.get(g.garduId)?.facts[m]);
}

interface Assessment {
  scope: 'GARDU' | 'METER';
  cancelled: boolean;
  /** METER scope: the gasping meters that are not disconnected (sorted). */
  members: string[];
}

/** What the candidate's evidence says now; null: nothing to suspect (only tusbung meters gasped). */
function assess(
  ctx: RulesContext,
  rules: DetectorState | undefined,
  g: ArrivalGardu,
  c: Candidate,
): Assessment | null {
  const delay = ctx.cfg.CONFIRM_DELAY_MS;
  if (c.nested === undefined && garduVerdict(ctx, g.garduId, c)) {
    const cancelled = c.supplyBackAt !== null && c.supplyBackAt - c.startedAt <= delay;
    return { scope: 'GARDU', cancelled, members: [] };
  }
  // A tusbung last gasp alone opens nothing; each meter back within the delay of its own gasp blinked.
  const members = Object.keys(c.gasps)
    .filter((m) => !tusbung(rules, g, m))
    .sort();
  if (members.length === 0) return null;
  const cancelled = members.every((m) => c.back[m] !== undefined && c.back[m]! - c.gasps[m]! <= delay);
  return { scope: 'METER', cancelled, members };
}

// ---------------------------------------------------------------- publishing

/**
 * The records the arrival state calls for since the last call: new suspicions, new counts, a
 * METER suspicion taken over by its gardu's, cancellations by supply back. One record per
 * suspicion per call (the edge calls it once per step).
 */
export function publishArrivals(
  ctx: RulesContext,
  st: SuspicionState,
  rules: DetectorState | undefined,
  out: SuspicionRecord[],
): void {
  for (const garduId of st.dirty) {
    const g = st.gardus.get(garduId);
    if (g === undefined) continue;
    for (const c of g.candidates) if (!c.final) publishCandidate(ctx, rules, g, c, out);
  }
}

function publishCandidate(
  ctx: RulesContext,
  rules: DetectorState | undefined,
  g: ArrivalGardu,
  c: Candidate,
  out: SuspicionRecord[],
): void {
  const a = assess(ctx, rules, g, c);
  if (a === null) {
    if (c.shown !== null && c.shown.status !== 'CANCELLED')
      show(ctx, rules, g, c, 'CANCELLED', 'TUSBUNG: every meter that gasped is disconnected (tusbung)', out);
    return;
  }
  if (c.shown === null) {
    if (a.cancelled) return; // back before anyone was told: the rules record the momentary
    c.shown = newShown(g.garduId, c, a);
  } else if (c.shown.scope === 'METER' && a.scope === 'GARDU') {
    const wider = garduOutageId(g.garduId, c.startedAt);
    if (c.shown.status !== 'CANCELLED')
      show(ctx, rules, g, c, 'CANCELLED', `ESCALATED: the gardu's last gasps make it ${wider}`, out, 'METER');
    c.shown = newShown(g.garduId, c, a);
  }
  const shown = c.shown;
  // CANCELLED on arrival stands unless the event-time rule confirms (settleByRecords, sweep).
  if (shown.status === 'CANCELLED') return;
  if (a.cancelled) {
    const back = new Date(c.supplyBackAt ?? Math.max(...a.members.map((m) => c.back[m]!))).toISOString();
    const reason = `SUPPLY_BACK: supply back at ${back}, within the confirmation delay of ${ctx.cfg.CONFIRM_DELAY_MS / 1000} s`;
    return show(ctx, rules, g, c, 'CANCELLED', reason, out);
  }
  show(ctx, rules, g, c, shown.status, shown.reason, out);
}

function newShown(garduId: string, c: Candidate, a: Assessment): Shown {
  const outageId =
    a.scope === 'GARDU'
      ? garduOutageId(garduId, c.startedAt)
      : meterOutageId(garduId, Math.min(...a.members.map((m) => c.gasps[m]!)), a.members[0]!);
  return {
    outageId,
    scope: a.scope,
    status: 'SUSPECTED',
    reason: null,
    confirmedOutageId: null,
    evidenceLoggedAt: c.crossed[a.scope] ?? c.crossed.GARDU ?? c.crossed.METER ?? 0,
    digest: '',
    pingsSent: 0,
    pingsAnswered: 0,
    pingsSilent: 0,
  };
}

/** Publish the candidate's suspicion at `status` if anything a reader sees changed. `scope`: as shown. */
function show(
  ctx: RulesContext,
  rules: DetectorState | undefined,
  g: ArrivalGardu,
  c: Candidate,
  status: SuspicionStatus,
  reason: string | null,
  out: SuspicionRecord[],
  scope = c.shown!.scope,
): void {
  const shown = c.shown!;
  shown.status = status;
  shown.reason = reason;
  const r = suspicionRecord(ctx, rules, g, c, shown, scope);
  const digest = JSON.stringify(r);
  if (digest === shown.digest) return;
  shown.digest = digest;
  out.push(r);
}

function suspicionRecord(
  ctx: RulesContext,
  rules: DetectorState | undefined,
  g: ArrivalGardu,
  c: Candidate,
  shown: Shown,
  scope: 'GARDU' | 'METER',
): SuspicionRecord {
  const garduMeters = ctx.topo.garduMeters(g.garduId);
  const first = garduMeters.values().next().value;
  const place = first === undefined ? undefined : ctx.topo.meter(first);
  const gasped = Object.keys(c.gasps);
  const members = scope === 'METER' ? gasped.filter((m) => !tusbung(rules, g, m)).sort() : [];
  return {
    outage_id: shown.outageId,
    scope,
    status: shown.status,
    region: place?.region ?? '',
    ulp: place?.ulp ?? '',
    feeder_id: place?.feederId ?? '',
    gardu_id: g.garduId,
    meter_ids: members,
    started_at:
      scope === 'METER' && members.length > 0 ? Math.min(...members.map((m) => c.gasps[m]!)) : c.startedAt,
    last_gasps: scope === 'METER' ? members.length : gasped.length,
    customers_total: scope === 'METER' ? members.length : garduMeters.size,
    evidence_logged_at: shown.evidenceLoggedAt,
    pings_sent: shown.pingsSent,
    pings_answered: shown.pingsAnswered,
    pings_silent: shown.pingsSilent,
    reason: shown.reason,
    confirmed_outage_id: shown.status === 'CONFIRMED' ? shown.confirmedOutageId : null,
  };
}

// ---------------------------------------------------------------- settlement by the event-time rule

/**
 * The event-time rule's records of a step settle the suspicions they cover: an OPEN outage
 * CONFIRMS them (with its id, which arrival order may not have predicted), a momentary record
 * CANCELS them. A suspicion is covered when one of its last gasps lies in the record's span
 * (started_at to confirmed_at) and, for a METER record, is of one of its meters.
 */
export function settleByRecords(
  ctx: RulesContext,
  st: SuspicionState,
  rules: DetectorState | undefined,
  emissions: readonly Emission[],
  out: SuspicionRecord[],
): void {
  const confirmedBy = new Map<Candidate, string>();
  const blinked = new Set<Candidate>();
  const touched = new Map<Candidate, ArrivalGardu>();
  for (const e of emissions) {
    if (e.to === 'status') continue;
    const r = e.record;
    if (r.gardu_id === null || r.scope === 'FEEDER' || (e.to === 'outages' && r.status !== 'OPEN')) continue;
    const g = st.gardus.get(r.gardu_id);
    if (g === undefined) continue;
    for (const c of g.candidates) {
      if (c.final || c.shown === null || !covers(r, c)) continue;
      touched.set(c, g);
      if (e.to === 'momentary') blinked.add(c);
      else if (!confirmedBy.has(c)) confirmedBy.set(c, r.outage_id);
    }
  }
  for (const [c, g] of touched) {
    const id = confirmedBy.get(c);
    if (id !== undefined) finish(ctx, st, rules, g, c, 'CONFIRMED', id, out);
    else if (blinked.has(c)) finish(ctx, st, rules, g, c, 'CANCELLED', momentaryReason(ctx), out);
  }
}

function covers(r: OutageRecord, c: Candidate): boolean {
  for (const m in c.gasps) {
    const t = c.gasps[m]!;
    if (t >= r.started_at && t <= r.confirmed_at && (r.scope === 'GARDU' || r.meter_ids.includes(m)))
      return true;
  }
  return false;
}

/** Settled for good. CONFIRMED: `idOrReason` is the confirmed outage's id; CANCELLED: why. */
function finish(
  ctx: RulesContext,
  st: SuspicionState,
  rules: DetectorState | undefined,
  g: ArrivalGardu,
  c: Candidate,
  status: 'CONFIRMED' | 'CANCELLED',
  idOrReason: string,
  out: SuspicionRecord[],
): void {
  const shown = c.shown!;
  c.final = true;
  st.dirty.add(g.garduId);
  if (status === 'CONFIRMED') {
    shown.confirmedOutageId = idOrReason;
    show(ctx, rules, g, c, 'CONFIRMED', null, out);
  } else if (shown.status !== 'CANCELLED') {
    // Cancelled on arrival already: that record stands (its reason says why).
    show(ctx, rules, g, c, 'CANCELLED', idOrReason, out);
  }
  // Settled: which meters gasped no longer matters (a storm gardu's state shrinks to a few fields).
  c.gasps = {};
  c.back = {};
}

function momentaryReason(ctx: RulesContext): string {
  return `SUPPLY_BACK: supply came back within the confirmation delay of ${ctx.cfg.CONFIRM_DELAY_MS / 1000} s (a momentary interruption)`;
}

/**
 * After the event-time rule had its say (watermark `w`), nothing dangles: a suspicion no record
 * settled (a restart lost the step's records, or arrival order split the evidence otherwise than
 * event time) is settled by the rules' state: CONFIRMED if an outage the rules published holds one of
 * its meters, else CANCELLED. Then candidates with nothing left to do are forgotten.
 */
export function sweep(
  ctx: RulesContext,
  st: SuspicionState,
  rules: DetectorState,
  w: number,
  out: SuspicionRecord[],
): void {
  const notConfirmed = 'NOT_CONFIRMED: the event-time rule opened no outage for these last gasps';
  for (const g of st.gardus.values()) {
    for (const m in g.relays) {
      // The rules' facts have it by now.
      if (g.relays[m]!.at <= w) {
        delete g.relays[m];
        st.dirty.add(g.garduId);
      }
    }
    const kept = g.candidates.filter((c) => {
      if (!decided(ctx, rules, g.garduId, c, w)) return true;
      if (!c.final && c.shown !== null) {
        const holder = publishedHolder(rules, g.garduId, c);
        if (holder !== null) finish(ctx, st, rules, g, c, 'CONFIRMED', holder, out);
        else finish(ctx, st, rules, g, c, 'CANCELLED', notConfirmed, out);
      }
      // A confirmed GARDU suspicion stays until supply is back: later last gasps join its outage.
      return c.shown?.status === 'CONFIRMED' && c.shown.scope === 'GARDU' && c.supplyBackAt === null;
    });
    if (kept.length !== g.candidates.length) {
      g.candidates = kept;
      st.dirty.add(g.garduId);
    }
    if (g.candidates.length === 0 && countKeys(g.relays) === 0) {
      st.gardus.delete(g.garduId);
      st.dirty.add(g.garduId);
    }
  }
}

/** The event-time rule has decided everything this candidate's evidence can bring (as of watermark `w`). */
function decided(ctx: RulesContext, rules: DetectorState, garduId: string, c: Candidate, w: number): boolean {
  if (w < Math.max(c.startedAt + ctx.cfg.CONFIRM_DELAY_MS, c.lastGaspAt)) return false;
  if (c.supplyBackAt !== null && w < c.supplyBackAt) return false;
  // Still a candidate in the rules (waiting for silence to be known): not yet.
  const g = rules.gardus.get(garduId);
  // A nested suspicion: not before the rules settle its parent's restore.
  if (c.nested !== undefined && g?.incidents.some((i) => i.outageId === c.nested)) return false;
  return !(g?.incidents.some((i) => i.phase === 'candidate' && anyGasp(c, i.gasps)) ?? false);
}

/** The outage the rules published (not a momentary) that holds one of the candidate's meters. */
function publishedHolder(rules: DetectorState, garduId: string, c: Candidate): string | null {
  const g = rules.gardus.get(garduId);
  for (const i of g?.incidents ?? []) {
    if (i.shown === null || i.outageId === null) continue;
    if (c.nested !== undefined && i.scope !== 'METER') continue; // not its parent
    if (anyGasp(c, i.gasps) || i.members.some((m) => c.gasps[m] !== undefined)) return i.outageId;
  }
  return null;
}

function anyGasp(c: Candidate, gasps: Record<string, number>): boolean {
  for (const m in c.gasps) if (gasps[m] !== undefined) return true;
  return false;
}

// ---------------------------------------------------------------- ping verification (hook)

/** A ping's outcome: the meter answered powered, or stayed silent past its medium's time-out. */
export interface PingOutcome {
  meterId: string;
  answered: boolean;
}

/**
 * Pings of a suspicion's meters (sent by the edge through the head-end): counts them; every pinged
 * meter silent makes it VERIFIED, every one answering powered CANCELS it (ANSWERED); a mix only
 * counts. A suspicion the event-time rule settled is not changed. Returns false when the outage id
 * is not an open suspicion of the gardu. `verdict`, when given, is the ping verifier's (pings.ts:
 * it weighs gasping meters and neighbours apart) and replaces that rule; null: only count.
 */
export function applyPings(
  ctx: RulesContext,
  st: SuspicionState,
  garduId: string,
  outageId: string,
  sent: number,
  outcomes: readonly PingOutcome[],
  out: SuspicionRecord[],
  verdict?: { status: 'VERIFIED' | 'CANCELLED'; reason: string } | null,
): boolean {
  const g = st.gardus.get(garduId);
  const c = g?.candidates.find((x) => x.shown?.outageId === outageId && !x.final);
  if (g === undefined || c === undefined) return false;
  const shown = c.shown!;
  shown.pingsSent += sent;
  const answered = outcomes.filter((o) => o.answered).length;
  const silent = outcomes.length - answered;
  shown.pingsAnswered += answered;
  shown.pingsSilent += silent;
  st.dirty.add(garduId);
  if (verdict !== undefined) {
    if (verdict !== null && shown.status !== 'CANCELLED')
      show(ctx, undefined, g, c, verdict.status, verdict.reason, out);
    else show(ctx, undefined, g, c, shown.status, shown.reason, out);
    return true;
  }
  const silentAll = `SILENT: ${silent} pinged meters did not answer within their medium's time-out`;
  if (shown.status !== 'CANCELLED' && outcomes.length > 0 && answered === 0)
    show(ctx, undefined, g, c, 'VERIFIED', silentAll, out);
  else if (shown.status !== 'CANCELLED' && outcomes.length > 0 && silent === 0)
    show(ctx, undefined, g, c, 'CANCELLED', `ANSWERED: ${answered} pinged meters answered powered`, out);
  else show(ctx, undefined, g, c, shown.status, shown.reason, out);
  return true;
}

// ---------------------------------------------------------------- restoration pings (hook)

/** Restoration pings (restoration.ts) found these meters still dark after their gardu outage's restore. */
export interface NestedSuspect {
  garduId: string;
  /** The restored GARDU outage. */
  parentId: string;
  /** Its start: the nested outage's start and id. */
  startedAt: number;
  /** The restore (event time). */
  backAt: number;
  /** The meters silent on their restoration pings. */
  meters: readonly string[];
  /** When the last silent result reached the detector (wall clock): the detection latency's start. */
  loggedAt: number;
}

/**
 * Published VERIFIED at once: the nested METER outage the rule will open (its id: the parent's start
 * and the first silent meter), CONFIRMED when it does (settleByRecords), CANCELLED NOT_CONFIRMED if
 * the meters came back before the rule settled the restore. One per restored outage.
 */
export function suspectNested(
  ctx: RulesContext,
  st: SuspicionState,
  n: NestedSuspect,
  out: SuspicionRecord[],
): void {
  const g = gardu(st, n.garduId);
  if (n.meters.length === 0 || g.candidates.some((c) => c.nested === n.parentId)) return;
  const members = [...n.meters].sort();
  const c: Candidate = {
    startedAt: n.startedAt,
    // The members' interruptions count from the gardu's start, as the nested outage's do.
    gasps: Object.fromEntries(members.map((m) => [m, n.startedAt])),
    gasped: members.length,
    lastGaspAt: n.startedAt,
    back: {},
    supplyBackAt: n.backAt,
    crossed: { METER: n.loggedAt },
    shown: null,
    final: false,
    nested: n.parentId,
  };
  c.shown = newShown(n.garduId, c, { scope: 'METER', cancelled: false, members });
  g.candidates.push(c);
  st.dirty.add(n.garduId);
  const reason = `NO_ANSWER: ${members.length} meters silent on restoration pings after ${n.parentId} was restored`;
  show(ctx, undefined, g, c, 'VERIFIED', reason, out);
}

// ---------------------------------------------------------------- state plumbing

/** A gardu's arrival state as saved in the state topic (JSON); null when there is none. */
export function encodeArrival(st: SuspicionState, garduId: string): string | null {
  const g = st.gardus.get(garduId);
  return g === undefined ? null : JSON.stringify(g);
}

export function loadArrival(st: SuspicionState, json: string): void {
  const g = JSON.parse(json) as ArrivalGardu;
  st.gardus.set(g.garduId, g);
}

export function dropArrival(st: SuspicionState, garduId: string): void {
  st.gardus.delete(garduId);
  st.dirty.delete(garduId);
}

/** Open suspicions (neither confirmed nor cancelled for good), for tests and gauges. */
export function openSuspicions(st: SuspicionState): Shown[] {
  const open: Shown[] = [];
  for (const g of st.gardus.values())
    for (const c of g.candidates) if (c.shown !== null && !c.final) open.push(c.shown);
  return open;
}

function gardu(st: SuspicionState, garduId: string): ArrivalGardu {
  let g = st.gardus.get(garduId);
  if (g === undefined) {
    g = { garduId, candidates: [], relays: {} };
    st.gardus.set(garduId, g);
  }
  return g;
}

function countKeys(o: Record<string, unknown>): number {
  let n = 0;
  for (const _ in o) n++;
  return n;
}
