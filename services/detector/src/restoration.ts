import type { DetectorConfig } from './config.js';
import { isTusbung } from './meterStatus.js';
import type { DetectorState, GarduState, Incident, Input, RulesContext } from './rules.js';
import { inMeterOutage } from './rules/evidence.js';
import { schedule } from './rules/state.js';

/**
 * Restoration verification, pure (every clock is an argument). When supply comes back at a gardu
 * under an open GARDU outage, the meters that show no sign of life on arrival are pinged through
 * the head-end; a ping it gives up on (`NO_ANSWER` after the medium's time-out) is recorded in the
 * gardu's rule state as event-time evidence: the time-out's end (`decided_at`) is its event time.
 * The rules (`settleWhenKnown` in rules/incident.ts) then settle the restored outage as soon as every
 * meter still without a sign of life since the restore is proven silent, instead of at the next read:
 * the same nested METER outage (same id, members and counts), confirmed a minute after the restore.
 *
 * Determinism: the evidence enters the state only while its event time is ahead of the watermark,
 * goes into the gardu's snapshot in the step's transaction, and acts through a rule timer at its own
 * event time. So the rules' records are a function of the inputs and the recorded evidence, and a
 * restart (state reloaded from the state topic) gives the same records. Evidence that arrives after
 * the watermark passed its time is ignored (late): the next read decides, as without pings.
 */

export type RestorationConfig = Pick<
  DetectorConfig,
  'RESTORE_PING_DELAY_MS' | 'PING_MAX_PER_INCIDENT' | 'PING_MAX_EVIDENCE_AGE_MS'
>;

/** A restoration ping the head-end gave up on: the meter was silent after the restore. */
export interface SilentPing {
  garduId: string;
  meterId: string;
  /** When the detector sent the ping (its wall clock). */
  sentAt: number;
  /** When the head-end gave up (`decided_at`): the evidence's event time. */
  at: number;
}

/** The restoration pings of one gardu outage. */
export interface RestorationPlan {
  /** The ping verifier's key (`restore:<outage_id>`): command ids `ping:restore:<outage_id>:<meter>`. */
  key: string;
  outageId: string;
  garduId: string;
  /** The outage's start (event time): the nested outage's start and id. */
  startedAt: number;
  /** The first sign of supply seen on arrival (event time). */
  backAt: number;
  meters: string[];
  /** Meters without a sign of life that the budget left out: the next read decides for them. */
  unpinged: number;
}

export const restorationKey = (outageId: string): string => `restore:${outageId}`;

/** The gardu's published GARDU outage, open or restored but not settled, that began before `t`. */
function restoringIncident(g: GarduState, t: number): Incident | undefined {
  return g.incidents.find(
    (i) =>
      i.scope === 'GARDU' &&
      i.outageId !== null &&
      i.shown !== null &&
      i.startedAt < t &&
      (i.phase === 'open' || i.phase === 'settling'),
  );
}

/**
 * Which meters to ping after the restore at `backAt`: the gardu's AMI meters the rules would hold
 * dark (not tusbung, not counted by a METER outage) with no sign of life since, neither in the rules
 * nor on arrival; those that gasped first, then the others (a lost last gasp), each sorted; at most
 * `budget` (`PING_MAX_PER_INCIDENT`).
 */
export function restorationTargets(
  ctx: RulesContext,
  g: GarduState,
  inc: Incident,
  backAt: number,
  aliveOnArrival: ReadonlySet<string>,
  budget: number,
): { meters: string[]; unpinged: number } {
  const dark = ctx.topo
    .garduAmiMeters(g.garduId)
    .filter(
      (m) =>
        !isTusbung(g.facts[m]) &&
        !inMeterOutage(g, m, backAt) &&
        !inc.countedElsewhere.includes(m) &&
        !aliveOnArrival.has(m) &&
        !((inc.alive[m] ?? -1) >= backAt),
    );
  const gasped = dark.filter((m) => inc.gasps[m] !== undefined).sort();
  const others = dark.filter((m) => inc.gasps[m] === undefined).sort();
  const ordered = [...gasped, ...others];
  return { meters: ordered.slice(0, budget), unpinged: Math.max(0, ordered.length - budget) };
}

/**
 * Records a silent restoration ping in the gardu's rule state, and brings the settling timer of a
 * restored outage forward to the evidence's time. `watermark`: the rules' event time now. `LATE`:
 * recorded, but its time-out was behind the watermark, so it counts from just after it.
 */
