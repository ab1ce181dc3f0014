import {
  BadRecordError,
  rejectIfInvalid,
  validateEvent,
  validateProfile,
  validateRead,
  type CallRecord,
  type CommandResult,
  type MeterEvent,
  type MeterProfile,
  type MeterRead,
  type GarduLookup,
  type Outage,
  type ProfileLookup,
  type RecordName,
  type ValidationLimits,
} from '@ami/lib';
import type { Column, RowBinaryWriter } from './rowbinary.js';
import { transcodeReadAt } from './transcodeRead.js';

/**
 * Where each topic goes: the ClickHouse table, its columns (as in
 * migrations/001_core.sql, 004 and 009) and the mapping from a decoded record to a row.
 * Mappings validate what ClickHouse would silently mangle (times outside
 * DateTime's range, unknown time zones); a failure sends the record to the DLQ.
 */
export type TableName =
  'meters' | 'reads' | 'events' | 'outages' | 'momentary_interruptions' | 'calls' | 'command_results';

export interface KafkaPosition {
  key: string | null;
  offset: number;
}

/**
 * Whether a read passes the meters-table checks, from its bytes (ProfileTable.readFits): the meter
 * id is `buf[meterAt, meterAt + meterLen)` and the gardu id `buf[garduAt, garduAt + garduLen)`, UTF-8.
 */
export type ReadFits = (
  buf: Buffer,
  meterAt: number,
  meterLen: number,
  garduAt: number,
  garduLen: number,
  readAtMs: number,
  demandW: number,
  limits: ValidationLimits,
) => boolean;

/**
 * The meters table as reads and events are checked against it (unknown
 * meter or gardu, before installation, demand above the rating). Without it
 * only the record's own ranges are checked.
 */
export interface InputChecks {
  lookup: ProfileLookup;
  garduKnown: GarduLookup;
  limits: ValidationLimits;
  /** Optional: the same checks for the read transcoding path without an object per read (ProfileTable.readFits). */
  readFits?: ReadFits;
}

export interface TableSpec<R = unknown> {
  table: TableName;
  record: RecordName;
  columns: readonly Column[];
  /** Optional fast path: Confluent-framed bytes of the LOCAL schema straight to RowBinary (throws on anything odd). */
  transcode?: (buf: Buffer, start: number, end: number, w: RowBinaryWriter, checks?: InputChecks) => void;
  /** Row of a decoded record (`value` null for a tombstone); null when there is nothing to load. */
  toRow(value: R | null, at: KafkaPosition, checks?: InputChecks): Record<string, unknown> | null;
}

const RELAY = { enum8: { CLOSED: 0, OPEN: 1 } } as const;

/** Epoch ms → DateTime seconds, refusing what DateTime cannot hold. */
export function seconds(ms: number, field: string): number {
  const s = Math.floor(ms / 1000);
  if (!Number.isFinite(s) || s < 0 || s >= 4294967296)
    throw new BadRecordError('out-of-range', `${field} ${ms} is outside ClickHouse DateTime`);
  return s;
}

function required(value: string, field: string): string {
  if (value === '') throw new BadRecordError('missing-field', `${field} is empty`);
  return value;
}

const meters: TableSpec<MeterProfile> = {
  table: 'meters',
  record: 'MeterProfile',
  columns: [
    { name: 'meter_id', type: 'String' },
    { name: 'idpel', type: 'String' },
    { name: 'kdpm', type: { enum8: { L: 0, R: 1, S: 2, F: 3, A: 4 } } },
    { name: 'phases', type: 'UInt8' },
    { name: 'tariff', type: 'String' },
    { name: 'daya_va', type: 'UInt32' },
    { name: 'gardu_id', type: 'String' },
    { name: 'feeder_id', type: 'String' },
    { name: 'ulp', type: 'String' },
    { name: 'region', type: 'String' },
    { name: 'timezone', type: 'String' },
    { name: 'installed_at', type: 'DateTime' },
    { name: 'deleted', type: 'UInt8' },
    { name: 'version', type: 'UInt64' },
  ],
  toRow(p, at) {
    if (p === null) {
      const meterId = required(at.key ?? '', 'tombstone key');
      return {
        meter_id: meterId,
        idpel: '',
        kdpm: 'L',
        phases: 0,
        tariff: '',
        daya_va: 0,
        gardu_id: '',
        feeder_id: '',
        ulp: '',
        region: '',
        timezone: '',
        installed_at: 0,
        deleted: 1,
        version: at.offset,
      };
    }
    checkProfile(p);
    return { ...p, installed_at: seconds(p.installed_at, 'installed_at'), deleted: 0, version: at.offset };
  },
};

/**
 * Throws the BadRecordError a profile is refused with: the one profile check of
 * every consumer of the meters topic (`validateProfile` in @ami/lib); the loader's
 * meters table for input checks uses it too.
 */
export function checkProfile(p: MeterProfile): void {
  rejectIfInvalid(validateProfile(p));
}

