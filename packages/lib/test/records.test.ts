import { describe, expect, it } from 'vitest';
import type avro from 'avsc';
import {
  avroType,
  RECORD_NAMES,
  type CallAction,
  type CallOutcome,
  type CallRecord,
  type CommandResult,
  type ComplaintStatus,
  type CommandStatus,
  type EventCause,
  type Kdpm,
  type MeterCommand,
  type MeterCommandType,
  type MeterEvent,
  type MeterEventType,
  type MeterProfile,
  type MeterRead,
  type MeterState,
  type MeterStatus,
  type Outage,
  type OutageScope,
  type OutageStatus,
  type ReadKind,
  type RecordName,
  type RecordTypes,
  type RelayState,
  type SuspectedOutage,
  type SuspectedScope,
  type SuspicionStatus,
} from '../src/index.js';

/**
 * The TypeScript shapes in packages/lib/src/records.ts against schemas/*.avsc.
 * Type side: `satisfies` makes tsc (npm run typecheck) reject a missing or an
 * extra key, and an enum list that misses or invents a symbol. Schema side:
 * this test compares the same lists with the .avsc fields and symbols, and
 * validates a full sample of each record with avsc.
 */

type KeysOf<T> = { [K in keyof T]-?: true };
/** Compiles only if the tuple lists every member of U (and nothing else). */
type AllOf<U, T extends readonly U[]> = [Exclude<U, T[number]>] extends [never] ? T : never;
const all =
  <U>() =>
  <T extends readonly U[]>(t: AllOf<U, T>) =>
    t;

const FIELDS: { [N in RecordName]: KeysOf<RecordTypes[N]> } = {
  MeterProfile: {
    meter_id: true,
    idpel: true,
    kdpm: true,
    phases: true,
    tariff: true,
    daya_va: true,
    gardu_id: true,
    feeder_id: true,
    ulp: true,
    region: true,
    timezone: true,
    installed_at: true,
  } satisfies KeysOf<MeterProfile>,
  MeterRead: {
    meter_id: true,
    gardu_id: true,
    read_at: true,
    interval_s: true,
    energy_import_wh: true,
    demand_w: true,
    voltage_v: true,
    relay: true,
    power_limit_va: true,
    kind: true,
  } satisfies KeysOf<MeterRead>,
  MeterEvent: {
    event_id: true,
    meter_id: true,
    gardu_id: true,
    occurred_at: true,
    type: true,
    relay: true,
    cause: true,
    power_limit_va: true,
  } satisfies KeysOf<MeterEvent>,
  MeterCommand: {
    command_id: true,
    meter_id: true,
    issued_at: true,
    type: true,
    power_limit_va: true,
    issued_by: true,
    reason: true,
  } satisfies KeysOf<MeterCommand>,
  Outage: {
    outage_id: true,
    scope: true,
    status: true,
    region: true,
    ulp: true,
    feeder_id: true,
    gardu_id: true,
    meter_ids: true,
    parent_outage_id: true,
    started_at: true,
    confirmed_at: true,
    restored_at: true,
    customers_affected: true,
    customers_total: true,
    last_gasps: true,
    tusbung_excluded: true,
    customers_interrupted: true,
    customer_interruption_s: true,
    emitted_at: true,
  } satisfies KeysOf<Outage>,
  MeterStatus: {
    meter_id: true,
    gardu_id: true,
    state: true,
    relay: true,
    since: true,
    outage_id: true,
  } satisfies KeysOf<MeterStatus>,
  CommandResult: {
    command_id: true,
    meter_id: true,
    type: true,
    status: true,
    reason: true,
    decided_at: true,
    event_id: true,
    answered_in_ms: true,
    read_at: true,
    energy_import_wh: true,
    voltage_v: true,
    relay: true,
  } satisfies KeysOf<CommandResult>,
  CallRecord: {
    call_id: true,
    idpel: true,
    meter_id: true,
    region: true,
    ulp: true,
    gardu_id: true,
    keyword: true,
    complaint_type: true,
    complaint_subtype: true,
    outcome: true,
    status: true,
    ptl: true,
    agent: true,
    called_at: true,
    notes: true,
    action: true,
    actor: true,
    actor_role: true,
    updated_at: true,
    resolution: true,
  } satisfies KeysOf<CallRecord>,
  SuspectedOutage: {
    outage_id: true,
    scope: true,
    status: true,
    region: true,
    ulp: true,
    feeder_id: true,
    gardu_id: true,
    meter_ids: true,
    started_at: true,
    last_gasps: true,
    customers_total: true,
    evidence_logged_at: true,
    pings_sent: true,
    pings_answered: true,
    pings_silent: true,
    reason: true,
    confirmed_outage_id: true,
    emitted_at: true,
  } satisfies KeysOf<SuspectedOutage>,
};

