import type { CommandResult, Kdpm, MeterCommand } from '@ami/lib';
import type { DetectorConfig } from './config.js';

/**
 * Ping verification, pure (every clock is an argument): for a suspected outage the evidence does
 * not settle, ask the head-end to read (READ_NOW) the gasping meters and a few AMI neighbours on
 * the same gardu, within a budget; turn the answers into a verdict. A meter that answers powered is
 * alive; one that does not answer within its medium's time-out (`NO_ANSWER`) is silent evidence.
 *
 * Pings only make a decision sooner (a suspicion VERIFIED or CANCELLED). They never decide an
 * outage: the confirmed outage (ami.outages) stays the event-time rule's alone.
 */

export type PingConfig = Pick<
  DetectorConfig,
  | 'GARDU_MIN_GASPS'
  | 'GARDU_GASP_SHARE'
  | 'PING_MAX_PER_INCIDENT'
  | 'PING_NEIGHBOURS'
  | 'PING_MAX_IN_FLIGHT_PER_CONCENTRATOR'
  | 'PING_RATE_PER_S'
  | 'PING_BUSY_RETRY_MS'
  | 'PING_RESULT_TIMEOUT_MS'
  | 'PING_MAX_EVIDENCE_AGE_MS'
>;

/** What the suspicion lifecycle knows of a suspected outage. */
export interface PingSubject {
  outageId: string;
  scope: 'METER' | 'GARDU' | 'FEEDER';
  garduId: string | null;
  /** Meters with a last gasp in the incident (AMI only: an AMR meter sends none). */
  gasping: readonly string[];
  /** Event time of the earliest evidence. */
  startedAt: number;
}

/** The meters table as the pings need it. */
export interface PingDirectory {
  garduAmiMeters(garduId: string): readonly string[];
  kdpm(meterId: string): Kdpm | undefined;
}

/** Below this an answering meter is taken as not powered (the web's ping uses the same bound). */
export const POWERED_MIN_VOLTAGE_V = 100;

export const PING_ISSUER = 'detector';

/** `ping:<outage_id>:<meter_id>`, then `...:retry<n>` for a retry after CONCENTRATOR_BUSY. */
export function pingCommandId(outageId: string, meterId: string, attempt: number): string {
  const base = `ping:${outageId}:${meterId}`;
  return attempt <= 1 ? base : `${base}:retry${attempt}`;
}

export type TargetState = 'QUEUED' | 'IN_FLIGHT' | 'ANSWERED' | 'SILENT' | 'REFUSED' | 'NO_RESULT';

export interface PingTarget {
  meterId: string;
  /** RESTORATION: a meter without a sign of life after its gardu's restore (restoration.ts). */
  role: 'GASPING' | 'NEIGHBOUR' | 'RESTORATION';
  /** The data concentrator the ping goes through (PLC: the gardu's), null for RF/cellular/fibre. */
  concentrator: string | null;
  state: TargetState;
  attempts: number;
  /** Wall clock before which the next attempt may not go (a retry after CONCENTRATOR_BUSY). */
  notBefore: number;
  sentAt: number;
  /** The last result's reason, or the answer (voltage, delay): for the verdict's sentence. */
  detail: string;
}

export interface PingProgress {
  outageId: string;
  garduId: string | null;
  pingsSent: number;
  pingsAnswered: number;
  pingsSilent: number;
  /** Set once, when the answers settle the suspicion. */
  verdict: { status: 'VERIFIED' | 'CANCELLED'; reason: string } | null;
}

/** A READ_NOW to send, for the suspected outage it verifies. */
export interface PingCommand {
  outageId: string;
  command: MeterCommand;
}

interface Verification {
  subject: PingSubject;
  targets: PingTarget[];
  sent: number;
  verdict: PingProgress['verdict'];
  /** The evidence now settles it alone (gasp share crossed): nothing more is sent. */
  settled: boolean;
  openedAt: number;
  /** Restoration pings (restoration.ts): no verdict; each silent meter is evidence for the rules. */
  restoration: boolean;
}

/** Why a suspicion gets no pings, or null when it does. */
export function whyNoPings(
  cfg: PingConfig,
  s: PingSubject,
  amiMeters: number,
  now: number,
): 'FEEDER_SCOPE' | 'GASP_SHARE' | 'STALE_EVIDENCE' | 'NO_METERS' | null {
  if (s.scope === 'FEEDER' || s.garduId === null) return 'FEEDER_SCOPE';
  if (s.gasping.length === 0) return 'NO_METERS';
  if (settledByGasps(cfg, s.gasping.length, amiMeters)) return 'GASP_SHARE';
  // A ping says what a meter is now: it proves nothing about evidence from long ago (a replay).
  if (Math.abs(now - s.startedAt) > cfg.PING_MAX_EVIDENCE_AGE_MS) return 'STALE_EVIDENCE';
  return null;
}

