import type { CommandResult, MeterCommand, MeterEvent, MeterProfile, MeterRead, RelayState } from '@ami/lib';
import { concentratorOf, mediumOf, secondsText, type Medium } from './media.js';

/**
 * The head-end's decisions, as pure functions: how a meter answers a command.
 * The Kafka edge (headendService.ts) feeds commands and the meters table in
 * and publishes what comes out. Nothing is dropped: every command gets a
 * CommandResult, ACCEPTED or REFUSED with a reason code and a sentence.
 */

/** What the head-end knows of one meter. */
export interface MeterState {
  relay: RelayState;
  /** Relay OPEN by remote disconnect with reconnect enabled: the button closes it. */
  reconnectEnabled: boolean;
  powerLimitVa: number;
}

/** Smallest power limit the meters accept (the smallest contracted power). */
export const MIN_POWER_LIMIT_VA = 450;

export type RefusalCode =
  | 'UNKNOWN_METER'
  | 'AMR_METER'
  | 'INVALID_POWER_LIMIT'
  | 'RELAY_ALREADY_OPEN'
  | 'RELAY_NOT_DISCONNECTED'
  | 'RECONNECT_ALREADY_ENABLED'
  /** The meter did not answer within its medium's time-out (dark, or the exchange was lost). */
  | 'NO_ANSWER'
  /** The PLC concentrator's pings in flight and queue are full. */
  | 'CONCENTRATOR_BUSY'
  /** The head-end stopped before the meter answered: nothing is known, send it again. */
  | 'HEADEND_STOPPED'
  /** A command other than READ_NOW on the pings topic: never sent to the meter. */
  | 'NOT_A_PING';

/**
 * The topic a command came on: `commands` (the audited command API) or `pings` (machine pings,
 * READ_NOW only; services/detector). Kafka ACLs cannot restrict a producer to one command type and
 * `issued_by` is the producer's own word, so the topic is what tells what a command may do.
 */
export type CommandChannel = 'commands' | 'pings';

export interface Decision {
  result: CommandResult;
  state?: MeterState;
  event?: MeterEvent;
  read?: MeterRead;
  /** After ENABLE_RECONNECT: the relay closes on a button press (the edge schedules it). */
  awaitButton?: boolean;
}

export function initialState(p: MeterProfile): MeterState {
  return { relay: 'CLOSED', reconnectEnabled: false, powerLimitVa: p.daya_va };
}

/** The READ_NOW answer fields of a CommandResult, all null: what every result but an answered ping carries. */
const NO_READ = {
  answered_in_ms: null,
  read_at: null,
  energy_import_wh: null,
  voltage_v: null,
  relay: null,
} as const;

function refuse(cmd: MeterCommand, code: RefusalCode, sentence: string, now: number): Decision {
  return {
    result: {
      command_id: cmd.command_id,
      meter_id: cmd.meter_id,
      type: cmd.type,
      status: 'REFUSED',
      reason: `${code}: ${sentence}`,
      decided_at: now,
      event_id: null,
      ...NO_READ,
    },
  };
}

function accept(
  cmd: MeterCommand,
  now: number,
  state: MeterState,
  event?: MeterEvent,
  read?: MeterRead,
): Decision {
  return {
    result: {
      command_id: cmd.command_id,
      meter_id: cmd.meter_id,
      type: cmd.type,
      status: 'ACCEPTED',
      reason: null,
      decided_at: now,
      event_id: event?.event_id ?? null,
      ...NO_READ,
    },
    state,
    event,
    read,
  };
}

function event(
  p: MeterProfile,
  id: string,
  now: number,
  type: MeterEvent['type'],
  relay: RelayState,
  cause: MeterEvent['cause'],
  limit: number | null = null,
): MeterEvent {
  return {
    event_id: id,
    meter_id: p.meter_id,
    gardu_id: p.gardu_id,
    occurred_at: now,
    type,
    relay,
    cause,
    power_limit_va: limit,
  };
}

/**
 * A register estimate for an on-demand read: the head-end does not run the
 * simulation, so it assumes a mean load of 30% of the contracted power since
 * installation. Non-decreasing in time.
 */