// Enum8 codes equal the Avro symbol indexes, so the transcoder copies them.
const reads: TableSpec<MeterRead> = {
  table: 'reads',
  record: 'MeterRead',
  transcode: transcodeReadAt,
  columns: [
    { name: 'meter_id', type: 'String' },
    { name: 'gardu_id', type: 'String' },
    { name: 'read_at', type: 'DateTime' },
    { name: 'interval_s', type: 'UInt32' },
    { name: 'energy_import_wh', type: 'Int64' },
    { name: 'demand_w', type: 'Int32' },
    { name: 'voltage_v', type: 'Float32' },
    { name: 'relay', type: RELAY },
    { name: 'power_limit_va', type: 'Int32' },
    { name: 'kind', type: { enum8: { INTERVAL: 0, ON_DEMAND: 1 } } },
  ],
  toRow(r, _at, checks) {
    if (r === null) throw new BadRecordError('tombstone', 'reads are never deleted');
    if (r.energy_import_wh < 0)
      throw new BadRecordError('negative-register', `register ${r.energy_import_wh} Wh is negative`);
    if (r.interval_s < 0) throw new BadRecordError('out-of-range', `interval_s ${r.interval_s} is negative`);
    // Ranges, and with `checks` the meters table: packages/lib/src/validate.ts.
    rejectIfInvalid(validateRead(r, { now: Date.now(), ...checks }));
    // Mutate in place: the record is ours and this is the hot path.
    (r as unknown as { read_at: number }).read_at = seconds(r.read_at, 'read_at');
    required(r.meter_id, 'meter_id');
    return r as unknown as Record<string, unknown>;
  },
};

const events: TableSpec<MeterEvent> = {
  table: 'events',
  record: 'MeterEvent',
  columns: [
    { name: 'event_id', type: 'String' },
    { name: 'meter_id', type: 'String' },
    { name: 'gardu_id', type: 'String' },
    { name: 'occurred_at', type: 'DateTime' },
    {
      name: 'type',
      type: {
        enum8: {
          LAST_GASP: 0,
          POWER_RESTORE: 1,
          RELAY_OPENED: 2,
          RELAY_CLOSED: 3,
          RECONNECT_ENABLED: 4,
          POWER_LIMIT_CHANGED: 5,
        },
      },
    },
    { name: 'relay', type: RELAY },
    {
      name: 'cause',
      type: { enum8: { NONE: 0, REMOTE_DISCONNECT: 1, REMOTE_CONNECT: 2, BUTTON: 3, POWER_LIMIT_TRIP: 4 } },
    },
    { name: 'power_limit_va', type: 'Nullable(Int32)' },
  ],
  toRow(e, _at, checks) {
    if (e === null) throw new BadRecordError('tombstone', 'events are never deleted');
    rejectIfInvalid(validateEvent(e, { now: Date.now(), ...checks }));
    return {
      ...e,
      event_id: required(e.event_id, 'event_id'),
      occurred_at: seconds(e.occurred_at, 'occurred_at'),
    };
  },
};

const outages: TableSpec<Outage> = {
  table: 'outages',
  record: 'Outage',
  columns: [
    { name: 'outage_id', type: 'String' },
    { name: 'scope', type: { enum8: { METER: 0, GARDU: 1, FEEDER: 2 } } },
    { name: 'status', type: { enum8: { OPEN: 0, UPDATED: 1, RESTORED: 2 } } },
    { name: 'region', type: 'String' },
    { name: 'ulp', type: 'String' },
    { name: 'feeder_id', type: 'String' },
    { name: 'gardu_id', type: 'Nullable(String)' },
    { name: 'meter_ids', type: 'Array(String)' },
    { name: 'parent_outage_id', type: 'Nullable(String)' },
    { name: 'started_at', type: 'DateTime' },
    { name: 'confirmed_at', type: 'DateTime' },
    { name: 'restored_at', type: 'Nullable(DateTime)' },
    { name: 'customers_affected', type: 'Int32' },
    { name: 'customers_total', type: 'Int32' },
    { name: 'last_gasps', type: 'Int32' },
    { name: 'tusbung_excluded', type: 'Int32' },
    { name: 'customers_interrupted', type: 'Int32' },
    { name: 'customer_interruption_s', type: 'Int64' },
    { name: 'emitted_at', type: 'DateTime' },
    { name: 'version', type: 'UInt64' },
  ],
  toRow(o, at) {
    // Outages are compacted: a tombstone only lets Kafka drop the key; the history stays here.
    if (o === null) return null;
    return {
      ...o,
      outage_id: required(o.outage_id, 'outage_id'),
      started_at: seconds(o.started_at, 'started_at'),
      confirmed_at: seconds(o.confirmed_at, 'confirmed_at'),
      restored_at: o.restored_at === null ? null : seconds(o.restored_at, 'restored_at'),
      emitted_at: seconds(o.emitted_at, 'emitted_at'),
      // The Kafka offset orders one outage's records (keyed by outage_id, so one partition):
      // a fast replay emits OPEN and RESTORED within the same millisecond.
      version: at.offset,
    };
  },
};

