import { isTusbung } from '../meterStatus.js';
import type { MeterInfo } from '../topology.js';
import {
  bulkStart,
  darkInMeterOutages,
  evidence,
  inMeterOutage,
  isGarduWide,
  isMomentary,
  METER_CLOCK_SKEW_MS,
  nextSettleCheck,
  returnedLate,
  silenceKnownAt,
  silentOnPing,
  verdict,
  wasMomentary,
  widerBlink,
} from './evidence.js';
import { darkWithFeeder, feederMomentary, rollUpToFeeder } from './feeder.js';
import { publish } from './publish.js';
import { garduOutageId, meterOutageId, outageRecord } from './records.js';
import { newIncident, schedule, type GarduState, type Incident, type Step } from './state.js';
import { oweStatuses, refreshGardu } from './status.js';

/**
 * The lifecycle of an incident at one gardu: evidence arriving, the decision at the confirm delay,
 * restoration and settling (see index.ts for the whole picture).
 */

// ---------------------------------------------------------------- evidence arriving

export function onLastGasp(step: Step, g: GarduState, info: MeterInfo, t: number): void {
  const m = info.meterId;
  const covering = g.incidents.find((i) => i.scope === 'GARDU' && i.phase === 'open' && i.startedAt <= t);
  if (covering) {
    // Already out with the whole gardu: every last gasp is still accounted.
    covering.gasps[m] = t;
    publish(step, g, covering, 'UPDATED');
    return;
  }
  if (inMeterOutage(g, m)) return;
  // Within the meter's clock skew of a gardu-wide interruption that is over, in which it sent none:
  // that interruption, seen on a clock that is off. Its record counts the meter, and its settling
  // finds the meter if it stays dark. As a candidate of its own, with its power restore lost, it
  // drew the gardu's next blink into itself (a momentary storm: a blink started at the skewed gasp,
  // or a sustained METER outage until the meter's next read).
  if (widerBlink(step, g, undefined, m, t, t, t, true)) return;
  // One physical outage, one incident: evidence joins the gardu's candidate until it is decided, however
  // long after its first last gasp (a fuse, then the transformer), so it escalates instead of doubling;
  // unless supply came back since: then that interruption is over and this is another.
  let inc = g.incidents.find((i) => i.phase === 'candidate' && i.supplyBackAt === null);
  if (!inc) {
    inc = newIncident(`${t}:${m}`, t);
    g.incidents.push(inc);
    schedule(step.state, g.garduId, inc, t + step.cfg.CONFIRM_DELAY_MS);
  }
  inc.gasps[m] = t;
  delete inc.alive[m];
  delete inc.back[m];
  delete inc.returns[m];
}

/** The meter had supply at `t`: a power restore (`restore`) or a read. */
export function onAlive(step: Step, g: GarduState, m: string, t: number, restore: boolean): boolean {
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
    if (inc.phase === 'open' && inc.scope === 'GARDU' && supplyBack) restoreGardu(step, g, inc, t);
    else if (inc.phase === 'open' && inc.scope === 'METER' && inc.dark.includes(m))
      restoreMeter(step, g, inc, m, t);
    // Restoration pings: this sign of life may leave only meters proven silent (judged at `t`).
    else if (inc.phase === 'settling' && g.pingSilence !== undefined && inc.dueAt !== null && t < inc.dueAt)
      schedule(step.state, g.garduId, inc, t);
  }
  return touched;
}

// ---------------------------------------------------------------- decisions

export function decide(step: Step, g: GarduState, inc: Incident, now: number): void {
  const evident = verdict(step.cfg, evidence(step, g, inc, now));
  // Too few of its meters could gasp for the gardu rule, but enough of those that could did, its feeder dark around it.
  const v = evident !== 'GARDU' && darkWithFeeder(step, g, inc, now) ? 'GARDU' : evident;
  if (v === 'WAIT') return schedule(step.state, g.garduId, inc, silenceKnownAt(step, inc.startedAt));
  if (v === 'GARDU') return finishGardu(step, g, inc, now);
  // Meters, not the gardu, were out: each meter's own interruption decides. Back within the delay of
  // its own last gasp is a blink (momentary record), the others are the METER outage.
  inc.scope = 'METER';
  // A tusbung last gasp is no outage; one within the meter's clock skew of its gardu's interruption (in
  // which it sent none) is that interruption, whose record counts the meter.
  const gasped = Object.keys(inc.gasps).filter(
    (m) => !isTusbung(g.facts[m]) && !handedToWiderBlink(step, g, inc, m, now),
  );
  const blinked = gasped.filter(
    (m) => (inc.back[m] ?? Infinity) - inc.gasps[m]! <= step.cfg.CONFIRM_DELAY_MS,
  );
  if (blinked.length > 0) recordBlinks(step, g, inc, blinked.sort());
  const members = gasped.filter((m) => !blinked.includes(m)).sort();
  if (members.length === 0) return dissolve(step, g, inc, now);
  inc.members = members;
  inc.dark = members.filter((m) => inc.back[m] === undefined);
  inc.startedAt = Math.min(...members.map((m) => inc.gasps[m]!));
  inc.outageId = meterOutageId(g.garduId, inc.startedAt, members[0]!);
  confirm(step, g, inc, now);
  if (inc.dark.length === 0) restoreMeterOutage(step, g, inc, Math.max(...members.map((m) => inc.back[m]!)));
}