export function registerEstimateWh(p: MeterProfile, now: number): number {
  return Math.max(0, Math.floor(((now - p.installed_at) / 3_600_000) * p.daya_va * 0.3));
}

/** Refusals decided at once, before any exchange with the meter: unknown meter, AMR meter. */
function refuseOutright(
  cmd: MeterCommand,
  profile: MeterProfile | undefined,
  now: number,
): Decision | undefined {
  if (!profile) return refuse(cmd, 'UNKNOWN_METER', `meter ${cmd.meter_id} is not in the meters table`, now);
  if (profile.kdpm === 'A')
    return refuse(
      cmd,
      'AMR_METER',
      `meter ${cmd.meter_id} is AMR (KDPM A): remote read only, no two-way control through the AMI head-end`,
      now,
    );
  return undefined;
}

/**
 * A command the pings topic may not carry (anything but READ_NOW): REFUSED NOT_A_PING, before any
 * look at the meter, so it changes nothing, whoever `issued_by` claims to be.
 */
export function refuseOffChannel(
  cmd: MeterCommand,
  channel: CommandChannel,
  now: number,
): Decision | undefined {
  if (channel !== 'pings' || cmd.type === 'READ_NOW') return undefined;
  return refuse(
    cmd,
    'NOT_A_PING',
    `the pings topic carries READ_NOW only; ${cmd.type} from "${cmd.issued_by}" not sent to meter ${cmd.meter_id} (control commands go through the audited command API)`,
    now,
  );
}

/** How the head-end handles a command that just reached it. */
export type Route =
  /** Decided at once: a refusal, or a control command to a powered meter (today's semantics). */
  | { kind: 'decided'; decision: Decision }
  /** READ_NOW: an exchange over the meter's medium (through its concentrator, if PLC); answered later or never. */
  | { kind: 'ping'; medium: Medium; concentrator?: string }
  /** A control command to a dark meter: it cannot hear it; NO_ANSWER after the medium's time-out, nothing changes. */
  | { kind: 'unreachable'; medium: Medium };

/**
 * Where a command goes. `dark`: the meter is without supply now (the simulated
 * physical world, never the events topic: last gasps get lost). `channel`: the
 * topic it came on (a control command on the pings topic is refused).
 */
export function route(
  cmd: MeterCommand,
  profile: MeterProfile | undefined,
  state: MeterState | undefined,
  now: number,
  dark: boolean,
  channel: CommandChannel = 'commands',
): Route {
  const refused = refuseOffChannel(cmd, channel, now) ?? refuseOutright(cmd, profile, now);
  if (refused || !profile) return { kind: 'decided', decision: refused! };
  const medium = mediumOf(profile.kdpm)!;
  if (cmd.type === 'READ_NOW') return { kind: 'ping', medium, concentrator: concentratorOf(profile) };
  if (dark) return { kind: 'unreachable', medium };
  return { kind: 'decided', decision: decide(cmd, profile, state, now) };
}

/**
 * What a reachable, powered meter does with a command, at once (READ_NOW
 * answered with no latency: the edge uses `answerPing` after the medium's).
 */