/** Every enum of the schemas, by Avro name, with the TypeScript union it must equal. */
const ENUMS: Record<string, readonly string[]> = {
  'id.co.pln.ami.Kdpm': all<Kdpm>()(['L', 'R', 'S', 'F', 'A'] as const),
  'id.co.pln.ami.RelayState': all<RelayState>()(['CLOSED', 'OPEN'] as const),
  'id.co.pln.ami.ReadKind': all<ReadKind>()(['INTERVAL', 'ON_DEMAND'] as const),
  'id.co.pln.ami.MeterEventType': all<MeterEventType>()([
    'LAST_GASP',
    'POWER_RESTORE',
    'RELAY_OPENED',
    'RELAY_CLOSED',
    'RECONNECT_ENABLED',
    'POWER_LIMIT_CHANGED',
  ] as const),
  'id.co.pln.ami.EventCause': all<EventCause>()([
    'NONE',
    'REMOTE_DISCONNECT',
    'REMOTE_CONNECT',
    'BUTTON',
    'POWER_LIMIT_TRIP',
  ] as const),
  'id.co.pln.ami.MeterCommandType': all<MeterCommandType>()([
    'DISCONNECT',
    'ENABLE_RECONNECT',
    'SET_POWER_LIMIT',
    'READ_NOW',
  ] as const),
  'id.co.pln.ami.OutageScope': all<OutageScope>()(['METER', 'GARDU', 'FEEDER'] as const),
  'id.co.pln.ami.OutageStatus': all<OutageStatus>()(['OPEN', 'UPDATED', 'RESTORED'] as const),
  'id.co.pln.ami.SuspectedScope': all<SuspectedScope>()(['METER', 'GARDU', 'FEEDER'] as const),
  'id.co.pln.ami.SuspicionStatus': all<SuspicionStatus>()([
    'SUSPECTED',
    'VERIFIED',
    'CONFIRMED',
    'CANCELLED',
  ] as const),
  'id.co.pln.ami.MeterState': all<MeterState>()([
    'ENERGIZED',
    'OUTAGE',
    'DISCONNECTED',
    'RECONNECT_ENABLED',
    'POWER_LIMIT_TRIP',
    'UNKNOWN',
  ] as const),
  'id.co.pln.ami.CommandStatus': all<CommandStatus>()(['ACCEPTED', 'REFUSED'] as const),
  'id.co.pln.ami.CallOutcome': all<CallOutcome>()(['ISSUE_CLOSED', 'FORWARDED_TO_UNIT'] as const),
  'id.co.pln.ami.ComplaintStatus': all<ComplaintStatus>()([
    'ISSUE_CLOSED',
    'OPEN',
    'IN_PROGRESS',
    'CLOSED',
  ] as const),
  'id.co.pln.ami.CallAction': all<CallAction>()(['LOGGED', 'WORK_STARTED', 'CLOSED'] as const),
};