export function recordPingSilence(
  st: DetectorState,
  e: SilentPing,
  watermark: number,
): 'RECORDED' | 'LATE' | 'NO_OUTAGE' {
  const g = st.gardus.get(e.garduId);
  const restoring = g?.incidents.some(
    (i) => i.scope === 'GARDU' && (i.phase === 'open' || i.phase === 'settling'),
  );
  if (g === undefined || !restoring) return 'NO_OUTAGE';
  // Its time-out is behind the watermark (the result came late: a loaded head-end or detector). It
  // still proves the meter silent, from just after the watermark: after every input the rules have
  // seen, never in their past. Dropped, the next read would decide, up to 17 minutes later.
  const at = Math.max(e.at, watermark + 1);
  (g.pingSilence ??= {})[e.meterId] = { sentAt: e.sentAt, at };
  st.dirty.add(g.garduId);
  for (const inc of g.incidents)
    if (inc.phase === 'settling' && e.sentAt >= inc.restoredAt! && (inc.dueAt === null || at < inc.dueAt))
      schedule(st, g.garduId, inc, at);
  return at === e.at ? 'RECORDED' : 'LATE';
}

interface Watch {
  garduId: string;
  outageId: string;
  /** Earliest sign of supply seen on arrival (event time). */
  backAt: number;
  /** Wall clock of the first one. */
  arrivedAt: number;
  /** Meters seen with supply on arrival since `backAt`. */
  alive: Set<string>;
  planned: boolean;
}

/** Forgotten this long (wall clock) after its pings were planned, if the rules still hold the outage. */
const FORGET_AFTER_MS = 3_600_000;

/**
 * The gardu outages whose supply came back on arrival, and the meters seen alive since: after
 * `RESTORE_PING_DELAY_MS` the rest are pinged (`due`). In memory: a restart forgets them (the next
 * read then decides, as without pings).
 */
export class RestorationWatch {
  private readonly watches = new Map<string, Watch>();

  constructor(
    private readonly ctx: RulesContext,
    private readonly cfg: RestorationConfig,
  ) {}

  get size(): number {
    return this.watches.size;
  }

  /**
   * An input as it arrives: a power restore, or a read of a meter that gasped (as in the rules, a
   * read of another meter does not prove supply is back), under a published GARDU outage.
   */
  onArrival(rules: DetectorState, input: Input, garduId: string, meterId: string, now: number): void {
    const ev = input.kind === 'event' ? input.value : undefined;
    if (ev !== undefined && ev.type !== 'POWER_RESTORE') return;
    const t = input.kind === 'event' ? input.value.occurred_at : input.value.read_at;
    const g = rules.gardus.get(garduId);
    const inc = g && restoringIncident(g, t);
    if (inc === undefined) return;
    let w = this.watches.get(inc.outageId!);
    if (w === undefined) {
      if (ev === undefined && inc.gasps[meterId] === undefined) return;
      // A ping says what a meter is now: a replay of the past is not pinged.
      if (Math.abs(now - t) > this.cfg.PING_MAX_EVIDENCE_AGE_MS) return;
      w = { garduId, outageId: inc.outageId!, backAt: t, arrivedAt: now, alive: new Set(), planned: false };
      this.watches.set(inc.outageId!, w);
    }
    if (t < w.backAt) w.backAt = t;
    w.alive.add(meterId);
  }

  /** The restoration pings due now (each outage's once); forgets outages the rules have settled. */
  due(rules: DetectorState, now: number): RestorationPlan[] {
    const plans: RestorationPlan[] = [];
    for (const [id, w] of this.watches) {
      const inc = rules.gardus.get(w.garduId)?.incidents.find((i) => i.outageId === id);
      if (inc === undefined || (w.planned && now - w.arrivedAt > FORGET_AFTER_MS)) {
        this.watches.delete(id);
        continue;
      }
      if (w.planned || now - w.arrivedAt < this.cfg.RESTORE_PING_DELAY_MS) continue;
      w.planned = true;
      const g = rules.gardus.get(w.garduId)!;
      const t = restorationTargets(this.ctx, g, inc, w.backAt, w.alive, this.cfg.PING_MAX_PER_INCIDENT);
      if (t.meters.length > 0)
        plans.push({
          key: restorationKey(id),
          outageId: id,
          garduId: w.garduId,
          startedAt: inc.startedAt,
          backAt: w.backAt,
          ...t,
        });
    }
    return plans;
  }
}
