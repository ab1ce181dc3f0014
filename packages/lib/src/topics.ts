/** Topic names of the contract, under a configurable prefix. */
export interface Topics {
  meters: string;
  reads: string;
  events: string;
  /** Commands to meters from the audited command API (services/web): DISCONNECT travels here. */
  commands: string;
  /**
   * Machine pings (MeterCommand READ_NOW, key meter_id; services/detector): a topic of their own, so
   * that the detector's principal never needs WRITE on `commands`. The head-end refuses anything
   * but READ_NOW found here (NOT_A_PING).
   */
  pings: string;
  outages: string;
  meterStatus: string;
  dlq: string;
  /** Head-end's answers to commands (accepted or refused, with the reason). */
  commandResults: string;
  /** Interruptions restored before confirmation (IEEE 1366 momentary): Outage records, status RESTORED. */
  momentary: string;
  /** CC 123 calls and their complaints (CallRecord, key IDPEL; services/web). */
  calls: string;
  /**
   * Outages predicted on arrival, before the event-time rule confirms them (SuspectedOutage, key
   * outage_id; services/detector). Never an interruption: only `outages` counts.
   */
  suspectedOutages: string;
}

export function topicNames(prefix = 'ami'): Topics {
  return {
    meters: `${prefix}.meters`,
    reads: `${prefix}.reads`,
    events: `${prefix}.events`,
    commands: `${prefix}.commands`,
    pings: `${prefix}.pings`,
    outages: `${prefix}.outages`,
    meterStatus: `${prefix}.meter-status`,
    dlq: `${prefix}.dlq`,
    commandResults: `${prefix}.command-results`,
    momentary: `${prefix}.momentary-interruptions`,
    calls: `${prefix}.calls`,
    suspectedOutages: `${prefix}.suspected-outages`,
  };
}

export type TopicRole = keyof Topics;

/** Which topics are compacted (latest value per key is the state). */
export const compactedTopics: ReadonlySet<TopicRole> = new Set([
  'meters',
  'outages',
  'meterStatus',
  'momentary',
  'suspectedOutages',
]);

/**
 * The default consumer group (and transactional-id base) of a service on a
 * topic prefix: `<prefix>-<service>`, so `ami-detector` on the default prefix.
 * Two pipelines on one cluster (two prefixes) never share a group, so they
 * never rebalance or fence each other. Throwaway groups (table followers, CLI
 * followers) start with it too.
 */
export function serviceGroupId(prefix: string, service: string): string {
  return `${prefix}-${service}`;
}
