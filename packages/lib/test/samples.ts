/**
 * One valid record of each kind for the tests of every package (`@ami/lib/testing/samples`): a test
 * states only what it changes (`patch`), and what "a good one" is stays in one place.
 */
import type { MeterEvent, MeterProfile, MeterRead } from '../src/index.js';

/** A 1-phase R-1 1,300 VA meter M1 on gardu G1 in Bali (WITA), installed 1 January 2025. */
export const sampleProfile = (patch: Partial<MeterProfile> = {}): MeterProfile => ({
  meter_id: 'M1',
  idpel: '520000000001',
  kdpm: 'L',
  phases: 1,
  tariff: 'R-1',
  daya_va: 1300,
  gardu_id: 'G1',
  feeder_id: 'F1',
  ulp: 'ULP-A',
  region: 'BALI',
  timezone: 'Asia/Makassar',
  installed_at: Date.UTC(2025, 0, 1),
  ...patch,
});

/** A 15-minute interval read of M1 on G1 (relay closed, 400 W under its 1,300 VA limit) on 1 March 2025. */
export const sampleRead = (patch: Partial<MeterRead> = {}): MeterRead => ({
  meter_id: 'M1',
  gardu_id: 'G1',
  read_at: Date.UTC(2025, 2, 1),
  interval_s: 900,
  energy_import_wh: 1_234_567,
  demand_w: 400,
  voltage_v: 229.5,
  relay: 'CLOSED',
  power_limit_va: 1300,
  kind: 'INTERVAL',
  ...patch,
});

/** A last gasp of M1 on G1 (relay closed, no power limit) on 1 March 2025. */
export const sampleEvent = (patch: Partial<MeterEvent> = {}): MeterEvent => ({
  event_id: 'e1',
  meter_id: 'M1',
  gardu_id: 'G1',
  occurred_at: Date.UTC(2025, 2, 1),
  type: 'LAST_GASP',
  relay: 'CLOSED',
  cause: 'NONE',
  power_limit_va: null,
  ...patch,
});