/**
 * Whether the meter's last gasp in `inc` is a gardu-wide interruption's (`widerBlink`), which then counts
 * it. Still dark when that one began later, it takes the last gasp along, as an escalation does: the
 * meter is counted from it. (It stayed apart only because another meter's blink in `inc` brought supply
 * back before its gardu went dark; counted from the gardu's start, a fuse 12 s before lost those 12 s.)
 */
function handedToWiderBlink(step: Step, g: GarduState, inc: Incident, m: string, now: number): boolean {
  const at = inc.gasps[m]!;
  if (takenOver(g, inc, m)) return true;
  const wider = widerBlink(step, g, inc, m, at, at, now);
  if (wider === undefined) return false;
  if (inc.back[m] === undefined && wider.startedAt > at) wider.gasps[m] = at;
  return true;
}

/** The meter's last gasp in `inc` was taken over by a later gardu-wide interruption, which counts it from there. */
function takenOver(g: GarduState, inc: Incident, m: string): boolean {
  const at = inc.gasps[m];
  return at !== undefined && g.incidents.some((o) => o !== inc && o.gasps[m] === at && at < o.startedAt);
}

/**
 * A gardu outage counts every meter of its gardu: one still dark from a last gasp in an earlier
 * candidate of a few meters (undecided: it waits for silence, or decides later) is counted from that
 * last gasp, as in an escalation, and that candidate leaves it out (`handedToWiderBlink`). Counted by
 * both, a fuse then its transformer was two sustained interruptions of one customer.
 */
function takeOverEarlierGasps(step: Step, g: GarduState, inc: Incident, now: number): void {
  for (const c of g.incidents) {
    if (c === inc || c.phase !== 'candidate' || isGarduWide(step, g, c, now)) continue;
    for (const m in c.gasps) {
      const at = c.gasps[m]!;
      if (c.back[m] === undefined && at < inc.startedAt && inc.gasps[m] === undefined) inc.gasps[m] = at;
    }
  }
}

/** The meters of a METER incident that were back within the delay: one momentary METER record. */
function recordBlinks(step: Step, g: GarduState, inc: Incident, blinked: string[]): void {
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
  step.emissions.push({ to: 'momentary', record: outageRecord(step, g, blink, 'RESTORED', 'momentary') });
}

function finishGardu(step: Step, g: GarduState, inc: Incident, now: number): void {
  inc.scope = 'GARDU';
  inc.outageId = garduOutageId(g.garduId, inc.startedAt);
  settleBefore(step, g, inc, now);
  takeOverEarlierGasps(step, g, inc, now);
  inc.countedElsewhere = darkInMeterOutages(g, inc).sort();
  if (inc.supplyBackAt !== null && isMomentary(step, inc, inc.supplyBackAt)) {
    inc.parentId = feederMomentary(step, g, inc, inc.supplyBackAt, now);
    return momentary(step, g, inc, inc.supplyBackAt);
  }
  const joined = rollUpToFeeder(step, g, inc, now);
  // Nothing changes the gardu after this confirmation unless its supply is back already.
  const restored = inc.supplyBackAt !== null;
  confirm(step, g, inc, now, restored ? 'now' : 'owed');
  for (const [og, oi] of joined) publish(step, og, oi, 'UPDATED');
  if (restored) restoreGardu(step, g, inc, inc.supplyBackAt!);
}

/** `statuses`: published now, or owed (`oweStatuses`) when the caller changes the gardu no more. */
function confirm(
  step: Step,
  g: GarduState,
  inc: Incident,
  now: number,
  statuses: 'now' | 'owed' = 'now',
): void {
  inc.phase = 'open';
  inc.confirmedAt = now;
  inc.dueAt = null;
  publish(step, g, inc, 'OPEN');
  if (statuses === 'owed') oweStatuses(step, g, now);
  else refreshGardu(step, g, now);
}

