import { describe, expect, it } from 'vitest';
import type { MeterCommand, MeterProfile } from '@ami/lib';
import {
  admit,
  answerPing,
  concentratorBusy,
  decide,
  IDLE,
  initialState,
  noAnswer,
  pingOnAnswerDue,
  pingOnSend,
  pressButton,
  registerEstimateWh,
  release,
  route,
  type ConcentratorLoad,
} from '../src/headend.js';
import { MEDIA } from '../src/media.js';

const NOW = Date.UTC(2026, 10, 21, 2);
const profile: MeterProfile = {
  meter_id: 'M1',
  idpel: '560100000001',
  kdpm: 'R',
  phases: 1,
  tariff: 'R-1',
  daya_va: 2200,
  gardu_id: 'G1',
  feeder_id: 'F1',
  ulp: 'DENPASAR',
  region: 'BALI',
  timezone: 'Asia/Makassar',
  installed_at: Date.UTC(2024, 0, 1),
};
const cmd = (type: MeterCommand['type'], extra: Partial<MeterCommand> = {}): MeterCommand => ({
  command_id: `c-${type}`,
  meter_id: 'M1',
  issued_at: NOW,
  type,
  power_limit_va: null,
  issued_by: 'ulp-officer',
  reason: null,
  ...extra,
});

describe('head-end decisions', () => {
  it('DISCONNECT opens the relay (REMOTE_DISCONNECT); the meter stays powered', () => {
    const d = decide(cmd('DISCONNECT'), profile, undefined, NOW);
    expect(d.result).toMatchObject({
      status: 'ACCEPTED',
      reason: null,
      event_id: 'c-DISCONNECT:RELAY_OPENED',
    });
    expect(d.event).toMatchObject({
      type: 'RELAY_OPENED',
      cause: 'REMOTE_DISCONNECT',
      relay: 'OPEN',
      gardu_id: 'G1',
    });
    expect(d.state).toEqual({ relay: 'OPEN', reconnectEnabled: false, powerLimitVa: 2200 });
  });

  it('ENABLE_RECONNECT keeps the relay open until the button; the button closes it (BUTTON)', () => {
    const open = decide(cmd('DISCONNECT'), profile, undefined, NOW).state!;
    const d = decide(cmd('ENABLE_RECONNECT'), profile, open, NOW);
    expect(d.event).toMatchObject({ type: 'RECONNECT_ENABLED', relay: 'OPEN', cause: 'REMOTE_CONNECT' });
    expect(d.awaitButton).toBe(true);
    const pressed = pressButton(profile, d.state!, 'c-ENABLE_RECONNECT', NOW + 5000)!;
    expect(pressed.event).toMatchObject({
      type: 'RELAY_CLOSED',
      cause: 'BUTTON',
      relay: 'CLOSED',
      occurred_at: NOW + 5000,
    });
    expect(pressed.state.relay).toBe('CLOSED');
    expect(pressButton(profile, open, 'x', NOW)).toBeUndefined(); // not enabled: the button does nothing
  });

  it('SET_POWER_LIMIT emits POWER_LIMIT_CHANGED; invalid values are refused with a reason', () => {
    const d = decide(cmd('SET_POWER_LIMIT', { power_limit_va: 900 }), profile, undefined, NOW);
    expect(d.event).toMatchObject({ type: 'POWER_LIMIT_CHANGED', power_limit_va: 900, relay: 'CLOSED' });
    expect(d.state?.powerLimitVa).toBe(900);
    for (const va of [null, 100, 5000, 900.5]) {
      const r = decide(cmd('SET_POWER_LIMIT', { power_limit_va: va }), profile, undefined, NOW);
      expect(r.result.status).toBe('REFUSED');
      expect(r.result.reason).toMatch(/^INVALID_POWER_LIMIT: /);
      expect(r.event).toBeUndefined();
    }
  });

  it('READ_NOW answers with an ON_DEMAND read', () => {
    const d = decide(
      cmd('READ_NOW'),
      profile,
      { relay: 'OPEN', reconnectEnabled: false, powerLimitVa: 1300 },
      NOW,
    );
    expect(d.read).toMatchObject({
      kind: 'ON_DEMAND',
      relay: 'OPEN',
      demand_w: 0,
      power_limit_va: 1300,
      read_at: NOW,
      meter_id: 'M1',
      gardu_id: 'G1',
    });
    expect(d.read!.energy_import_wh).toBe(registerEstimateWh(profile, NOW));
    expect(registerEstimateWh(profile, NOW + 3_600_000)).toBeGreaterThan(registerEstimateWh(profile, NOW));
  });

  it('refuses unknown meters, AMR meters and impossible relay transitions, always with a reason', () => {
    expect(decide(cmd('DISCONNECT'), undefined, undefined, NOW).result).toMatchObject({
      status: 'REFUSED',
      reason: expect.stringMatching(/^UNKNOWN_METER: /),
    });
    for (const t of ['DISCONNECT', 'ENABLE_RECONNECT', 'SET_POWER_LIMIT', 'READ_NOW'] as const) {
      expect(decide(cmd(t), { ...profile, kdpm: 'A' }, undefined, NOW).result.reason).toMatch(
        /^AMR_METER: .*KDPM A/,
      );
    }
    expect(decide(cmd('ENABLE_RECONNECT'), profile, initialState(profile), NOW).result.reason).toMatch(
      /^RELAY_NOT_DISCONNECTED/,
    );
    const open = { relay: 'OPEN' as const, reconnectEnabled: false, powerLimitVa: 2200 };
    expect(decide(cmd('DISCONNECT'), profile, open, NOW).result.reason).toMatch(/^RELAY_ALREADY_OPEN/);
    expect(
      decide(cmd('ENABLE_RECONNECT'), profile, { ...open, reconnectEnabled: true }, NOW).result.reason,
    ).toMatch(/^RECONNECT_ALREADY_ENABLED/);
  });
});