/** The event-time rule's own gardu test on last gasps alone: such a suspicion needs no pings. */
function settledByGasps(cfg: PingConfig, gasps: number, amiMeters: number): boolean {
  return amiMeters > 0 && gasps >= cfg.GARDU_MIN_GASPS && gasps / amiMeters >= cfg.GARDU_GASP_SHARE;
}

/**
 * The meters to ping, in order: the gasping meters (sorted), then up to `PING_NEIGHBOURS` AMI
 * neighbours of the gardu, drawn by a hash of outage and meter id (the same suspicion always
 * pings the same neighbours), all within `PING_MAX_PER_INCIDENT`. Gasping meters come first but
 * leave room for the neighbours when the budget allows both.
 */
export function chooseTargets(
  cfg: PingConfig,
  s: PingSubject,
  amiMeters: readonly string[],
): Array<{ meterId: string; role: PingTarget['role'] }> {
  const budget = cfg.PING_MAX_PER_INCIDENT;
  const gasping = [...new Set(s.gasping)].sort();
  const gaspSet = new Set(gasping);
  const neighbours = amiMeters
    .filter((m) => !gaspSet.has(m))
    .map((m) => ({ m, h: fnv1a(`${s.outageId}|${m}`) }))
    .sort((a, b) => a.h - b.h || (a.m < b.m ? -1 : 1))
    .map((x) => x.m);
  const wantNeighbours = Math.min(cfg.PING_NEIGHBOURS, neighbours.length, Math.floor(budget / 2));
  const gaspTake = Math.min(gasping.length, budget - wantNeighbours);
  const neighTake = Math.min(neighbours.length, cfg.PING_NEIGHBOURS, budget - gaspTake);
  return [
    ...gasping.slice(0, gaspTake).map((meterId) => ({ meterId, role: 'GASPING' as const })),
    ...neighbours.slice(0, neighTake).map((meterId) => ({ meterId, role: 'NEIGHBOUR' as const })),
  ];
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The verdict of the answers so far, or null while they settle nothing:
 * - CANCELLED (`ANSWERED: ...`) when every gasping meter of the suspicion was pinged and answered
 *   powered;
 * - VERIFIED (`NO_ANSWER: ...`) when every pinged gasping meter is silent, or (gardu scope) no
 *   gasping meter answered, one is silent and at least half the pinged neighbours are silent too.
 * A refused ping (unknown meter, AMR) or one the head-end never answered is no evidence either way.
 */
export function judge(s: PingSubject, targets: readonly PingTarget[]): PingProgress['verdict'] {
  const gasp = targets.filter((t) => t.role === 'GASPING');
  const neigh = targets.filter((t) => t.role === 'NEIGHBOUR');
  const count = (ts: PingTarget[], st: TargetState) => ts.filter((t) => t.state === st).length;
  const pending = (ts: PingTarget[]) =>
    ts.filter((t) => t.state === 'QUEUED' || t.state === 'IN_FLIGHT').length;
  const answeredG = count(gasp, 'ANSWERED');
  const silentG = count(gasp, 'SILENT');
  const answeredN = count(neigh, 'ANSWERED');
  const silentN = count(neigh, 'SILENT');
  const neighbours = `neighbours: ${answeredN} answered, ${silentN} silent`;
  if (gasp.length > 0 && answeredG === gasp.length && gasp.length === new Set(s.gasping).size) {
    const only = gasp.length === 1 ? gasp[0]! : undefined;
    return {
      status: 'CANCELLED',
      reason: only
        ? `ANSWERED: meter ${only.meterId} answered powered (${only.detail}); ${neighbours}`
        : `ANSWERED: all ${gasp.length} gasping meters answered powered; ${neighbours}`,
    };
  }
  if (gasp.length > 0 && pending(gasp) === 0 && silentG === gasp.length)
    return {
      status: 'VERIFIED',
      reason: `NO_ANSWER: ${silentG} of ${gasp.length} pinged gasping meters silent (${gasp[0]!.detail}); ${neighbours}`,
    };
  const neighboursDecided = answeredN + silentN;
  if (
    s.scope === 'GARDU' &&
    answeredG === 0 &&
    silentG > 0 &&
    silentN > 0 &&
    pending(neigh) === 0 &&
    silentN * 2 >= neighboursDecided
  )
    return {
      status: 'VERIFIED',
      reason: `NO_ANSWER: ${silentG} pinged gasping meters and ${silentN} of ${neighboursDecided} neighbours silent`,
    };
  return null;
}

/** What a CommandResult of a ping says about the meter. */
export function readResult(r: CommandResult): {
  state: 'ANSWERED' | 'SILENT' | 'BUSY' | 'REFUSED';
  detail: string;
} {
  if (r.status === 'ACCEPTED') {
    const delay = r.answered_in_ms == null ? '' : ` in ${(r.answered_in_ms / 1000).toFixed(1)} s`;
    if (r.voltage_v != null && r.voltage_v < POWERED_MIN_VOLTAGE_V)
      return { state: 'SILENT', detail: `answered at ${r.voltage_v} V: not powered` };
    return { state: 'ANSWERED', detail: `${r.voltage_v ?? '?'} V${delay}` };
  }
  const reason = r.reason ?? 'REFUSED: no reason given';
  const code = reason.split(':', 1)[0]!.trim();
  if (code === 'NO_ANSWER') return { state: 'SILENT', detail: reason };
  if (code === 'CONCENTRATOR_BUSY') return { state: 'BUSY', detail: reason };
  return { state: 'REFUSED', detail: reason };
}

/** Forgotten this long after opening, if the suspicion lifecycle never closed it (a bound, not a rule). */
const FORGET_AFTER_MS = 3_600_000;

/**
 * The pings of every open suspicion of this detector instance, and the budget they share:
 * `PING_MAX_PER_INCIDENT` commands per suspicion (retries included),
 * `PING_MAX_IN_FLIGHT_PER_CONCENTRATOR` unanswered pings per PLC concentrator, and
 * `PING_RATE_PER_S` commands per second in all (a token bucket, burst = one second's worth).
 * Suspicions take turns, one ping each per round, so a storm's first gardu do not starve the rest.
 */
export class PingVerifier {
  private readonly open = new Map<string, Verification>();
  /** command_id -> the target it pinged. */
  private readonly inFlight = new Map<string, { outageId: string; target: PingTarget }>();
  private readonly concentratorLoad = new Map<string, number>();
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly cfg: PingConfig,
    private readonly dir: PingDirectory,
    now: number,
  ) {
    this.tokens = cfg.PING_RATE_PER_S;
    this.refilledAt = now;
  }

  /** Suspicions being pinged (their pings queued or in flight, or awaiting a verdict). */
  get size(): number {
    return this.open.size;
  }

  /** Whether any suspicion still has pings queued or in flight (a step has ping work to do). */
  get busy(): boolean {
    if (this.inFlight.size > 0) return true;
    for (const v of this.open.values())
      if (v.verdict === null && !v.settled && v.sent < this.cfg.PING_MAX_PER_INCIDENT)
        if (v.targets.some((t) => t.state === 'QUEUED')) return true;
    return false;
  }

  get pingsInFlight(): number {
    return this.inFlight.size;
  }

  /**
   * A suspicion was published or changed. Plans its pings when the evidence does not settle it;
   * newly gasping meters join the plan while the budget allows; once the gasps alone settle it,
   * nothing more is sent. Returns the progress when this call changed it.
   */
  suspect(s: PingSubject, now: number): PingProgress | undefined {
    const known = this.open.get(s.outageId);
    const amiMeters = s.garduId === null ? [] : this.dir.garduAmiMeters(s.garduId);
    const why = whyNoPings(this.cfg, s, amiMeters.length, now);
    if (!known) {
      if (why !== null) return undefined;
      const v: Verification = {
        subject: s,
        targets: [],
        sent: 0,
        verdict: null,
        settled: false,
        openedAt: now,
        restoration: false,
      };
      this.open.set(s.outageId, v);
      this.plan(v, amiMeters);
      return undefined;
    }
    known.subject = s;
    if (known.verdict !== null || known.settled) return undefined;
    if (why === 'GASP_SHARE') {
      known.settled = true;
      for (const t of known.targets) if (t.state === 'QUEUED') t.state = 'NO_RESULT';
      return undefined;
    }
    this.plan(known, amiMeters);
    return this.decide(known);
  }

  /**
   * Restoration pings of a restored gardu outage (`key` = `restore:<outage_id>`): the meters, within
   * the same budget (per incident, per concentrator, the rate) as the suspicions' pings. Their
   * results decide nothing here: `lookup` tells the edge which are restoration pings.
   */
  restore(key: string, garduId: string, meters: readonly string[], now: number): void {
    if (this.open.has(key)) return;
    const v: Verification = {
      subject: { outageId: key, scope: 'GARDU', garduId, gasping: meters, startedAt: now },
      targets: [],
      sent: 0,
      verdict: null,
      settled: false,
      openedAt: now,
      restoration: true,
    };
    for (const meterId of meters.slice(0, this.cfg.PING_MAX_PER_INCIDENT))
      v.targets.push(this.target(garduId, meterId, 'RESTORATION'));
    this.open.set(key, v);
  }

  /** Restoration pings of `key`: the meters found silent and whether any is still queued or in flight. */
  restorationOutcome(key: string): { silent: string[]; pending: boolean } | undefined {
    const v = this.open.get(key);
    if (!v?.restoration) return undefined;
    return {
      silent: v.targets.filter((t) => t.state === 'SILENT').map((t) => t.meterId),
      pending: v.targets.some((t) => t.state === 'QUEUED' || t.state === 'IN_FLIGHT'),
    };
  }

  /** The ping a command id belongs to, while it is in flight: when it went, and whether it is a restoration ping. */
  lookup(commandId: string): { key: string; sentAt: number; restoration: boolean } | undefined {
    const f = this.inFlight.get(commandId);
    const v = f && this.open.get(f.outageId);
    return f && { key: f.outageId, sentAt: f.target.sentAt, restoration: v?.restoration ?? false };
  }

  /**
   * The suspicion was cancelled (supply back on arrival, escalated to its gardu's): nothing more is
   * sent, but the results of pings in flight still count (they go into its record); forgotten once
   * none is in flight.
   */
  stop(outageId: string): void {
    const v = this.open.get(outageId);
    if (!v || v.verdict !== null) return;
    v.settled = true;
    for (const t of v.targets) if (t.state === 'QUEUED') t.state = 'NO_RESULT';
  }

  /** The suspicion ended for good (confirmed by the event-time rule): its pings are forgotten. */
  close(outageId: string): void {
    const v = this.open.get(outageId);
    if (!v) return;
    for (const t of v.targets) if (t.state === 'IN_FLIGHT') this.release(t);
    for (const [id, f] of this.inFlight) if (f.outageId === outageId) this.inFlight.delete(id);
    this.open.delete(outageId);
  }

  /** The pings that may go now, within every budget; they are in flight from `now`. */
  due(now: number): PingCommand[] {
    this.refill(now);
    const out: PingCommand[] = [];
    let progressed = true;
    while (progressed && this.tokens >= 1) {
      progressed = false;
      for (const v of [...this.open.values()]) {
        if (this.tokens < 1) break;
        const t = this.nextTarget(v, now);
        if (!t) continue;
        out.push(this.send(v, t, now));
        // Served: to the back of the turn order (across calls too).
        this.open.delete(v.subject.outageId);
        this.open.set(v.subject.outageId, v);
        progressed = true;
      }
    }
    return out;
  }

  /**
   * A CommandResult from the head-end. Results of commands this instance did not send (operators',
   * agents', another instance's, or from before a restart) return undefined.
   */
  onResult(r: CommandResult, now: number): PingProgress | undefined {
    const f = this.inFlight.get(r.command_id);
    if (!f) return undefined;
    this.inFlight.delete(r.command_id);
    const v = this.open.get(f.outageId);
    const t = f.target;
    this.release(t);
    if (!v) return undefined;
    const read = readResult(r);
    t.detail = read.detail;
    if (read.state === 'BUSY') {
      // Never silent: the concentrator had no room. Again later, while the budget lasts.
      t.state = 'QUEUED';
      t.notBefore = now + this.cfg.PING_BUSY_RETRY_MS * t.attempts;
      return undefined;
    }
    t.state = read.state;
    return this.decide(v) ?? this.progress(v);
  }

  /**
   * Pings with no result within `PING_RESULT_TIMEOUT_MS` (no head-end, or a lost result) are given
   * up: no evidence either way, the event-time rule decides. Frees their concentrator's room.
   */
  expire(now: number): void {
    for (const [id, f] of this.inFlight) {
      if (now - f.target.sentAt < this.cfg.PING_RESULT_TIMEOUT_MS) continue;
      this.inFlight.delete(id);
      this.release(f.target);
      f.target.state = 'NO_RESULT';
      f.target.detail = `no result from the head-end within ${this.cfg.PING_RESULT_TIMEOUT_MS / 1000} s`;
    }
    for (const [id, v] of this.open) {
      const drained =
        (v.settled && !v.targets.some((t) => t.state === 'IN_FLIGHT')) ||
        (v.restoration && !v.targets.some((t) => t.state === 'IN_FLIGHT' || t.state === 'QUEUED'));
      if (drained || now - v.openedAt > FORGET_AFTER_MS) this.close(id);
    }
  }

  /** The counts of a suspicion's pings so far. */
  progressOf(outageId: string): PingProgress | undefined {
    const v = this.open.get(outageId);
    return v && this.progress(v);
  }

  private plan(v: Verification, amiMeters: readonly string[]): void {
    const known = new Map(v.targets.map((t) => [t.meterId, t]));
    for (const { meterId, role } of chooseTargets(this.cfg, v.subject, amiMeters)) {
      const t = known.get(meterId);
      if (t) {
        // A neighbour that gasped since: it answered before its gasp, so ping it again.
        if (t.role !== role && role === 'GASPING') {
          t.role = role;
          if (t.state === 'ANSWERED') t.state = 'QUEUED';
        }
        continue;
      }
      v.targets.push(this.target(v.subject.garduId, meterId, role));
    }
  }

  private target(garduId: string | null, meterId: string, role: PingTarget['role']): PingTarget {
    const kdpm = this.dir.kdpm(meterId);
    return {
      meterId,
      role,
      // PLC meters of one gardu share its data concentrator; other media have none.
      concentrator: kdpm === 'L' ? garduId : null,
      state: 'QUEUED',
      attempts: 0,
      notBefore: 0,
      sentAt: 0,
      detail: '',
    };
  }

  private nextTarget(v: Verification, now: number): PingTarget | undefined {
    if (v.verdict !== null || v.settled || v.sent >= this.cfg.PING_MAX_PER_INCIDENT) return undefined;
    return v.targets.find(
      (t) =>
        t.state === 'QUEUED' &&
        t.notBefore <= now &&
        (t.concentrator === null ||
          (this.concentratorLoad.get(t.concentrator) ?? 0) < this.cfg.PING_MAX_IN_FLIGHT_PER_CONCENTRATOR),
    );
  }

  private send(v: Verification, t: PingTarget, now: number): PingCommand {
    this.tokens -= 1;
    v.sent++;
    t.attempts++;
    t.state = 'IN_FLIGHT';
    t.sentAt = now;
    if (t.concentrator !== null)
      this.concentratorLoad.set(t.concentrator, (this.concentratorLoad.get(t.concentrator) ?? 0) + 1);
    const command: MeterCommand = {
      command_id: pingCommandId(v.subject.outageId, t.meterId, t.attempts),
      meter_id: t.meterId,
      issued_at: now,
      type: 'READ_NOW',
      power_limit_va: null,
      issued_by: PING_ISSUER,
      reason: v.restoration
        ? `verifies restoration of ${v.subject.outageId.replace(/^restore:/, '')} (no sign of life since)`
        : `verifies suspected outage ${v.subject.outageId} (${t.role === 'GASPING' ? 'gasping meter' : 'neighbour'})`,
    };
    this.inFlight.set(command.command_id, { outageId: v.subject.outageId, target: t });
    return { outageId: v.subject.outageId, command };
  }

  private release(t: PingTarget): void {
    if (t.concentrator === null) return;
    const n = (this.concentratorLoad.get(t.concentrator) ?? 1) - 1;
    if (n <= 0) this.concentratorLoad.delete(t.concentrator);
    else this.concentratorLoad.set(t.concentrator, n);
  }

  private refill(now: number): void {
    const rate = this.cfg.PING_RATE_PER_S;
    if (now <= this.refilledAt) return; // a wall clock stepped back refills nothing
    this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) / 1000) * rate);
    this.refilledAt = now;
  }

  /** Sets the verdict the first time the answers settle the suspicion; returns the progress then. */
  private decide(v: Verification): PingProgress | undefined {
    if (v.verdict !== null || v.settled || v.restoration) return undefined;
    const verdict = judge(v.subject, v.targets);
    if (verdict === null) return undefined;
    v.verdict = verdict;
    // Settled: what is still queued is not needed.
    for (const t of v.targets) if (t.state === 'QUEUED') t.state = 'NO_RESULT';
    return this.progress(v);
  }

  private progress(v: Verification): PingProgress {
    return {
      outageId: v.subject.outageId,
      garduId: v.subject.garduId,
      pingsSent: v.sent,
      pingsAnswered: v.targets.filter((t) => t.state === 'ANSWERED').length,
      pingsSilent: v.targets.filter((t) => t.state === 'SILENT').length,
      verdict: v.verdict,
    };
  }
}
