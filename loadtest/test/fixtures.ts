import type { MeterRead } from '@ami/lib';

/** Interval read `t` (epoch ms) of meter number `m` on one gardu of Sidoarjo, register `energy` Wh. */
export const read = (m: number, t: number, energy = 1000 + m): MeterRead => ({
  meter_id: `M${String(m).padStart(8, '0')}`,
  gardu_id: 'JATIM-SIDOAR-G0001',
  read_at: t,
  interval_s: 900,
  energy_import_wh: energy,
  demand_w: 100,
  voltage_v: 221.5,
  relay: 'CLOSED',
  power_limit_va: 900,
  kind: 'INTERVAL',
});
