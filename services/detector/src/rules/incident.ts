import { isTusbung } from '../meterStatus.js';
import type { MeterInfo } from '../topology.js';
import {
  bulkStart,
  darkInMeterOutages,
  evidence,
  inMeterOutage,
  isMomentary,
  returnedLate,
  silenceKnownAt,
  verdict,
  wasMomentary,
} from './evidence.js';
import { feederMomentary, rollUpToFeeder } from './feeder.js';
import { publish } from './publish.js';
import { garduOutageId, meterOutageId, outageRecord } from './records.js';
import { newIncident, schedule, type GarduState, type Incident, type Step } from './state.js';
import { refreshGardu } from './status.js';

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
  }
  return touched;
}

// ---------------------------------------------------------------- decisions

export function decide(step: Step, g: GarduState, inc: Incident, now: number): void {
  const v = verdict(step.cfg, evidence(step, g, inc, now));
  if (v === 'WAIT') return schedule(step.state, g.garduId, inc, silenceKnownAt(step, inc.startedAt));
  if (v === 'GARDU') return finishGardu(step, g, inc, now);
  // Meters, not the gardu, were out: each meter's own interruption decides. Back within the delay of
  // its own last gasp is a blink (momentary record), the others are the METER outage.
  inc.scope = 'METER';
  const gasped = Object.keys(inc.gasps).filter((m) => !isTusbung(g.facts[m])); // a tusbung last gasp is no outage
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
  inc.countedElsewhere = darkInMeterOutages(g, inc).sort();
  if (inc.supplyBackAt !== null && isMomentary(step, inc, inc.supplyBackAt)) {
    inc.parentId = feederMomentary(step, g, inc, inc.supplyBackAt, now);
    return momentary(step, g, inc, inc.supplyBackAt);
  }
  const joined = rollUpToFeeder(step, g, inc, now);
  confirm(step, g, inc, now);
  for (const [og, oi] of joined) publish(step, og, oi, 'UPDATED');
  if (inc.supplyBackAt !== null) restoreGardu(step, g, inc, inc.supplyBackAt);
}

function confirm(step: Step, g: GarduState, inc: Incident, now: number): void {
  inc.phase = 'open';
  inc.confirmedAt = now;
  inc.dueAt = null;
  publish(step, g, inc, 'OPEN');
  refreshGardu(step, g, now);
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
  schedule(step.state, g.garduId, inc, silenceKnownAt(step, backAt));
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
  schedule(step.state, g.garduId, inc, silenceKnownAt(step, at));
  refreshGardu(step, g, at);
}

/** Supply is back at the gardu; AMI meters with no sign of life since become one nested METER outage. */
export function settle(step: Step, g: GarduState, inc: Incident, now: number): void {
  const back = inc.restoredAt!;
  const candidates = step.topo
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
      (!root || inc.returns[m]! - (inc.gasps[m] ?? inc.startedAt) > step.cfg.CONFIRM_DELAY_MS),
  );
  const members = [...stillDark, ...lateBack].sort();
  g.incidents = g.incidents.filter((i) => i !== inc);
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