/**
 * A gardu restored before confirmation: recorded for reliability statistics, never OPEN. It settles
 * like a restored outage: meters still dark at the next read had a sustained interruption of their own.
 */
function momentary(step: Step, g: GarduState, inc: Incident, backAt: number): void {
  inc.confirmedAt = backAt;
  inc.restoredAt = backAt;
  step.emissions.push({ to: 'momentary', record: outageRecord(step, g, inc, 'RESTORED', 'momentary') });
  inc.phase = 'settling';
  schedule(step.state, g.garduId, inc, nextSettleCheck(step, g, backAt, backAt));
  refreshGardu(step, g, backAt);
}

function dissolve(step: Step, g: GarduState, inc: Incident, at: number): void {
  g.incidents = g.incidents.filter((i) => i !== inc);
  refreshGardu(step, g, at);
}

// ---------------------------------------------------------------- restoration

function restoreGardu(step: Step, g: GarduState, inc: Incident, at: number): void {
  inc.restoredAt = at;
  inc.phase = 'settling';
  publish(step, g, inc, 'RESTORED');
  schedule(step.state, g.garduId, inc, nextSettleCheck(step, g, at, at));
  refreshGardu(step, g, at);
}

/**
 * The settling incident's timer: once a read is missing (`silenceKnownAt`) it settles; before that only
 * when restoration pings sent after the restore found every meter still without a sign of life silent.
 */
export function settleWhenKnown(step: Step, g: GarduState, inc: Incident, now: number): void {
  const back = inc.restoredAt!;
  if (now < silenceKnownAt(step, back)) {
    const proven = darkSinceRestore(step, g, inc, now).stillDark.every((m) => silentOnPing(g, m, back, now));
    if (!proven) return schedule(step.state, g.garduId, inc, nextSettleCheck(step, g, back, now));
  }
  settle(step, g, inc, now);
}

/** The AMI meters the restored incident may still hold dark, and those with no sign of life since its restore. */
function darkSinceRestore(
  step: Step,
  g: GarduState,
  inc: Incident,
  now: number,
): { candidates: string[]; stillDark: string[] } {
  const back = inc.restoredAt!;
  const candidates = step.topo
    .garduAmiMeters(g.garduId)
    .filter(
      (m) =>
        !isTusbung(g.facts[m]) &&
        !inMeterOutage(g, m, back) &&
        !inc.countedElsewhere.includes(m) &&
        !takenOver(g, inc, m),
    );
  // A sign of life since the restore, or a last gasp since (it had supply to lose), ends the meter's
  // interruption; so does its gardu dark again, for a silent meter that went dark with it (it follows it:
  // its power restore lost, and its last gasp too for a meter that can send one; with the media's
  // losses that is likelier than a fault of its own outlasting its gardu's, the momentary-storm load
  // test found: a cellular meter kept dark through two blinks counted one customer twice).
  const stillDark = candidates.filter(
    (m) =>
      !((inc.alive[m] ?? -1) >= back) &&
      !gaspedAgain(g, inc, m, back, Infinity) &&
      !(followsGardu(step, g, inc, m) && garduDarkAgain(step, g, inc, back, firstReadAfter(step, back), now)),
  );
  return { candidates, stillDark };
}

/**
 * The read boundary after `back`: a meter silent there (its read missing) was dark while its gardu was
 * lit, so a later darkness of the gardu is not what it follows.
 */
function firstReadAfter(step: Step, back: number): number {
  return silenceKnownAt(step, back) - step.cfg.READ_GRACE_MS;
}

/** Went dark with its gardu, not before it by a fault of its own (a fuse: its last gasp came first). */
function followsGardu(step: Step, g: GarduState, inc: Incident, m: string): boolean {
  return (inc.gasps[m] ?? Infinity) >= bulkStart(step, g, inc);
}

/** Another gardu-wide interruption of the gardu started after `from`, before `to`. */
function garduDarkAgain(
  step: Step,
  g: GarduState,
  inc: Incident,
  from: number,
  to: number,
  now: number,
): boolean {
  return g.incidents.some(
    (o) => o !== inc && o.startedAt > from && o.startedAt < to && isGarduWide(step, g, o, now),
  );
}

/** The meter's last gasp in another incident at or after `from`, before `to`: it had supply again by then. */
function gaspedAgain(g: GarduState, inc: Incident, m: string, from: number, to: number): boolean {
  return g.incidents.some((o) => o !== inc && (o.gasps[m] ?? -1) >= from && o.gasps[m]! < to);
}