const T = Date.UTC(2026, 10, 21, 1, 0);
const SAMPLES: { [N in RecordName]: RecordTypes[N] } = {
  MeterProfile: {
    meter_id: 'M00000001',
    idpel: '560100000001',
    kdpm: 'R',
    phases: 1,
    tariff: 'R-1',
    daya_va: 900,
    gardu_id: 'G1',
    feeder_id: 'F1',
    ulp: 'DENPASAR',
    region: 'BALI',
    timezone: 'Asia/Makassar',
    installed_at: T,
  },
  MeterRead: {
    meter_id: 'M1',
    gardu_id: 'G1',
    read_at: T,
    interval_s: 900,
    energy_import_wh: 1_234_567,
    demand_w: 350,
    voltage_v: 221.5,
    relay: 'CLOSED',
    power_limit_va: 900,
    kind: 'INTERVAL',
  },
  MeterEvent: {
    event_id: 'e1',
    meter_id: 'M1',
    gardu_id: 'G1',
    occurred_at: T,
    type: 'LAST_GASP',
    relay: 'CLOSED',
    cause: 'NONE',
    power_limit_va: null,
  },
  MeterCommand: {
    command_id: 'c1',
    meter_id: 'M1',
    issued_at: T,
    type: 'SET_POWER_LIMIT',
    power_limit_va: 450,
    issued_by: 'op',
    reason: null,
  },
  Outage: {
    outage_id: 'o1',
    scope: 'GARDU',
    status: 'OPEN',
    region: 'BALI',
    ulp: 'DENPASAR',
    feeder_id: 'F1',
    gardu_id: 'G1',
    meter_ids: [],
    parent_outage_id: null,
    started_at: T,
    confirmed_at: T,
    restored_at: null,
    customers_affected: 10,
    customers_total: 12,
    last_gasps: 7,
    tusbung_excluded: 2,
    customers_interrupted: 0,
    customer_interruption_s: 0,
    emitted_at: T,
  },
  MeterStatus: {
    meter_id: 'M1',
    gardu_id: 'G1',
    state: 'DISCONNECTED',
    relay: 'OPEN',
    since: T,
    outage_id: null,
  },
  CommandResult: {
    command_id: 'c1',
    meter_id: 'M1',
    type: 'READ_NOW',
    status: 'ACCEPTED',
    reason: null,
    decided_at: T,
    event_id: null,
    answered_in_ms: 4200,
    read_at: T,
    energy_import_wh: 12_345_678,
    voltage_v: 221.5,
    relay: 'CLOSED',
  },
  CallRecord: {
    call_id: 'call-1',
    idpel: '560100000001',
    meter_id: 'M1',
    region: 'BALI',
    ulp: 'DENPASAR',
    gardu_id: 'G1',
    keyword: 'KWH METER AMI',
    complaint_type: 'INFORMASI',
    complaint_subtype: 'PROGRAM_AMI',
    outcome: 'FORWARDED_TO_UNIT',
    status: 'OPEN',
    ptl: true,
    agent: 'sri',
    called_at: T,
    notes: 'minta petugas datang',
    action: 'LOGGED',
    actor: 'sri',
    actor_role: 'agent',
    updated_at: T,
    resolution: null,
  },
  SuspectedOutage: {
    outage_id: 'GARDU-G1-1',
    scope: 'GARDU',
    status: 'CONFIRMED',
    region: 'BALI',
    ulp: 'DENPASAR',
    feeder_id: 'F1',
    gardu_id: 'G1',
    meter_ids: [],
    started_at: T,
    last_gasps: 40,
    customers_total: 133,
    evidence_logged_at: T,
    pings_sent: 0,
    pings_answered: 0,
    pings_silent: 0,
    reason: null,
    confirmed_outage_id: 'GARDU-G1-1',
    emitted_at: T,
  },
};

function enumsOf(type: avro.Type, out = new Map<string, string[]>()): Map<string, string[]> {
  const t = type as unknown as {
    typeName: string;
    name?: string;
    symbols?: string[];
    fields?: { type: avro.Type }[];
    types?: avro.Type[];
    itemsType?: avro.Type;
  };
  if (t.typeName === 'enum' && t.name) out.set(t.name, t.symbols!);
  t.fields?.forEach((f) => enumsOf(f.type, out));
  t.types?.forEach((u) => enumsOf(u, out));
  if (t.itemsType) enumsOf(t.itemsType, out);
  return out;
}

describe('records.ts matches schemas/*.avsc', () => {
  it('covers every schema', () => {
    expect([...RECORD_NAMES].sort()).toEqual(Object.keys(FIELDS).sort());
  });

  for (const name of RECORD_NAMES) {
    it(`${name}: same fields, and a full sample is valid`, () => {
      const type = avroType(name) as avro.types.RecordType;
      expect(type.fields.map((f) => f.name).sort()).toEqual(Object.keys(FIELDS[name]).sort());
      const bad: string[] = [];
      const ok = type.isValid(SAMPLES[name], {
        errorHook: (path, v) => bad.push(`${path.join('.')}=${JSON.stringify(v)}`),
      });
      expect(bad).toEqual([]);
      expect(ok).toBe(true);
    });
  }

  it('every enum has exactly the symbols of its TypeScript union', () => {
    const found = new Map<string, string[]>();
    for (const name of RECORD_NAMES) enumsOf(avroType(name), found);
    expect([...found.keys()].sort()).toEqual(Object.keys(ENUMS).sort());
    for (const [n, symbols] of found) expect(symbols, n).toEqual([...ENUMS[n]!]);
  });

  it('every field added beyond the contract floor has a default', () => {
    const extras: Partial<Record<RecordName, string[]>> = {
      MeterRead: ['kind'],
      MeterEvent: ['cause', 'power_limit_va'],
      MeterCommand: ['power_limit_va', 'reason'],
      Outage: ['parent_outage_id'],
    };
    for (const [name, fields] of Object.entries(extras) as [RecordName, string[]][]) {
      const type = avroType(name) as avro.types.RecordType;
      for (const f of fields)
        expect(type.fields.find((x) => x.name === f)?.defaultValue(), `${name}.${f}`).not.toBeUndefined();
    }
  });
});
