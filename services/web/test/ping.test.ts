import { describe, expect, it } from 'vitest';
import type { MeterRead } from '@ami/lib';
import { PingTracker } from '../src/ping.js';
import { T0 } from './fixtures.js';

const read = (over: Partial<MeterRead> = {}): MeterRead => ({
  meter_id: 'MTR-0001',
  gardu_id: 'GD-BALI-01',
  read_at: T0 + 2000,
  interval_s: 0,
  energy_import_wh: 12_345_600,
  demand_w: 300,
  voltage_v: 221,
  relay: 'CLOSED',
  power_limit_va: 2200,
  kind: 'ON_DEMAND',
  ...over,
});

describe('ping the meter now', () => {
  it('waits, then shows the on-demand read: powered, relay, stand in kWh, voltage', () => {
    const p = new PingTracker(30_000);
    p.sent('c1', 'MTR-0001', T0);
    expect(p.answer('c1', T0 + 1000)?.state).toBe('WAITING');
    p.onRead(read({ kind: 'INTERVAL' })); // an interval read answers nothing
    expect(p.answer('c1', T0 + 1000)?.state).toBe('WAITING');
    p.onResult(
      {
        command_id: 'c1',
        meter_id: 'MTR-0001',
        type: 'READ_NOW',
        status: 'ACCEPTED',
        reason: null,
        decided_at: T0 + 500,
        event_id: null,
      },
      T0,
    );
    p.onRead(read());
    expect(p.answer('c1', T0 + 3000)).toMatchObject({
      state: 'ANSWERED',
      read: { stand_kwh: 12_345.6, voltage_v: 221, relay: 'CLOSED', powered: true },
      result: { status: 'ACCEPTED' },
    });
  });

  it('says no answer after the time-out, and refused when the head-end refuses', () => {
    const p = new PingTracker(30_000);
    p.sent('c1', 'MTR-0001', T0);
    expect(p.answer('c1', T0 + 30_000)?.state).toBe('NO_ANSWER');
    p.sent('c2', 'MTR-0002', T0);
    p.onResult(
      {
        command_id: 'c2',
        meter_id: 'MTR-0002',
        type: 'READ_NOW',
        status: 'REFUSED',
        reason: 'UNKNOWN_METER: x',
        decided_at: T0,
        event_id: null,
      },
      T0,
    );
    expect(p.answer('c2', T0 + 1)).toMatchObject({
      state: 'REFUSED',
      result: { reason: 'UNKNOWN_METER: x' },
    });
    expect(p.result('c2')?.status).toBe('REFUSED');
  });

  it('a read with no voltage is a meter not powered', () => {
    const p = new PingTracker(30_000);
    p.sent('c1', 'MTR-0001', T0);
    p.onRead(read({ voltage_v: 0, relay: 'OPEN' }));
    expect(p.answer('c1', T0 + 1)?.read).toMatchObject({ powered: false, relay: 'OPEN' });
  });

  it('forgets pings and results older than the keep window', () => {
    const p = new PingTracker(30_000, 60_000);
    p.sent('c1', 'MTR-0001', T0);
    p.prune(T0 + 120_000);
    expect(p.answer('c1', T0 + 120_000)).toBeUndefined();
  });
});