// The detector publishes momentaries (restored before confirmation) as Outage records on their own topic.
const momentary: TableSpec<Outage> = {
  table: 'momentary_interruptions',
  record: 'Outage',
  columns: [
    { name: 'interruption_id', type: 'String' },
    { name: 'region', type: 'String' },
    { name: 'ulp', type: 'String' },
    { name: 'feeder_id', type: 'String' },
    { name: 'gardu_id', type: 'Nullable(String)' },
    { name: 'started_at', type: 'DateTime' },
    { name: 'duration_s', type: 'UInt32' },
    { name: 'customers_affected', type: 'Int32' },
    { name: 'customers_interrupted', type: 'Int32' },
    { name: 'customer_interruption_s', type: 'Int64' },
    { name: 'emitted_at', type: 'DateTime' },
    { name: 'version', type: 'UInt64' },
  ],
  toRow(o) {
    if (o === null) return null;
    if (o.restored_at === null)
      throw new BadRecordError('momentary-not-restored', 'a momentary interruption needs restored_at');
    const started = seconds(o.started_at, 'started_at');
    const duration = seconds(o.restored_at, 'restored_at') - started;
    if (duration < 0) throw new BadRecordError('out-of-range', 'restored_at before started_at');
    return {
      interruption_id: required(o.outage_id, 'outage_id'),
      region: o.region,
      ulp: o.ulp,
      feeder_id: o.feeder_id,
      gardu_id: o.gardu_id,
      started_at: started,
      duration_s: duration,
      customers_affected: o.customers_affected,
      customers_interrupted: o.customers_interrupted,
      customer_interruption_s: o.customer_interruption_s,
      emitted_at: seconds(o.emitted_at, 'emitted_at'),
      version: o.emitted_at,
    };
  },
};

// CC 123 calls (services/web, migration 011): every record is a row, the latest per call_id the state.
const calls: TableSpec<CallRecord> = {
  table: 'calls',
  record: 'CallRecord',
  columns: [
    { name: 'call_id', type: 'String' },
    { name: 'idpel', type: 'String' },
    { name: 'meter_id', type: 'String' },
    { name: 'region', type: 'String' },
    { name: 'ulp', type: 'String' },
    { name: 'gardu_id', type: 'String' },
    { name: 'keyword', type: 'String' },
    { name: 'complaint_type', type: 'String' },
    { name: 'complaint_subtype', type: 'String' },
    { name: 'outcome', type: { enum8: { ISSUE_CLOSED: 0, FORWARDED_TO_UNIT: 1 } } },
    { name: 'status', type: { enum8: { ISSUE_CLOSED: 0, OPEN: 1, IN_PROGRESS: 2, CLOSED: 3 } } },
    { name: 'ptl', type: 'UInt8' },
    { name: 'agent', type: 'String' },
    { name: 'called_at', type: 'DateTime' },
    { name: 'notes', type: 'String' },
    { name: 'action', type: { enum8: { LOGGED: 0, WORK_STARTED: 1, CLOSED: 2 } } },
    { name: 'actor', type: 'String' },
    { name: 'actor_role', type: 'String' },
    { name: 'updated_at', type: 'DateTime' },
    { name: 'resolution', type: 'Nullable(String)' },
    { name: 'version', type: 'UInt64' },
  ],
  toRow(c, at) {
    if (c === null) throw new BadRecordError('tombstone', 'calls are never deleted');
    return {
      ...c,
      call_id: required(c.call_id, 'call_id'),
      ptl: c.ptl ? 1 : 0,
      called_at: seconds(c.called_at, 'called_at'),
      updated_at: seconds(c.updated_at, 'updated_at'),
      version: at.offset,
    };
  },
};

// The head-end's answers (migration 011), joined to the command audit by command_id.
const commandResults: TableSpec<CommandResult> = {
  table: 'command_results',
  record: 'CommandResult',
  columns: [
    { name: 'command_id', type: 'String' },
    { name: 'meter_id', type: 'String' },
    {
      name: 'type',
      type: { enum8: { DISCONNECT: 0, ENABLE_RECONNECT: 1, SET_POWER_LIMIT: 2, READ_NOW: 3 } },
    },
    { name: 'status', type: { enum8: { ACCEPTED: 0, REFUSED: 1 } } },
    { name: 'reason', type: 'Nullable(String)' },
    { name: 'decided_at', type: 'DateTime' },
    { name: 'event_id', type: 'Nullable(String)' },
  ],
  toRow(r) {
    if (r === null) throw new BadRecordError('tombstone', 'command results are never deleted');
    return {
      ...r,
      command_id: required(r.command_id, 'command_id'),
      decided_at: seconds(r.decided_at, 'decided_at'),
    };
  },
};

export const TABLES = { meters, reads, events, outages, momentary, calls, commandResults } as const;
