import { describe, expect, it } from 'vitest';
import {
  charge,
  endRegister,
  energyChargeSen,
  findTariff,
  interpolateWh,
  minimumChargeSen,
  periodUsage,
  roundDiv,
  rupiahToSen,
  senToRupiah,
  startRegister,
  tariffIn,
  tariffVersionAt,
} from '../src/billing.js';
import { loadTariffFiles } from '../src/tariffs.js';

const tariffs = loadTariffFiles();

describe('money', () => {
  it('parses rupiah into exact sen and prints it back', () => {
    expect(rupiahToSen('1444.70')).toBe(144470);
    expect(rupiahToSen('415')).toBe(41500);
    expect(rupiahToSen('1699.5')).toBe(169950);
    expect(() => rupiahToSen('1.234')).toThrow();
    expect(senToRupiah(7512440)).toBe('75124.40');
    expect(senToRupiah(5)).toBe('0.05');
  });

  it('rounds half up to a whole sen', () => {
    expect(roundDiv(5n, 2n)).toBe(3n);
    expect(roundDiv(4n, 3n)).toBe(1n);
    expect(energyChargeSen(30_301, 32_500)).toBe(984_783); // 984,782.5 → 984,783
    expect(energyChargeSen(100_000, 144_470)).toBe(14_447_000);
    expect(minimumChargeSen(1300, 144_470, 40)).toBe(7_512_440); // Rp 75,124.40
  });
});

describe('tariff table (data)', () => {
  it('finds class and power band of the 2025 tariffs', () => {
    expect(findTariff(tariffs, 'R-1', 450, '2025-03-01')).toMatchObject({
      rate_sen_per_kwh: 41_500,
      subsidised: true,
      min_charge_hours: 0,
    });
    expect(findTariff(tariffs, 'R-1', 900, '2025-03-01')).toMatchObject({
      rate_sen_per_kwh: 60_500,
      subsidised: true,
    });
    expect(findTariff(tariffs, 'R-1M', 900, '2025-03-01')).toMatchObject({
      rate_sen_per_kwh: 135_200,
      subsidised: false,
      min_charge_hours: 40,
    });
    expect(findTariff(tariffs, 'R-1', 2200, '2025-03-01')?.rate_sen_per_kwh).toBe(144_470);
    expect(findTariff(tariffs, 'R-3', 13_200, '2025-03-01')?.rate_sen_per_kwh).toBe(169_953);
    expect(findTariff(tariffs, 'S-1', 3500, '2025-03-01')?.rate_sen_per_kwh).toBe(90_000);
    expect(findTariff(tariffs, 'R-1', 1000, '2025-03-01')).toBeUndefined();
    expect(findTariff(tariffs, 'R-1', 450, '2024-12-01')).toBeUndefined(); // before the first version
  });

  it('names the version a bill used only when the version has the class (tariffIn)', () => {
    const version = tariffVersionAt(tariffs, '2025-03-01')!;
    expect(tariffIn(tariffs, version, 'R-1', 450)).toMatchObject({
      version,
      row: { rate_sen_per_kwh: 41_500 },
    });
    // The class is in the version but no band holds the power: the version, no row (no charge).
    expect(tariffIn(tariffs, version, 'R-1', 1000)).toEqual({ version, row: undefined });
    // A class the version does not have: neither.
    expect(tariffIn(tariffs, version, 'X-9', 450)).toEqual({ version: '', row: undefined });
    expect(tariffIn(tariffs, undefined, 'R-1', 450)).toEqual({ version: '', row: undefined });
  });
});

describe('charge', () => {
  const r1 = findTariff(tariffs, 'R-1', 1300, '2025-03-01');
  const subsidised = findTariff(tariffs, 'R-1', 900, '2025-03-01');
  it('applies the 40-hour minimum only to non-subsidised complete months', () => {
    expect(charge(10_000, 1300, r1, true)).toEqual({
      energySen: 1_444_700,
      minimumSen: 7_512_440,
      minimumApplied: true,
      amountSen: 7_512_440,
    });
    expect(charge(10_000, 1300, r1, false).minimumApplied).toBe(false);
    expect(charge(100_000, 1300, r1, true).minimumApplied).toBe(false);
    expect(charge(1_000, 900, subsidised, true)).toMatchObject({ minimumApplied: false, amountSen: 60_500 });
  });
  it('charges nothing for a negative difference (register replaced)', () => {
    expect(charge(-500, 1300, r1, false).energySen).toBe(0);
  });
});