export function decide(
  cmd: MeterCommand,
  profile: MeterProfile | undefined,
  state: MeterState | undefined,
  now: number,
): Decision {
  const refused = refuseOutright(cmd, profile, now);
  if (refused || !profile) return refused!;
  const s = state ?? initialState(profile);
  const id = (type: string) => `${cmd.command_id}:${type}`;
  switch (cmd.type) {
    case 'DISCONNECT':
      if (s.relay === 'OPEN')
        return refuse(cmd, 'RELAY_ALREADY_OPEN', `the relay of ${cmd.meter_id} is already open`, now);
      return accept(
        cmd,
        now,
        { ...s, relay: 'OPEN', reconnectEnabled: false },
        event(profile, id('RELAY_OPENED'), now, 'RELAY_OPENED', 'OPEN', 'REMOTE_DISCONNECT'),
      );
    case 'ENABLE_RECONNECT':
      if (s.relay === 'CLOSED')
        return refuse(
          cmd,
          'RELAY_NOT_DISCONNECTED',
          `the relay of ${cmd.meter_id} is closed: nothing to reconnect`,
          now,
        );
      if (s.reconnectEnabled)
        return refuse(
          cmd,
          'RECONNECT_ALREADY_ENABLED',
          `reconnect is already enabled on ${cmd.meter_id}, waiting for the button`,
          now,
        );
      return {
        ...accept(
          cmd,
          now,
          { ...s, reconnectEnabled: true },
          event(profile, id('RECONNECT_ENABLED'), now, 'RECONNECT_ENABLED', 'OPEN', 'REMOTE_CONNECT'),
        ),
        awaitButton: true,
      };
    case 'SET_POWER_LIMIT': {
      const va = cmd.power_limit_va;
      if (va === null || !Number.isInteger(va) || va < MIN_POWER_LIMIT_VA || va > profile.daya_va) {
        return refuse(
          cmd,
          'INVALID_POWER_LIMIT',
          `power limit must be an integer from ${MIN_POWER_LIMIT_VA} VA to the contracted ${profile.daya_va} VA, got ${va}`,
          now,
        );
      }
      return accept(
        cmd,
        now,
        { ...s, powerLimitVa: va },
        event(profile, id('POWER_LIMIT_CHANGED'), now, 'POWER_LIMIT_CHANGED', s.relay, 'NONE', va),
      );
    }
    case 'READ_NOW':
      return answerPing(cmd, profile, s, now, now);
  }
}

/**
 * A powered meter answers a ping: the ON_DEMAND read, and the same values in
 * the result. `receivedAt`: when the command reached the head-end, so
 * `answered_in_ms` counts the concentrator's queue and the medium's latency.
 */
export function answerPing(
  cmd: MeterCommand,
  profile: MeterProfile,
  state: MeterState | undefined,
  receivedAt: number,
  now: number,
): Decision {
  const s = state ?? initialState(profile);
  const read = onDemandRead(profile, s, now);
  const d = accept(cmd, now, s, undefined, read);
  return {
    ...d,
    result: {
      ...d.result,
      answered_in_ms: now - receivedAt,
      read_at: read.read_at,
      energy_import_wh: read.energy_import_wh,
      voltage_v: read.voltage_v,
      relay: read.relay,
    },
  };
}

/** Where a command travels, for sentences: "over PLC through the data concentrator DCU-G1". */
function over(medium: Medium, concentrator: string | undefined): string {
  return `over ${medium.name}${concentrator ? ` ${concentrator}` : ''}`;
}

/**
 * The meter never answered within the medium's time-out (it is without supply,
 * or the exchange was lost): REFUSED NO_ANSWER, no read, no state change.
 */
export function noAnswer(
  cmd: MeterCommand,
  profile: MeterProfile,
  medium: Medium,
  timeoutMs: number,
  now: number,
): Decision {
  const what = cmd.type === 'READ_NOW' ? '' : ` the ${cmd.type} (nothing changed on the meter)`;
  return refuse(
    cmd,
    'NO_ANSWER',
    `meter ${cmd.meter_id} did not answer${what} within ${secondsText(timeoutMs)} ${over(medium, concentratorOf(profile))}`,
    now,
  );
}

// ------------------------------------------------------------ the ping's course

/** The next thing that happens to a ping in flight, `afterMs` from now. */
export interface PingStep {
  answer: boolean;
  afterMs: number;
}

/**
 * On sending: a powered meter whose exchange is not lost answers after the
 * latency; otherwise the head-end waits out the time-out.
 */
export function pingOnSend(
  draw: { latencyMs: number; timeoutMs: number; lost: boolean },
  darkNow: boolean,
): PingStep {
  return draw.lost || darkNow
    ? { answer: false, afterMs: draw.timeoutMs }
    : { answer: true, afterMs: draw.latencyMs };
}

/**
 * When the answer is due: a meter that lost supply meanwhile says nothing
 * (the head-end waits out the rest of the time-out); otherwise it answers now.
 */
