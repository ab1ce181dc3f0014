import type { MeterEvent, MeterProfile, MeterRead, Outage } from '@ami/lib';

/**
 * Hand-computed bills for March 2025. Boundaries: WIB 2025-02-28T17:00Z to
 * 2025-03-31T17:00Z, WITA 2025-02-28T16:00Z to 2025-03-31T16:00Z.
 */
export const ms = (iso: string) => Date.parse(iso);

export function meter(
  id: string,
  idpel: string,
  tariff: string,
  daya: number,
  tz: string,
  installed = '2024-01-01T00:00:00Z',
): MeterProfile {
  const wita = tz === 'Asia/Makassar';
  return {
    meter_id: id,
    idpel,
    kdpm: 'R',
    phases: 1,
    tariff,
    daya_va: daya,
    gardu_id: `G-${id}`,
    feeder_id: 'F1',
    ulp: wita ? 'ULP-DENPASAR' : 'ULP-SIDOARJO',
    region: wita ? 'BALI' : 'JATIM',
    timezone: tz,
    installed_at: ms(installed),
  };
}

export function read(meterId: string, iso: string, wh: number): MeterRead {
  return {
    meter_id: meterId,
    gardu_id: `G-${meterId}`,
    read_at: ms(iso),
    interval_s: 3600,
    energy_import_wh: wh,
    demand_w: 500,
    voltage_v: 230,
    relay: 'CLOSED',
    power_limit_va: 0,
    kind: 'INTERVAL',
  };
}

export const METERS: MeterProfile[] = [
  // WITA, R-1 1300 VA: exact reads at the WITA boundaries; WIB instants carry other registers.
  meter('M1', '511000000001', 'R-1', 1300, 'Asia/Makassar'),
  // WIB, R-1 900 VA subsidised: no read at the start boundary (interpolated, estimated).
  meter('M2', '511000000002', 'R-1', 900, 'Asia/Jakarta'),
  // WIB, R-1M 900 VA: 10 kWh, below the 40-hour minimum.
  meter('M3', '511000000003', 'R-1M', 900, 'Asia/Jakarta'),
  // WITA, B-2 6600 VA installed on 10 March.
  meter('M4', '511000000004', 'B-2', 6600, 'Asia/Makassar', '2025-03-10T02:00:00Z'),
  // WIB, R-2 3500 VA: dark across both boundaries (same register both sides: exact).
  meter('M5', '511000000005', 'R-2', 3500, 'Asia/Jakarta'),
  // WITA, S-1 450 VA: end boundary interpolated with a half-Wh result.
  meter('M6', '511000000006', 'S-1', 450, 'Asia/Makassar'),
  // WIB, R-1 1300 VA: meter replaced (register back to ~0) on 10 March, inside the month.
  meter('M7', '511000000007', 'R-1', 1300, 'Asia/Jakarta'),
  // WITA, R-1 1300 VA: meter reset between the last read before the end boundary and the first after it.
  meter('M8', '511000000008', 'R-1', 1300, 'Asia/Makassar'),
];

export const READS: MeterRead[] = [
  read('M1', '2025-02-28T15:00:00Z', 1_000_000),
  read('M1', '2025-02-28T16:00:00Z', 1_000_500),
  read('M1', '2025-02-28T17:00:00Z', 1_001_000),
  read('M1', '2025-03-15T00:00:00Z', 1_050_000),
  read('M1', '2025-03-31T16:00:00Z', 1_100_500),
  read('M1', '2025-03-31T17:00:00Z', 1_103_000),
  read('M2', '2025-02-28T16:00:00Z', 2_000_000),
  read('M2', '2025-02-28T19:00:00Z', 2_001_000),
  read('M2', '2025-03-31T17:00:00Z', 2_030_333),
  read('M3', '2025-02-28T17:00:00Z', 500_000),
  read('M3', '2025-03-31T17:00:00Z', 510_000),
  read('M4', '2025-03-10T03:00:00Z', 0),
  read('M4', '2025-03-31T16:00:00Z', 400_000),
  read('M5', '2025-02-28T10:00:00Z', 300_000),
  read('M5', '2025-03-02T05:00:00Z', 300_000),
  read('M5', '2025-03-31T12:00:00Z', 330_000),
  read('M5', '2025-04-01T02:00:00Z', 330_000),
  read('M6', '2025-02-28T16:00:00Z', 10_000),
  { ...read('M6', '2025-03-31T15:00:00Z', 40_000), relay: 'OPEN' }, // disconnected (tusbung) before the gap
  read('M6', '2025-03-31T17:00:00Z', 40_601),
  // Reads in different buckets (see migrations/002_reads_buckets.sql), so the buckets see the reset.
  read('M7', '2025-02-28T17:00:00Z', 800_000),
  read('M7', '2025-03-10T12:00:00Z', 850_000),
  read('M7', '2025-03-10T15:00:00Z', 1_000), // new register
  read('M7', '2025-03-31T17:00:00Z', 61_000),
  read('M8', '2025-02-28T16:00:00Z', 200_000),
  read('M8', '2025-03-31T14:00:00Z', 260_000),
  read('M8', '2025-03-31T17:00:00Z', 500), // reset somewhere between 14:00 and 17:00 UTC
];

