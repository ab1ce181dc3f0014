import { describe, expect, it } from 'vitest';
import type { BillRow, MeterProfileRow } from '../src/billingScan.js';
import { usageRowOf } from '../src/billingRows.js';

const meter: MeterProfileRow = {
  meter_id: 'M1',
  idpel: '520000000001',
  region: 'BALI',
  ulp: 'ULP-A',
  tariff: 'R-1',
  daya_va: 1300,
  timezone: 'Asia/Makassar',
  installed: Date.UTC(2025, 0, 1) / 1000,
};

const bill: BillRow = {
  meter,
  periodStart: Date.UTC(2025, 1, 28, 16) / 1000,
  periodEnd: Date.UTC(2025, 2, 31, 16) / 1000,
  startWh: 1_000_000,
  endWh: 1_049_500,
  wh: 49_500,
  readsReceived: 2976,
  readsExpected: 2976,
  estimated: false,
  startEstimated: false,
  endEstimated: false,
  resets: 0,
  periodComplete: true,
  maxDemandW: 900,
  tariffVersion: '2025-Q1',
  rateSen: 144_470,
  energySen: 7_151_265,
  minimumSen: 5_636_160,
  minimumApplied: false,
  amountSen: 7_151_265,
};

describe('usageRowOf: a bill as `ami usage` prints it', () => {
  it("carries the meter's labels, not its time zone or installation", () => {
    const row = usageRowOf(bill, '2025-03-01', Date.UTC(2025, 3, 2) / 1000);
    expect(row).toMatchObject({ meter_id: 'M1', idpel: '520000000001', region: 'BALI', ulp: 'ULP-A' });
    expect(row).toMatchObject({ tariff: 'R-1', daya_va: 1300, billing_period: '2025-03-01' });
    expect(row).not.toHaveProperty('timezone');
    expect(row).not.toHaveProperty('installed');
  });

  it('gives the columns of billing_usage in their JSON types', () => {
    const row = usageRowOf(bill, '2025-03-01', Date.UTC(2025, 3, 2) / 1000);
    expect(row).toMatchObject({
      period_start: '2025-02-28 16:00:00',
      period_end: '2025-03-31 16:00:00',
      kwh: 49.5,
      estimated: 0,
      register_reset: 0,
      period_complete: 1,
      amount_rp: 71_512.65,
      computed_at: '2025-04-02 00:00:00',
    });
  });
});
