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
