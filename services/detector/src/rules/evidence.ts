import type { RulesConfig } from '../config.js';
import { type GarduState, type Incident, type RulesContext } from './state.js';

/**
 * What an incident's evidence shows, read without changing anything: which meters another record counts,
 * which scope the last gasps and the silence prove, when the gardu went dark as a whole.
 */

/** Meters dark in an open METER outage of the gardu (root or nested, started before `since`): that record counts them. */
export function inMeterOutage(g: GarduState, m: string, since = Infinity): boolean {
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

export function darkInMeterOutages(g: GarduState, except: Incident): string[] {
  return g.incidents.flatMap((i) =>
    i !== except && i.scope === 'METER' && i.phase === 'open' ? i.dark : [],
  );
}

export interface Evidence {
  population: number;
  gasps: number;
  silent: number;
  silenceKnown: boolean;
  /**
   * Fewer last gasps than GARDU_MIN_GASPS, but a gasp share that would prove the gardu dark among the
   * meters able to send one with it dark (ableGaspShare), and others (PLC) that can still show it by
   * falling silent. Only computed when the gasps are few.
   */
  silenceDecides?: boolean;
}

/** A PLC meter talks through its gardu's data concentrator, which dies with the gardu: no last gasp then. */
function gaspsWithGarduDark(ctx: RulesContext, m: string): boolean {
  return ctx.topo.meter(m)?.kdpm !== 'L';
}

/**
 * The gardu's AMI meters able to send a last gasp with it dark (not PLC): whether the share of them that
 * did reaches GARDU_GASP_SHARE, and how many meters cannot gasp then. A gardu of 3 meters, 2 of them PLC,
 * gives 1 last gasp when it goes dark: all it can give.
 */
export function ableGaspShare(
  ctx: RulesContext,
  g: GarduState,
  inc: Incident,
): { proves: boolean; unable: number } {
  let able = 0;
  let gasped = 0;
  let unable = 0;
  for (const m of ctx.topo.garduAmiMeters(g.garduId)) {
    if (!gaspsWithGarduDark(ctx, m)) unable++;
    else {
      able++;
      if (inc.gasps[m] !== undefined) gasped++;
    }
  }
  return { proves: gasped > 0 && gasped / able >= ctx.cfg.GARDU_GASP_SHARE, unable };
}

/** Counts over the gardu's AMI meters (AMR excluded from every share). */
export function evidence(ctx: RulesContext, g: GarduState, inc: Incident, now: number): Evidence {
  let silent = 0;
  let darkElsewhere = 0;
  const ami = ctx.topo.garduAmiMeters(g.garduId);
  let returned = 0;
  for (const m of ami) {
    if (inc.gasps[m] !== undefined) continue;
    if (inc.alive[m] !== undefined) {
      // Its first sign of life since the start was its own power restore: it was dark, without a last
      // gasp (lost, or PLC: the gardu's data concentrator dies with it).
      if (returnedWith(g, inc, m)) returned++;
      continue;
    }
    if (inMeterOutage(g, m) || stillDarkFromEarlier(ctx, g, inc, m)) darkElsewhere++;
    else silent++;
  }
  const population = ami.length;
  // Meters of an open METER outage, or not back since an earlier outage's restore, gasped already: they
  // are dark evidence of this incident too, as are meters whose power restore came back first.
  const gasps = Object.keys(inc.gasps).length + darkElsewhere + returned;
  const silenceKnown = now >= silenceKnownAt(ctx, inc.startedAt);
  if (gasps >= ctx.cfg.GARDU_MIN_GASPS) return { population, gasps, silent, silenceKnown };
  const able = ableGaspShare(ctx, g, inc);
  return { population, gasps, silent, silenceKnown, silenceDecides: able.proves && able.unable > 0 };
}

/** A read falls due at the first interval boundary after the start; it is missing after the grace. */
export function silenceKnownAt(ctx: RulesContext, startedAt: number): number {
  const every = ctx.cfg.READ_INTERVAL_MS;
  return (Math.floor(startedAt / every) + 1) * every + ctx.cfg.READ_GRACE_MS;
}

/** A restoration ping sent at or after `back` (the gardu's restore) found the meter silent by `now`. */
export function silentOnPing(g: GarduState, m: string, back: number, now: number): boolean {
  const s = g.pingSilence?.[m];
  return s !== undefined && s.sentAt >= back && s.at <= now;
}

/**
 * When a gardu incident restored at `back` is next judged, after `after`: at the next silent
 * restoration ping (it may complete the proof), else when a read is missing.
 */
export function nextSettleCheck(ctx: RulesContext, g: GarduState, back: number, after: number): number {
  let at = silenceKnownAt(ctx, back);
  for (const m in g.pingSilence) {
    const s = g.pingSilence[m]!;
    if (s.sentAt >= back && s.at > after && s.at < at) at = s.at;
  }
  return at;
}

type Verdict = 'GARDU' | 'METER' | 'WAIT';

/** Which scope the evidence proves at `now`; WAIT while silence could still tip it. */
export function verdict(cfg: RulesConfig, e: Evidence): Verdict {
  if (e.population === 0) return 'METER';
  if (e.gasps < cfg.GARDU_MIN_GASPS) {
    // 1-2 meters, unless GARDU_GASP_SHARE of those able to gasp (not PLC): then the others' silence decides.
    if (e.silenceDecides !== true) return 'METER';
  } else if (e.gasps / e.population >= cfg.GARDU_GASP_SHARE) return 'GARDU';
  if (!e.silenceKnown) return 'WAIT';
  return (e.gasps + e.silent) / e.population >= cfg.GARDU_EVIDENCE_SHARE ? 'GARDU' : 'METER';
}

export function isMomentary(ctx: RulesContext, inc: Incident, backAt: number): boolean {
  return backAt - inc.startedAt <= ctx.cfg.CONFIRM_DELAY_MS;
}

/** A settling gardu incident that was a momentary (never published on the outages topic). */
export function wasMomentary(inc: Incident): boolean {
  return inc.shown === null;
}

/**
 * A power restore more than this after its gardu's is the meter's own (a fuse that outlasted the
 * transformer): it was dark in between. Closer, it is the same restore arriving a moment later.
 */
export const LATE_RETURN_MS = 10_000;

/**
 * How far a meter's clock may be off (its events and reads carry its own time): a meter's last gasp
 * this close to an interruption of its whole gardu is that interruption, seen on a clock that is off.
 */
export const METER_CLOCK_SKEW_MS = 60_000;

/**
 * The gardu-wide incident (other than `inc`) that a meter's darkness from `from` to `to` belongs to, within
 * the clock skew: a GARDU outage or momentary restored or open, or a candidate its last gasps already
 * prove gardu-wide. Its record counts the meter (no last gasp of the meter in it: it went dark with the
 * gardu). Undefined when the interruption is the meter's own.
 */
export function widerBlink(
  ctx: RulesContext,
  g: GarduState,
  inc: Incident | undefined,
  m: string,
  from: number,
  to: number,
  now: number,
  /** Only an interruption whose supply is back already. */
  ended = false,
): Incident | undefined {
  return g.incidents.find((o) => {
    // A meter that gasped in it, or was dark already in an outage of its own then, had no gasp to lose.
    if (o === inc || o.gasps[m] !== undefined || o.countedElsewhere.includes(m)) return false;
    if (ended && o.restoredAt === null && o.supplyBackAt === null) return false;
    const end = o.restoredAt ?? o.supplyBackAt ?? now;
    if (o.startedAt > to + METER_CLOCK_SKEW_MS || end < from - METER_CLOCK_SKEW_MS) return false;
    return isGarduWide(ctx, g, o, now);
  });
}

/** A GARDU outage or momentary, or a candidate its evidence already proves gardu-wide at `now`. */
export function isGarduWide(ctx: RulesContext, g: GarduState, o: Incident, now: number): boolean {
  if (o.phase !== 'candidate') return o.scope === 'GARDU';
  return verdict(ctx.cfg, evidence(ctx, g, o, now)) === 'GARDU';
}

/**
 * The meter's first sign of life since the incident's start was its own power restore, with the
 * incident's supply (within LATE_RETURN_MS), and no last gasp of it in another interruption since
 * explains that restore instead.
 */
function returnedWith(g: GarduState, inc: Incident, m: string): boolean {
  const at = inc.returns[m];
  if (at === undefined || inc.back[m] !== at || inc.supplyBackAt === null) return false;
  if (Math.abs(at - inc.supplyBackAt) > LATE_RETURN_MS) return false;
  return !g.incidents.some((o) => o !== inc && (o.gasps[m] ?? -Infinity) >= inc.startedAt);
}

/** The meter's supply came back by its own power restore, well after its gardu's, with no sign of life before. */
export function returnedLate(inc: Incident, m: string, back: number): boolean {
  const at = inc.returns[m];
  return at !== undefined && at > back + LATE_RETURN_MS && inc.back[m] === at;
}

/**
 * When the gardu as a whole went dark: the last gasp that made the gasps alone prove it (a partial
 * failure before it, as in an escalation, is earlier), else the last one. Customers without a last gasp
 * of their own (AMR, lost) are dark from then.
 */
export function bulkStart(ctx: RulesContext, g: GarduState, inc: Incident): number {
  const times = Object.values(inc.gasps).sort((a, b) => a - b);
  if (times.length === 0) return inc.startedAt;
  const population = ctx.topo.garduAmiMeters(g.garduId).length;
  const need = Math.max(ctx.cfg.GARDU_MIN_GASPS, Math.ceil(ctx.cfg.GARDU_GASP_SHARE * population));
  return times[Math.min(times.length, need) - 1]!;
}
