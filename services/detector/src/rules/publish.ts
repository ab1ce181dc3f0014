import type { Outage } from '@ami/lib';
import { feederOf, publishFeeder } from './feeder.js';
import { digestOf, outageRecord } from './records.js';
import type { GarduState, Incident, Step } from './state.js';

/**
 * The one path by which a gardu or meter outage is published: OPEN and
 * RESTORED always, UPDATED only when something an operator sees changed.
 * A parent feeder follows its children.
 */
export function publish(step: Step, g: GarduState, inc: Incident, status: Outage['status']): void {
  const r = outageRecord(step, g, inc, status);
  const digest = digestOf(r);
  if (status === 'UPDATED' && (inc.phase !== 'open' || digest === inc.shown)) return;
  inc.shown = digest;
  step.emissions.push({ to: 'outages', record: r });
  const feeder = feederOf(step.state, r);
  if (!feeder || r.gardu_id === null || r.scope !== 'GARDU') return;
  feeder.children[r.gardu_id] = {
    affected: r.customers_affected,
    lastGasps: r.last_gasps,
    tusbung: r.tusbung_excluded,
    restoredAt: r.restored_at,
  };
  publishFeeder(step, feeder);
}
