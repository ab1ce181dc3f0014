/**
 * THE outage rules. Plain functions over plain state (maps, arrays, records: changelog.ts writes it), fed
 * in event-time order by the edge (see eventTime.ts). Nothing here reads a
 * clock: timers fire at event times, so a replay at any speed gives the same
 * outages with the same ids.
 *
 * Lifecycle of an incident at one gardu:
 *   candidate --(confirm delay passed, evidence decides scope)--> open --> restored
 *            \--(supply back within the delay)--> momentary record, never OPEN
 *   open GARDU --(supply back)--> settling --(next read due)--> meters still
 *   dark become one nested METER outage (parent = the gardu outage).
 *
 * The modules, each over one Step (config, topology, state, the emissions being collected):
 *   inputs.ts    the edge's entry points: an event, a read, the timers due, dedup
 *   incident.ts  an incident's lifecycle: evidence arriving, decision, restoration, settling
 *   evidence.ts  what the evidence proves, read without changing anything
 *   feeder.ts    the FEEDER roll-up of several gardu outages
 *   publish.ts   the one path by which a gardu or meter outage is published
 *   records.ts   the published records: ids, figures, customer counts
 *   status.ts    each meter's published status
 *   state.ts     the state's types and plumbing; snapshots.ts its per-gardu snapshots
 */

export {
  newDetectorState,
  type ChildFigures,
  type DetectorState,
  type Emission,
  type FeederOutage,
  type GarduState,
  type Incident,
  type OutageRecord,
  type Phase,
  type RulesContext,
} from './state.js';
export {
  advance,
  applyEvent,
  applyInput,
  applyRead,
  inputTime,
  isDuplicate,
  pruneSeen,
  type Input,
} from './inputs.js';
export { LATE_RETURN_MS, silenceKnownAt, verdict } from './evidence.js';
export { garduOutageId, meterOutageId } from './records.js';
export { dropGardu, feedersByChild, loadGardu, snapshotGardu, type GarduSnapshot } from './snapshots.js';
