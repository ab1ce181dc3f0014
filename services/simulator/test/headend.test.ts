import { describe, expect, it } from 'vitest';
import type { MeterCommand, MeterProfile } from '@ami/lib';
import { decide, initialState, pressButton, registerEstimateWh } from '../src/headend.js';

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
