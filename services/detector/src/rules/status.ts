import { defaultFacts, isPlain, statusChange, type Darkness } from '../meterStatus.js';
import { wasMomentary } from './evidence.js';
import type { GarduState, Step } from './state.js';

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

export function refreshStatus(step: Step, g: GarduState, m: string, at: number): void {
  const had = g.facts[m];
  const dark = darkness(g, m);
  // Nothing remembered and not dark: ENERGIZED as last shown, nothing to publish or keep.
  if (had === undefined && dark === null) return;
  const f = had ?? defaultFacts();
  const change = statusChange(m, g.garduId, f, dark, at);
  if (change) step.emissions.push({ to: 'status', record: change });
  if (isPlain(f)) {
    if (had !== undefined) {
      delete g.facts[m];
      step.state.dirty.add(g.garduId);
    }
  } else if (had === undefined) {
    g.facts[m] = f;
    step.state.dirty.add(g.garduId);
  }
  if (change) step.state.dirty.add(g.garduId);
}

/** After a gardu-wide change, every meter of the gardu may show a new state. */
export function refreshGardu(step: Step, g: GarduState, at: number): void {
  for (const m of step.topo.garduMeters(g.garduId)) refreshStatus(step, g, m, at);
}

/**
 * `refreshGardu` owed instead of done: the caller changes nothing more of the gardu, so its statuses
 * are the same whenever they are computed before its next input (`payStatuses`). A whole-fleet
 * blackout confirms every gardu at once: their OPEN records go out in the first step, and the 1.2 M
 * meter statuses in the steps after, instead of holding the last OPEN behind them.
 */
export function oweStatuses(step: Step, g: GarduState, at: number): void {
  payStatuses(step, g);
  g.statusesOwedSince = at;
  step.state.owing.add(g.garduId);
  step.state.dirty.add(g.garduId);
}

/** Publishes the statuses the gardu owes, if any: before anything changes its meters' state. */
export function payStatuses(step: Step, g: GarduState): void {
  const at = g.statusesOwedSince;
  if (at === undefined) return;
  delete g.statusesOwedSince;
  step.state.owing.delete(g.garduId);
  step.state.dirty.add(g.garduId);
  refreshGardu(step, g, at);
}

/** Pays owed statuses, oldest first, while the emissions are under `limit`. False when some are left. */
export function payOwedStatuses(step: Step, limit: number): boolean {
  for (const garduId of step.state.owing) {
    if (step.emissions.length >= limit) return false;
    const g = step.state.gardus.get(garduId);
    if (g) payStatuses(step, g);
    else step.state.owing.delete(garduId);
  }
  return true;
}