describe('boundary registers', () => {
  it('interpolates linearly, half up to a Wh', () => {
    expect(interpolateWh({ t: 0, wh: 40_000 }, { t: 7200, wh: 40_601 }, 3600)).toBe(40_301);
    expect(interpolateWh({ t: 0, wh: 2_000_000 }, { t: 10_800, wh: 2_001_000 }, 3600)).toBe(2_000_333);
  });
  it('is exact on a read at the boundary and when the register did not move', () => {
    expect(startRegister({ t: 0, wh: 5 }, { t: 100, wh: 9 }, 100, 0)).toEqual({ wh: 9, estimated: false });
    expect(startRegister({ t: 0, wh: 5 }, { t: 200, wh: 5 }, 100, 0)).toEqual({ wh: 5, estimated: false });
    expect(startRegister({ t: 0, wh: 5 }, { t: 200, wh: 7 }, 100, 0)).toEqual({ wh: 6, estimated: true });
  });
  it('starts a meter installed in the period at its first read, exactly', () => {
    expect(startRegister(undefined, { t: 500, wh: 0 }, 100, 400)).toEqual({ wh: 0, estimated: false });
    expect(startRegister(undefined, { t: 500, wh: 0 }, 100, 50)).toEqual({ wh: 0, estimated: true });
  });
  it('ends a period in progress at the latest read', () => {
    expect(endRegister({ t: 50, wh: 12 }, undefined, 100, true, { wh: 1, estimated: false })).toEqual({
      wh: 12,
      estimated: false,
    });
    expect(endRegister({ t: 50, wh: 12 }, undefined, 100, false, { wh: 1, estimated: false })).toEqual({
      wh: 12,
      estimated: true,
    });
  });
  it('ignores duplicated reads', () => {
    const reads = [
      { t: 0, wh: 0 },
      { t: 50, wh: 500 },
      { t: 50, wh: 500 },
      { t: 100, wh: 1000 },
      { t: 150, wh: 1500 },
    ];
    expect(periodUsage(reads, 25, 125, 0, 1e9)).toEqual(
      periodUsage([...new Map(reads.map((r) => [r.t, r])).values()], 25, 125, 0, 1e9),
    );
    expect(periodUsage(reads, 25, 125, 0, 1e9)).toMatchObject({
      startWh: 250,
      endWh: 1250,
      wh: 1000,
      estimated: true,
    });
  });
});

describe('register going backwards (meter replaced or reset)', () => {
  const base = [
    { t: 0, wh: 1000 },
    { t: 100, wh: 1500 },
  ];
  it('leaves a period without reset as before: end - start, no reset', () => {
    expect(periodUsage(base, 0, 100, 0, 1e9)).toMatchObject({ wh: 500, resets: 0, estimated: false });
  });
  it('sums the monotonic segments of a reset inside the period; the reset gap counts 0', () => {
    const reads = [
      { t: 0, wh: 1000 },
      { t: 40, wh: 1300 },
      { t: 50, wh: 20 }, // new register
      { t: 50, wh: 20 }, // duplicate
      { t: 100, wh: 420 },
    ];
    expect(periodUsage(reads, 0, 100, 0, 1e9)).toEqual({
      startWh: 1000,
      endWh: 420,
      wh: 300 + 400,
      startEstimated: false,
      endEstimated: false,
      estimated: true,
      periodComplete: true,
      resets: 1,
    });
  });
  it('counts each reset and never nets or goes negative', () => {
    const reads = [
      { t: 0, wh: 5000 },
      { t: 20, wh: 5100 },
      { t: 30, wh: 0 },
      { t: 60, wh: 50 },
      { t: 70, wh: 10 },
      { t: 100, wh: 30 },
    ];
    expect(periodUsage(reads, 0, 100, 0, 1e9)).toMatchObject({
      wh: 100 + 50 + 20,
      resets: 2,
      estimated: true,
    });
  });
  it('never interpolates across a reset at the end boundary: ends at the last pre-reset read', () => {
    const reads = [
      { t: 0, wh: 1000 },
      { t: 90, wh: 1600 },
      { t: 120, wh: 7 },
    ];
    expect(periodUsage(reads, 0, 100, 0, 1e9)).toMatchObject({
      startWh: 1000,
      endWh: 1600,
      wh: 600,
      endEstimated: true,
      resets: 1,
    });
  });
  it('never interpolates across a reset at the start boundary: starts at the first post-reset read', () => {
    const reads = [
      { t: -10, wh: 9000 },
      { t: 10, wh: 100 },
      { t: 100, wh: 400 },
    ];
    expect(periodUsage(reads, 0, 100, 0, 1e9)).toMatchObject({
      startWh: 100,
      endWh: 400,
      wh: 300,
      startEstimated: true,
      resets: 1,
    });
  });
  it('bills nothing for a period inside a reset gap', () => {
    const reads = [
      { t: -10, wh: 9000 },
      { t: 200, wh: 100 },
    ];
    expect(periodUsage(reads, 0, 100, 0, 1e9)).toMatchObject({ wh: 0, resets: 1, estimated: true });
  });
  it('leaves a reset exactly on the boundary read to the period before', () => {
    const reads = [
      { t: 90, wh: 9000 },
      { t: 100, wh: 0 },
      { t: 200, wh: 300 },
    ];
    expect(periodUsage(reads, 0, 100, 0, 1e9)).toMatchObject({ endWh: 9000, resets: 1 });
    expect(periodUsage(reads, 100, 200, 0, 1e9)).toMatchObject({
      startWh: 0,
      wh: 300,
      resets: 0,
      estimated: false,
    });
  });
});
