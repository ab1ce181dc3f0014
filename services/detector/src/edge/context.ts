import type { Logger, ServiceMetrics, Topics } from '@ami/lib';
import type { DetectorConfig } from '../config.js';
import type { EventTimeGate } from '../eventTime.js';
import type { DetectorState, RulesContext } from '../rules.js';
import type { SuspicionState } from '../suspicion.js';
import type { Source } from './inputs.js';

/** Counters an operator (and the tests) can read. */
export interface DetectorStats {
  consumed: number;
  /** Inputs released in event-time order through the rules (and committed). */
  released: number;
  late: number;
  /** Inputs ahead of the fleet's clock when offered (confirmed later, or dead-lettered `future-dated`). */
  suspects: number;
  duplicates: number;
  replayed: number;
  dlq: Record<string, number>;
  outages: number;
  momentary: number;
  statuses: number;
  /** Records on the suspected-outages topic (suspected, confirmed, cancelled). */
  suspected: number;
  transactions: number;
  /** Most inputs held for the watermark at once (after a batch was offered). */
  peakBuffered: number;
  /** Inputs not on their feeder's partition, forwarded to the repartition topic ("Scaling out"). */
  forwarded: number;
}

export function newDetectorStats(): DetectorStats {
  return {
    consumed: 0,
    released: 0,
    late: 0,
    suspects: 0,
    duplicates: 0,
    replayed: 0,
    dlq: {},
    outages: 0,
    momentary: 0,
    statuses: 0,
    suspected: 0,
    transactions: 0,
    peakBuffered: 0,
    forwarded: 0,
  };
}

/**
 * What the parts of the detector's edge share (edge.ts, ingest.ts, repartition.ts, stateRecords.ts):
 * the configuration, the rules' context and state, the event-time gate, where each gardu's
 * traffic is, and the counters. One per detector instance.
 */
export interface EdgeContext {
  readonly cfg: DetectorConfig;
  readonly rules: RulesContext;
  readonly topics: Topics;
  readonly logger: Logger;
  readonly stats: DetectorStats;
  readonly metrics: ServiceMetrics;
  /** The rules' state (rules/), and the suspected outages on arrival (suspicion.ts) saved beside it. */
  readonly st: DetectorState;
  readonly sst: SuspicionState;
  readonly gate: EventTimeGate<Source>;
  /** Gardu → the partition of its traffic: where its snapshots go, and dropped with that partition. */
  readonly garduPartition: Map<string, number>;
}
