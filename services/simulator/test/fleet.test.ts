import { describe, expect, it } from 'vitest';
import { Fleet, REGIONS, TARIFF_PRODUCTS } from '../src/fleet.js';

describe('fleet topology', () => {
  const fleet = new Fleet({ meters: 30_000, seed: 'unit' });

  it('is deterministic from the seed', () => {
    const again = new Fleet({ meters: 30_000, seed: 'unit' });
    const other = new Fleet({ meters: 30_000, seed: 'other' });
    for (const m of [0, 1, 777, 29_999]) expect(again.profileOf(m)).toEqual(fleet.profileOf(m));
    expect([0, 1, 2, 3, 4].map((m) => other.profileOf(m).tariff + other.profileOf(m).kdpm)).not.toEqual(
      [0, 1, 2, 3, 4].map((m) => fleet.profileOf(m).tariff + fleet.profileOf(m).kdpm),
    );
  });

  it('covers the eight programme regions with their time zones', () => {
    const seen = new Map<string, string>();
    for (let m = 0; m < fleet.size; m += 97) seen.set(fleet.profileOf(m).region, fleet.profileOf(m).timezone);
    expect([...seen.keys()].sort()).toEqual(REGIONS.map((r) => r.code).sort());
    expect(seen.get('BALI')).toBe('Asia/Makassar');
    expect(seen.get('MAKASSAR')).toBe('Asia/Makassar');
    expect(seen.get('JAKARTA')).toBe('Asia/Jakarta');
    expect(seen.get('MEDAN')).toBe('Asia/Jakarta');
  });

  it("has gardu of 50-300 meters (only a region's last gardu may be smaller)", () => {
    const small: number[] = [];
    for (let g = 0; g < fleet.garduTotal; g++) {
      const n = fleet.garduCount[g]!;
      expect(n).toBeLessThanOrEqual(300);
      if (n < 50) small.push(g);
    }
    expect(small.length).toBeLessThanOrEqual(REGIONS.length);
    expect(fleet.garduCount.reduce((s, n) => s + n, 0)).toBe(fleet.size);
  });

  it('has unique 12-digit IDPELs and meter ids', () => {
    const idpels = new Set<string>();
    for (let m = 0; m < fleet.size; m++) idpels.add(fleet.idpelOf(m));
    expect([...idpels].filter((i) => !/^\d{12}$/.test(i))).toEqual([]);
    expect(idpels.size).toBe(fleet.size);
    expect(fleet.meterIndex(fleet.meterId(12_345))).toBe(12_345);
  });

  it('has a plausible KDPM mix with 5-10% AMR', () => {
    const counts: Record<string, number> = {};
    for (let m = 0; m < fleet.size; m++) counts[fleet.kdpmOf(m)] = (counts[fleet.kdpmOf(m)] ?? 0) + 1;
    const share = (k: string) => (counts[k] ?? 0) / fleet.size;
    expect(share('A')).toBeGreaterThan(0.05);
    expect(share('A')).toBeLessThan(0.1);
    for (const k of ['L', 'R', 'S', 'F']) expect(share(k)).toBeGreaterThan(0.02);
  });

  it('has tariff and power in plausible proportions and ranges', () => {
    const bad: string[] = [];
    let small = 0;
    for (let m = 0; m < fleet.size; m++) {
      const p = fleet.productOf(m);
      const [lo, hi] = p.phases === 1 ? [450, 11_000] : [6_600, 33_000];
      if (p.dayaVa < lo || p.dayaVa > hi) bad.push(`${p.tariff} ${p.phases}ph ${p.dayaVa}`);
      if (p.tariff === 'R-1M' && p.dayaVa !== 900) bad.push(`R-1M ${p.dayaVa}`);
      if (p.tariff.startsWith('R-1') && p.dayaVa <= 1300) small++;
    }
    expect(bad).toEqual([]);
    expect(small / fleet.size).toBeGreaterThan(0.55); // small households dominate
    expect(new Set(TARIFF_PRODUCTS.map((p) => p.tariff))).toEqual(
      new Set(['R-1', 'R-1M', 'R-2', 'R-3', 'B-2', 'P-1', 'P-3', 'S-1']),
    );
  });

  it('keeps every feeder, ULP and region a contiguous meter range', () => {
    for (const f of fleet.feeders) {
      for (let i = 1; i < f.gardu.length; i++) expect(f.gardu[i]).toBe(f.gardu[i - 1]! + 1);
    }
  });

  it('builds small fleets for demos', () => {
    const demo = new Fleet({ meters: 20, seed: 1, regions: ['BALI'], garduSize: { min: 5, max: 8 } });
    expect(demo.size).toBe(20);
    expect(demo.garduTotal).toBeGreaterThanOrEqual(3);
    expect(() => new Fleet({ meters: 10, seed: 1, regions: ['ATLANTIS'] })).toThrow(
      /unknown region ATLANTIS/,
    );
  });

  it('scales to the 1.2 million meter programme in compact typed arrays', { timeout: 60_000 }, () => {
    const big = new Fleet({ meters: 1_200_000, seed: 'programme' });
    expect(big.size).toBe(1_200_000);
    expect(big.garduTotal).toBeGreaterThan(4000);
    expect(big.meterGardu.byteLength + big.meterKdpm.byteLength + big.meterProduct.byteLength).toBeLessThan(
      8 * 1_200_000,
    );
    expect(big.profileOf(1_199_999).idpel).toMatch(/^\d{12}$/);
  });
});