export interface Expected {
  start: number;
  end: number;
  kwh: string;
  estimated: number;
  minimum: number;
  amountSen: number;
  amountRp: string;
  resets: number;
}

export const EXPECTED: Record<string, Expected> = {
  // 100 kWh x Rp 1,444.70 = Rp 144,470.00; minimum 40 h x 1.3 kVA x 1,444.70 = Rp 75,124.40 not applied.
  M1: {
    start: 1_000_500,
    end: 1_100_500,
    kwh: '100',
    estimated: 0,
    minimum: 0,
    amountSen: 14_447_000,
    amountRp: '144470',
    resets: 0,
  },
  // start = 2,000,000 + 1000 x 1/3 = 2,000,333.3 → 2,000,333; 30 kWh x Rp 605 = Rp 18,150.00.
  M2: {
    start: 2_000_333,
    end: 2_030_333,
    kwh: '30',
    estimated: 1,
    minimum: 0,
    amountSen: 1_815_000,
    amountRp: '18150',
    resets: 0,
  },
  // 10 kWh x 1,352 = Rp 13,520 < minimum 40 x 0.9 x 1,352 = Rp 48,672.00 → minimum.
  M3: {
    start: 500_000,
    end: 510_000,
    kwh: '10',
    estimated: 0,
    minimum: 1,
    amountSen: 4_867_200,
    amountRp: '48672',
    resets: 0,
  },
  // From the first read after installation: 400 kWh x 1,444.70 = Rp 577,880 > minimum Rp 381,400.80.
  M4: {
    start: 0,
    end: 400_000,
    kwh: '400',
    estimated: 0,
    minimum: 0,
    amountSen: 57_788_000,
    amountRp: '577880',
    resets: 0,
  },
  // Dark across both boundaries: exact; 30 kWh x 1,699.53 = Rp 50,985.90 < minimum 40 x 3.5 x 1,699.53 = Rp 237,934.20.
  M5: {
    start: 300_000,
    end: 330_000,
    kwh: '30',
    estimated: 0,
    minimum: 1,
    amountSen: 23_793_420,
    amountRp: '237934.2',
    resets: 0,
  },
  // end = 40,000 + 601 x 1/2 = 40,300.5 → 40,301 (half up); 30.301 kWh x Rp 325 = 9,847.825 → Rp 9,847.83.
  M6: {
    start: 10_000,
    end: 40_301,
    kwh: '30.301',
    estimated: 1,
    minimum: 0,
    amountSen: 984_783,
    amountRp: '9847.83',
    resets: 0,
  },
  // Segments 800,000 → 850,000 (50 kWh) and 1,000 → 61,000 (60 kWh); the gap between 12:00 and
  // 15:00 on 10 March is unknown and counts 0 (estimated). 110 kWh x 1,444.70 = Rp 158,917.00.
  M7: {
    start: 800_000,
    end: 61_000,
    kwh: '110',
    estimated: 1,
    minimum: 0,
    amountSen: 15_891_700,
    amountRp: '158917',
    resets: 1,
  },
  // The end boundary (16:00Z) falls in the reset gap 14:00-17:00Z: not interpolated, the period
  // ends at the last pre-reset read 260,000 (estimated). 60 kWh x 1,444.70 = Rp 86,682.00.
  M8: {
    start: 200_000,
    end: 260_000,
    kwh: '60',
    estimated: 1,
    minimum: 0,
    amountSen: 8_668_200,
    amountRp: '86682',
    resets: 1,
  },
};

/** A restored 30-minute GARDU outage of gardu G-M1, as the detector publishes it. */
export const OUTAGE_O1: Outage = {
  outage_id: 'O1',
  scope: 'GARDU',
  status: 'RESTORED',
  region: 'BALI',
  ulp: 'ULP-DENPASAR',
  feeder_id: 'F1',
  gardu_id: 'G-M1',
  meter_ids: [],
  parent_outage_id: null,
  started_at: ms('2025-03-05T02:00:00Z'),
  confirmed_at: ms('2025-03-05T02:01:00Z'),
  restored_at: ms('2025-03-05T02:30:00Z'),
  customers_affected: 1,
  customers_total: 1,
  last_gasps: 1,
  tusbung_excluded: 0,
  customers_interrupted: 0,
  customer_interruption_s: 0,
  emitted_at: ms('2025-03-05T02:31:00Z'),
};

/** A last gasp of meter M1 on gardu G-M1 at the start of OUTAGE_O1. */
export const EVENT_E1: MeterEvent = {
  event_id: 'E1',
  meter_id: 'M1',
  gardu_id: 'G-M1',
  occurred_at: ms('2025-03-05T02:00:00Z'),
  type: 'LAST_GASP',
  relay: 'CLOSED',
  cause: 'NONE',
  power_limit_va: null,
};
