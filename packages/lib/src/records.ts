/**
 * TypeScript shapes of the Avro records in `schemas/`. Timestamps are epoch
 * milliseconds (UTC), energies integer watt-hours. `packages/lib/test/records.test.ts`
 * checks these against the .avsc files so they cannot drift.
 */
export type RelayState = 'CLOSED' | 'OPEN';
export type Kdpm = 'L' | 'R' | 'S' | 'F' | 'A';

export interface MeterProfile {
  meter_id: string;
  idpel: string;
  kdpm: Kdpm;
  phases: number;
  tariff: string;
  daya_va: number;
  gardu_id: string;
  feeder_id: string;
  ulp: string;
  region: string;
  timezone: string;
  installed_at: number;
}

export type ReadKind = 'INTERVAL' | 'ON_DEMAND';

export interface MeterRead {
  meter_id: string;
  gardu_id: string;
  read_at: number;
  interval_s: number;
  energy_import_wh: number;
  demand_w: number;
  voltage_v: number;
  relay: RelayState;
  power_limit_va: number;
  kind: ReadKind;
}

export type MeterEventType =
  | 'LAST_GASP'
  | 'POWER_RESTORE'
  | 'RELAY_OPENED'
  | 'RELAY_CLOSED'
  | 'RECONNECT_ENABLED'
  | 'POWER_LIMIT_CHANGED';
export type EventCause = 'NONE' | 'REMOTE_DISCONNECT' | 'REMOTE_CONNECT' | 'BUTTON' | 'POWER_LIMIT_TRIP';

export interface MeterEvent {
  event_id: string;
  meter_id: string;
  gardu_id: string;
  occurred_at: number;
  type: MeterEventType;
  relay: RelayState;
  cause: EventCause;
  power_limit_va: number | null;
}

export type MeterCommandType = 'DISCONNECT' | 'ENABLE_RECONNECT' | 'SET_POWER_LIMIT' | 'READ_NOW';

export interface MeterCommand {
  command_id: string;
  meter_id: string;
  issued_at: number;
  type: MeterCommandType;
  power_limit_va: number | null;
  issued_by: string;
  reason: string | null;
}

export type OutageScope = 'METER' | 'GARDU' | 'FEEDER';
export type OutageStatus = 'OPEN' | 'UPDATED' | 'RESTORED';

export interface Outage {
  outage_id: string;
  scope: OutageScope;
  status: OutageStatus;
  region: string;
  ulp: string;
  feeder_id: string;
  gardu_id: string | null;
  meter_ids: string[];
  parent_outage_id: string | null;
  started_at: number;
  confirmed_at: number;
  restored_at: number | null;
  customers_affected: number;
  customers_total: number;
  last_gasps: number;
  tusbung_excluded: number;
  /** Customers this record is the first to count as interrupted (IEEE 1366 CI); see schemas/Outage.avsc. */
  customers_interrupted: number;
  /** Customer-seconds without supply only this record accounts for; final on RESTORED. */
  customer_interruption_s: number;
  emitted_at: number;
}

export type SuspectedScope = 'METER' | 'GARDU' | 'FEEDER';
export type SuspicionStatus = 'SUSPECTED' | 'VERIFIED' | 'CONFIRMED' | 'CANCELLED';

/** SUSPECTED and VERIFIED are still pending; CONFIRMED and CANCELLED end a suspicion. */
export function isPendingSuspicion(s: Pick<SuspectedOutage, 'status'>): boolean {
  return s.status === 'SUSPECTED' || s.status === 'VERIFIED';
}

/**
 * An outage predicted on arrival of its evidence (topic `<prefix>.suspected-outages`, key outage_id,
 * schemas/SuspectedOutage.avsc). Never an interruption: only Outage records count.
 */
export interface SuspectedOutage {
  outage_id: string;
  scope: SuspectedScope;
  status: SuspicionStatus;
  region: string;
  ulp: string;
  feeder_id: string;
  gardu_id: string | null;
  meter_ids: string[];
  started_at: number;
  last_gasps: number;
  customers_total: number;
  /** Kafka timestamp of the record that crossed the threshold: emitted_at minus this is the latency. */
  evidence_logged_at: number;
  pings_sent: number;
  pings_answered: number;
  pings_silent: number;
  reason: string | null;
  /** CONFIRMED: the confirmed Outage's id (equal to outage_id unless arrival order could not predict it). */
  confirmed_outage_id: string | null;
  emitted_at: number;
}

export type MeterState =
  'ENERGIZED' | 'OUTAGE' | 'DISCONNECTED' | 'RECONNECT_ENABLED' | 'POWER_LIMIT_TRIP' | 'UNKNOWN';

export interface MeterStatus {
  meter_id: string;
  gardu_id: string;
  state: MeterState;
  relay: RelayState;
  since: number;
  outage_id: string | null;
}

export type CommandStatus = 'ACCEPTED' | 'REFUSED';

/** The head-end's answer to a MeterCommand (topic `<prefix>.command-results`). */
export interface CommandResult {
  command_id: string;
  meter_id: string;
  type: MeterCommandType;
  status: CommandStatus;
  reason: string | null;
  decided_at: number;
  event_id: string | null;
  /**
   * READ_NOW answered: wall-clock ms from the command reaching the head-end to the
   * meter's answer (medium latency plus concentrator queue). The fields below are
   * optional (Avro default null): absent or null when the meter did not answer,
   * for other commands, and in results written before they existed.
   */
  answered_in_ms?: number | null;
  /** READ_NOW answered: when the meter read its register (same as the ON_DEMAND read's read_at). */
  read_at?: number | null;
  /** READ_NOW answered: the register (stand) in Wh. */
  energy_import_wh?: number | null;
  /** READ_NOW answered: supply voltage. */
  voltage_v?: number | null;
  /** READ_NOW answered: relay state. */
  relay?: RelayState | null;
}

export type CallOutcome = 'ISSUE_CLOSED' | 'FORWARDED_TO_UNIT';
export type ComplaintStatus = 'ISSUE_CLOSED' | 'OPEN' | 'IN_PROGRESS' | 'CLOSED';
export type CallAction = 'LOGGED' | 'WORK_STARTED' | 'CLOSED';

/** A CC 123 call and the later changes of its complaint (topic `<prefix>.calls`, key IDPEL). */
export interface CallRecord {
  call_id: string;
  idpel: string;
  meter_id: string;
  region: string;
  ulp: string;
  gardu_id: string;
  keyword: string;
  complaint_type: string;
  complaint_subtype: string;
  outcome: CallOutcome;
  status: ComplaintStatus;
  ptl: boolean;
  agent: string;
  called_at: number;
  notes: string;
  action: CallAction;
  actor: string;
  actor_role: string;
  updated_at: number;
  resolution: string | null;
}

/** Record name (as in schemas/<Name>.avsc) to its TypeScript shape. */
export interface RecordTypes {
  MeterProfile: MeterProfile;
  MeterRead: MeterRead;
  MeterEvent: MeterEvent;
  MeterCommand: MeterCommand;
  Outage: Outage;
  MeterStatus: MeterStatus;
  CommandResult: CommandResult;
  CallRecord: CallRecord;
  SuspectedOutage: SuspectedOutage;
}
export type RecordName = keyof RecordTypes;
