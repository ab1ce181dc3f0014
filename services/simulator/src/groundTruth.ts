import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

/**
 * Ground truth: what the simulator really did, one JSON object a line, for
 * tests that score the detector and billing. Times are epoch ms, true time
 * (before any meter clock skew). See services/simulator/README.md.
 */

export type InterruptionScope = 'METER' | 'GARDU' | 'FEEDER' | 'REGION';

export interface InterruptionTruth {
  kind: 'interruption';
  id: string;
  scope: InterruptionScope;
  region: string;
  /** ULP, feeder and gardu of the scope; null where the scope is wider (a REGION has no single ULP). */
  ulp: string | null;
  feeder_id: string | null;
  gardu_id: string | null;
  /** The meters for METER scope; empty for wider scopes. */
  meter_ids: string[];
  start: number;
  end: number;
  /** end - start <= 5 minutes. */
  momentary: boolean;
  /** AMI meters (KDPM L, R, S, F) in scope. */
  ami_meters_total: number;
  /** AMI meters in scope with relay CLOSED and powered when the interruption started: the customers newly affected. */
  meters_affected: number;
  /** AMI meters in scope whose relay was OPEN by REMOTE_DISCONNECT (tusbung, incl. reconnect enabled but not pressed). */
  tusbung_excluded: number;
  /** AMI meters in scope whose relay was OPEN by a power-limit trip. */
  trip_excluded: number;
  /** AMI meters in scope already dark from an overlapping interruption. */
  already_dark: number;
  /** AMR meters (KDPM A) in scope: they lose power too but send no events. */
  amr_meters: number;
  /** Last gasps sent by meters that went dark, and how many the network delivered. */
  last_gasps_sent: number;
  last_gasps_delivered: number;
}

export interface RelayTruth {
  kind: 'relay';
  meter_id: string;
  idpel: string;
  gardu_id: string;
  at: number;
  type: 'RELAY_OPENED' | 'RELAY_CLOSED' | 'RECONNECT_ENABLED';
  cause: 'REMOTE_DISCONNECT' | 'REMOTE_CONNECT' | 'BUTTON' | 'POWER_LIMIT_TRIP';
}

export interface PowerLimitTruth {
  kind: 'power_limit';
  meter_id: string;
  gardu_id: string;
  at: number;
  power_limit_va: number;
}

/**
 * Customers without supply from the network over one maximal interval: each meter's dark time,
 * merged across overlapping interruptions (one interval a meter while any interruption covers
 * it). Only customers whose relay was CLOSED when supply went: a relay OPEN by tusbung or a
 * power-limit trip is no interruption (the relay cannot change while the meter is dark). AMR
 * customers included. One line per group of meters sharing start and end, written when supply
 * returns; `end` null for those still dark when the simulated range ends (written last).
 */
export interface CustomerDarkTruth {
  kind: 'customer_dark';
  start: number;
  end: number | null;
  meter_ids: string[];
}

export interface SummaryTruth {
  kind: 'summary';
  scenario: string;
  seed: number;
  meters: number;
  gardu: number;
  start: number;
  end: number;
  interval_s: number;
  /** Records produced, duplicates included. */
  reads: number;
  events: number;
  duplicates: number;
  delayed: number;
  interruptions: number;
  relay_changes: number;
  last_gasps_lost: number;
}

export type TruthLine = InterruptionTruth | CustomerDarkTruth | RelayTruth | PowerLimitTruth | SummaryTruth;
export type TruthSink = (line: TruthLine) => void;

/** Collects ground truth in memory (tests, small runs). */
export function collectTruth(): { lines: TruthLine[]; sink: TruthSink } {
  const lines: TruthLine[] = [];
  return { lines, sink: (l) => lines.push(l) };
}

/** Writes ground truth as JSONL to `path`; `close()` flushes. */
export class TruthWriter {
  private readonly out: WriteStream;
  constructor(path: string) {
    this.out = createWriteStream(path, { encoding: 'utf8' });
  }
  readonly sink: TruthSink = (line) => {
    this.out.write(`${JSON.stringify(line)}\n`);
  };
  async close(): Promise<void> {
    this.out.end();
    await once(this.out, 'finish');
  }
}

/** Parse a ground-truth JSONL text (for tests and tools). */
export function parseTruth(text: string): TruthLine[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as TruthLine);
}
