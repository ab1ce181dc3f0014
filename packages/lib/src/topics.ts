/** Topic names of the contract, under a configurable prefix. */
export interface Topics {
  meters: string;
  reads: string;
  events: string;
  commands: string;
  outages: string;
  meterStatus: string;
  dlq: string;
  /** Head-end's answers to commands (accepted or refused, with the reason). */
  commandResults: string;
  /** Interruptions restored before confirmation (IEEE 1366 momentary): Outage records, status RESTORED. */
  momentary: string;
}

export function topicNames(prefix = 'ami'): Topics {
  return {
    meters: `${prefix}.meters`,
    reads: `${prefix}.reads`,
    events: `${prefix}.events`,
    commands: `${prefix}.commands`,
    outages: `${prefix}.outages`,
    meterStatus: `${prefix}.meter-status`,
    dlq: `${prefix}.dlq`,
    commandResults: `${prefix}.command-results`,
    momentary: `${prefix}.momentary-interruptions`,
  };
}

export type TopicRole = keyof Topics;

/** Which topics are compacted (latest value per key is the state). */
export const compactedTopics: ReadonlySet<TopicRole> = new Set([
  'meters',
  'outages',
  'meterStatus',
  'momentary',
]);