export function pingOnAnswerDue(draw: { latencyMs: number; timeoutMs: number }, darkNow: boolean): PingStep {
  return darkNow
    ? { answer: false, afterMs: Math.max(0, draw.timeoutMs - draw.latencyMs) }
    : { answer: true, afterMs: 0 };
}

// ------------------------------------------------------------ the concentrator

export interface ConcentratorLimits {
  /** Pings a concentrator has in flight at once. */
  inFlight: number;
  /** Pings waiting for a free slot. */
  queue: number;
}

/** One concentrator's load: pings in flight and those waiting (oldest first). Plain data. */
export interface ConcentratorLoad<T> {
  inFlight: number;
  queue: readonly T[];
}

export const IDLE: ConcentratorLoad<never> = { inFlight: 0, queue: [] };

export type Admission<T> =
  | { admitted: 'SEND'; load: ConcentratorLoad<T> }
  | { admitted: 'QUEUE'; load: ConcentratorLoad<T> }
  | { admitted: 'BUSY'; load: ConcentratorLoad<T> };

/** A new ping at a concentrator: sent now if a slot is free, else queued if there is room, else busy. */
export function admit<T>(load: ConcentratorLoad<T>, item: T, limits: ConcentratorLimits): Admission<T> {
  if (load.inFlight < limits.inFlight)
    return { admitted: 'SEND', load: { ...load, inFlight: load.inFlight + 1 } };
  if (load.queue.length < limits.queue)
    return { admitted: 'QUEUE', load: { ...load, queue: [...load.queue, item] } };
  return { admitted: 'BUSY', load };
}

/** A ping in flight finished (answered or timed out): the oldest queued one takes its slot. */
export function release<T>(load: ConcentratorLoad<T>): { load: ConcentratorLoad<T>; next?: T } {
  const [next, ...rest] = load.queue;
  if (next !== undefined) return { load: { inFlight: load.inFlight, queue: rest }, next };
  return { load: { inFlight: Math.max(0, load.inFlight - 1), queue: [] } };
}

/** REFUSED CONCENTRATOR_BUSY: the ping never left the head-end. */
export function concentratorBusy(
  cmd: MeterCommand,
  concentrator: string,
  limits: ConcentratorLimits,
  now: number,
): Decision {
  return refuse(
    cmd,
    'CONCENTRATOR_BUSY',
    `concentrator ${concentrator} has ${limits.inFlight} pings in flight and ${limits.queue} queued; try again later`,
    now,
  );
}

/** The head-end stopped with the command unanswered: REFUSED HEADEND_STOPPED (nothing is known about the meter). */
export function stoppedBeforeAnswer(cmd: MeterCommand, now: number): Decision {
  return refuse(
    cmd,
    'HEADEND_STOPPED',
    `the head-end stopped before meter ${cmd.meter_id} answered; nothing is known, send the command again`,
    now,
  );
}

function onDemandRead(p: MeterProfile, s: MeterState, now: number): MeterRead {
  const demand = s.relay === 'OPEN' ? 0 : Math.min(Math.round(p.daya_va * 0.3), s.powerLimitVa);
  return {
    meter_id: p.meter_id,
    gardu_id: p.gardu_id,
    read_at: now,
    interval_s: 0,
    energy_import_wh: registerEstimateWh(p, now),
    demand_w: demand,
    voltage_v: 220,
    relay: s.relay,
    power_limit_va: s.powerLimitVa,
    kind: 'ON_DEMAND',
  };
}

/** The customer presses the buttons: closes a relay whose reconnect is enabled, else nothing. */
export function pressButton(
  profile: MeterProfile,
  s: MeterState,
  commandId: string,
  now: number,
): { state: MeterState; event: MeterEvent } | undefined {
  if (s.relay !== 'OPEN' || !s.reconnectEnabled) return undefined;
  return {
    state: { ...s, relay: 'CLOSED', reconnectEnabled: false },
    event: event(profile, `${commandId}:RELAY_CLOSED`, now, 'RELAY_CLOSED', 'CLOSED', 'BUTTON'),
  };
}
