import type { CommandResult, MeterCommand, MeterEvent, MeterProfile, MeterRead, RelayState } from '@ami/lib';

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
  | 'RECONNECT_ALREADY_ENABLED';

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

export function decide(
  cmd: MeterCommand,
  profile: MeterProfile | undefined,
  state: MeterState | undefined,
  now: number,
): Decision {
  if (!profile) return refuse(cmd, 'UNKNOWN_METER', `meter ${cmd.meter_id} is not in the meters table`, now);
  if (profile.kdpm === 'A')
    return refuse(
      cmd,
      'AMR_METER',
      `meter ${cmd.meter_id} is AMR (KDPM A): remote read only, no two-way control through the AMI head-end`,
      now,
    );
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
      return accept(cmd, now, s, undefined, onDemandRead(profile, s, now));
  }
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
