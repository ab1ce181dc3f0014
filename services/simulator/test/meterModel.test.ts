import { describe, expect, it } from 'vitest';
import { Fleet } from '../src/fleet.js';
import { curveAt, localHourOf, LOAD_CURVES } from '../src/loadCurve.js';
import { estimatedRegisterWh, naturalDemandW, servedDemandW, voltageV } from '../src/meterModel.js';

describe('meter model', () => {
  const fleet = new Fleet({ meters: 2000, seed: 'model' });

  it('load curves are shares in [0, 1] for 24 hours; residential peaks in the evening', () => {
    for (const c of Object.values(LOAD_CURVES)) {
      expect(c).toHaveLength(24);
      expect(c.every((v) => v >= 0 && v <= 1)).toBe(true);
    }
    expect(curveAt('RESIDENTIAL', 19)).toBeGreaterThan(curveAt('RESIDENTIAL', 3));
    expect(curveAt('BUSINESS', 11)).toBeGreaterThan(curveAt('BUSINESS', 2));
    expect(curveAt('RESIDENTIAL', 18.5)).toBeCloseTo(
      (LOAD_CURVES.RESIDENTIAL[18]! + LOAD_CURVES.RESIDENTIAL[19]!) / 2,
    );
  });

  it('local hour follows WIB (UTC+7) and WITA (UTC+8)', () => {
    const noonUtc = Date.UTC(2026, 10, 21, 12);
    expect(localHourOf(noonUtc, 7)).toBe(19);
    expect(localHourOf(noonUtc, 8)).toBe(20);
  });

  it('served demand never exceeds the contracted power or the power limit', () => {
    expect(servedDemandW(5000, 2200, 1300)).toBe(1300);
    expect(servedDemandW(5000, 900, 2200)).toBe(900);
    expect(servedDemandW(300, 900, 450)).toBe(300);
    for (let m = 0; m < fleet.size; m++) {
      const d = naturalDemandW(fleet, m, 19, 7);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(servedDemandW(d, fleet.productOf(m).dayaVa, 450)).toBeLessThanOrEqual(450);
    }
  });

  it('noise is deterministic per (meter, tick) and voltage stays near 220 V', () => {
    expect(naturalDemandW(fleet, 5, 19, 3)).toBe(naturalDemandW(fleet, 5, 19, 3));
    const volts = Array.from({ length: 1000 }, (_, k) => voltageV(fleet, k, 1));
    expect(Math.min(...volts)).toBeGreaterThan(205);
    expect(Math.max(...volts)).toBeLessThan(235);
  });

  it('the estimated register starts at 0 at installation and only grows', () => {
    const m = 42;
    const at = fleet.installedAt(m);
    expect(estimatedRegisterWh(fleet, m, at - 1000)).toBe(0);
    let prev = 0;
    for (let h = 1; h < 2000; h += 97) {
      const r = estimatedRegisterWh(fleet, m, at + h * 3_600_000);
      expect(r).toBeGreaterThanOrEqual(prev);
      prev = r;
    }
    expect(prev).toBeGreaterThan(0);
  });
});