/**
 * A power restore at `to`, after its gardu's restore at `from`, ends a later interruption when the meter
 * went dark again in between: its own last gasp (it had supply to lose), or its whole gardu dark again
 * (the meter follows its gardu; its restore of the earlier interruption was lost).
 */
function darkAgainBefore(
  step: Step,
  g: GarduState,
  inc: Incident,
  m: string,
  from: number,
  to: number,
  now: number,
): boolean {
  if (gaspedAgain(g, inc, m, from, to)) return true;
  return garduDarkAgain(step, g, inc, from, Math.min(to, firstReadAfter(step, from)), now);
}

/** Supply is back at the gardu; AMI meters with no sign of life since become one nested METER outage. */
export function settle(step: Step, g: GarduState, inc: Incident, now: number): void {
  const back = inc.restoredAt!;
  absorbSkewedBlinks(step, g, inc, now);
  const { candidates, stillDark } = darkSinceRestore(step, g, inc, now);
  // After a momentary (no parent on the outages topic) a meter's own interruption must be sustained.
  const root = wasMomentary(inc);
  const lateBack = candidates.filter(
    (m) =>
      returnedLate(inc, m, back) &&
      !darkAgainBefore(step, g, inc, m, back, inc.returns[m]!, now) &&
      (!root || inc.returns[m]! - (inc.gasps[m] ?? inc.startedAt) > step.cfg.CONFIRM_DELAY_MS),
  );
  const members = [...stillDark, ...lateBack].sort();
  g.incidents = g.incidents.filter((i) => i !== inc);
  // The pings' evidence served its restore; a later one is pinged anew.
  const restoring = g.incidents.some(
    (i) => i.phase === 'settling' || (i.phase === 'open' && i.scope === 'GARDU'),
  );
  if (g.pingSilence !== undefined && !restoring) delete g.pingSilence;
  if (members.length === 0) return refreshGardu(step, g, now);
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
  nested.bulkStartedAt = bulkStart(step, g, inc);
  nested.outageId = meterOutageId(g.garduId, inc.startedAt, members[0]!);
  g.incidents.push(nested);
  confirm(step, g, nested, now);
  if (stillDark.length === 0) restoreMeterOutage(step, g, nested, Math.max(...Object.values(nested.back)));
}

/**
 * Blinks still undecided of meters that sent no last gasp in this gardu interruption, within their clock
 * skew of it: this interruption seen on a clock that is off (decided first, `widerBlink` finds them).
 * This record counts them; they leave their candidates, and a candidate left without a last gasp ends.
 */
function absorbSkewedBlinks(step: Step, g: GarduState, inc: Incident, now: number): void {
  const from = inc.startedAt - METER_CLOCK_SKEW_MS;
  const to = inc.restoredAt! + METER_CLOCK_SKEW_MS;
  for (const c of [...g.incidents]) {
    if (c === inc || c.phase !== 'candidate') continue;
    for (const m of Object.keys(c.gasps)) {
      const gasp = c.gasps[m]!;
      const back = c.back[m];
      if (inc.gasps[m] !== undefined || back === undefined || back - gasp > step.cfg.CONFIRM_DELAY_MS)
        continue;
      if (gasp > to || back < from) continue;
      delete c.gasps[m];
      delete c.alive[m];
      delete c.back[m];
      delete c.returns[m];
    }
    if (Object.keys(c.gasps).length === 0) dissolve(step, g, c, now);
  }
}

/**
 * The gardu went dark again before an earlier restored outage of it settled: settle that one now,
 * so meters still dark from it are its nested METER outage (counted there, not again by this one).
 */
function settleBefore(step: Step, g: GarduState, inc: Incident, now: number): void {
  for (const earlier of g.incidents.filter((i) => i.phase === 'settling' && i.restoredAt! <= inc.startedAt))
    settle(step, g, earlier, now);
}

function restoreMeter(step: Step, g: GarduState, inc: Incident, m: string, at: number): void {
  inc.dark = inc.dark.filter((d) => d !== m);
  if (inc.dark.length === 0) return restoreMeterOutage(step, g, inc, at);
  publish(step, g, inc, 'UPDATED');
}

function restoreMeterOutage(step: Step, g: GarduState, inc: Incident, at: number): void {
  inc.dark = [];
  inc.restoredAt = at;
  publish(step, g, inc, 'RESTORED');
  dissolve(step, g, inc, at);
}