describe('head-end: pings and meters out of reach', () => {
  const plc = { ...profile, kdpm: 'L' as const };

  it('READ_NOW is an exchange over the medium; PLC through the gardu concentrator', () => {
    expect(route(cmd('READ_NOW'), plc, undefined, NOW, false)).toEqual({
      kind: 'ping',
      medium: MEDIA.L,
      concentrator: 'DCU-G1',
    });
    expect(route(cmd('READ_NOW'), profile, undefined, NOW, true)).toEqual({
      kind: 'ping',
      medium: MEDIA.R,
      concentrator: undefined,
    });
    // Refusals stay immediate, dark or not.
    const amr = route(cmd('READ_NOW'), { ...profile, kdpm: 'A' }, undefined, NOW, true);
    expect(amr.kind === 'decided' && amr.decision.result.reason).toMatch(/^AMR_METER/);
    const unknown = route(cmd('DISCONNECT'), undefined, undefined, NOW, false);
    expect(unknown.kind === 'decided' && unknown.decision.result.reason).toMatch(/^UNKNOWN_METER/);
  });

  it('a control command on the pings topic is refused NOT_A_PING and never reaches the meter', () => {
    const closed = initialState(plc);
    for (const type of ['DISCONNECT', 'ENABLE_RECONNECT', 'SET_POWER_LIMIT'] as const) {
      const forged = cmd(type, {
        issued_by: 'detector',
        power_limit_va: type === 'SET_POWER_LIMIT' ? 900 : null,
      });
      // Powered or dark, known meter or not: the channel is checked before anything else.
      for (const [p, dark] of [
        [plc, false],
        [plc, true],
        [undefined, false],
      ] as const) {
        const r = route(forged, p, closed, NOW, dark, 'pings');
        expect(r.kind).toBe('decided');
        const d = r.kind === 'decided' ? r.decision : undefined;
        expect(d?.result).toMatchObject({
          command_id: `c-${type}`,
          meter_id: 'M1',
          type,
          status: 'REFUSED',
          event_id: null,
          decided_at: NOW,
        });
        expect(d?.result.reason).toBe(
          `NOT_A_PING: the pings topic carries READ_NOW only; ${type} from "detector" not sent to meter M1 (control commands go through the audited command API)`,
        );
        expect(d?.state).toBeUndefined();
        expect(d?.event).toBeUndefined();
        expect(d?.read).toBeUndefined();
      }
    }
    // A ping on the pings topic is a ping; the same DISCONNECT on the commands topic is acted on.
    expect(route(cmd('READ_NOW'), plc, closed, NOW, false, 'pings')).toEqual({
      kind: 'ping',
      medium: MEDIA.L,
      concentrator: 'DCU-G1',
    });
    const onCommands = route(cmd('DISCONNECT'), plc, closed, NOW, false, 'commands');
    expect(onCommands.kind === 'decided' && onCommands.decision.state?.relay).toBe('OPEN');
  });

  it('a DISCONNECT to a dark meter cannot reach it: NO_ANSWER after the time-out, the relay stays as it was', () => {
    const r = route(cmd('DISCONNECT'), plc, initialState(plc), NOW, true);
    expect(r).toEqual({ kind: 'unreachable', medium: MEDIA.L });
    const d = noAnswer(cmd('DISCONNECT'), plc, MEDIA.L, 40_000, NOW + 40_000);
    expect(d.result).toMatchObject({ status: 'REFUSED', decided_at: NOW + 40_000, event_id: null });
    expect(d.result.reason).toBe(
      'NO_ANSWER: meter M1 did not answer the DISCONNECT (nothing changed on the meter) within 40 s over PLC through the data concentrator DCU-G1',
    );
    expect(d.state).toBeUndefined();
    expect(d.event).toBeUndefined();
    // Powered, the same command is decided at once as before.
    const powered = route(cmd('DISCONNECT'), plc, initialState(plc), NOW, false);
    expect(powered.kind === 'decided' && powered.decision.state?.relay).toBe('OPEN');
  });

  it('a ping that is not answered: REFUSED NO_ANSWER naming the medium and time-out, no read', () => {
    const d = noAnswer(cmd('READ_NOW'), profile, MEDIA.R, 20_000, NOW);
    expect(d.result).toMatchObject({
      status: 'REFUSED',
      answered_in_ms: null,
      read_at: null,
      voltage_v: null,
    });
    expect(d.result.reason).toBe('NO_ANSWER: meter M1 did not answer within 20 s over RF mesh');
    expect(d.read).toBeUndefined();
  });

  it('an answered ping carries the read in the result: answered_in_ms, read_at, register, voltage, relay', () => {
    const s = { relay: 'OPEN' as const, reconnectEnabled: false, powerLimitVa: 900 };
    const d = answerPing(cmd('READ_NOW'), plc, s, NOW, NOW + 12_345);
    expect(d.read).toMatchObject({ kind: 'ON_DEMAND', read_at: NOW + 12_345, relay: 'OPEN' });
    expect(d.result).toEqual({
      command_id: 'c-READ_NOW',
      meter_id: 'M1',
      type: 'READ_NOW',
      status: 'ACCEPTED',
      reason: null,
      decided_at: NOW + 12_345,
      event_id: null,
      answered_in_ms: 12_345,
      read_at: d.read!.read_at,
      energy_import_wh: d.read!.energy_import_wh,
      voltage_v: d.read!.voltage_v,
      relay: 'OPEN',
    });
    expect(d.state).toEqual(s);
  });

  it('a ping is answered only by a powered meter whose exchange is not lost', () => {
    const draw = { latencyMs: 5_000, timeoutMs: 40_000, lost: false };
    expect(pingOnSend(draw, false)).toEqual({ answer: true, afterMs: 5_000 });
    expect(pingOnSend(draw, true)).toEqual({ answer: false, afterMs: 40_000 });
    expect(pingOnSend({ ...draw, lost: true }, false)).toEqual({ answer: false, afterMs: 40_000 });
    // Dark by the time the answer is due: the rest of the time-out passes in silence.
    expect(pingOnAnswerDue(draw, true)).toEqual({ answer: false, afterMs: 35_000 });
    expect(pingOnAnswerDue(draw, false)).toEqual({ answer: true, afterMs: 0 });
  });

  it('a concentrator sends up to its limit, queues up to its queue, refuses beyond; slots pass in order', () => {
    const limits = { inFlight: 2, queue: 2 };
    let load: ConcentratorLoad<string> = IDLE;
    const admitted = ['a', 'b', 'c', 'd', 'e'].map((id) => {
      const a = admit(load, id, limits);
      load = a.load;
      return a.admitted;
    });
    expect(admitted).toEqual(['SEND', 'SEND', 'QUEUE', 'QUEUE', 'BUSY']);
    expect(load).toEqual({ inFlight: 2, queue: ['c', 'd'] });
    const order: string[] = [];
    for (;;) {
      const r = release(load);
      load = r.load;
      if (r.next) order.push(r.next);
      else if (load.inFlight === 0) break;
    }
    expect(order).toEqual(['c', 'd']);
    expect(load).toEqual(IDLE);
    expect(concentratorBusy(cmd('READ_NOW'), 'DCU-G1', limits, NOW).result.reason).toBe(
      'CONCENTRATOR_BUSY: concentrator DCU-G1 has 2 pings in flight and 2 queued; try again later',
    );
  });
});
