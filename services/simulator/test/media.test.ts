import { describe, expect, it } from 'vitest';
import { concentratorOf, drawPing, MEDIA, mediumOf } from '../src/media.js';

describe('media by KDPM', () => {
  it('every medium answers before its own time-out, and AMR has no head-end link', () => {
    for (const m of Object.values(MEDIA)) {
      expect(m.latencyMs[0]).toBeLessThan(m.latencyMs[1]);
      expect(m.latencyMs[1]).toBeLessThan(m.timeoutMs);
      expect(m.loss).toBeGreaterThanOrEqual(0);
      expect(m.loss).toBeLessThan(0.5);
    }
    expect(mediumOf('A')).toBeUndefined();
    // PLC is the slowest and the lossiest; only PLC goes through a concentrator.
    expect(MEDIA.L.latencyMs[1]).toBeGreaterThan(MEDIA.R.latencyMs[1]);
    expect(MEDIA.L.loss).toBeGreaterThan(MEDIA.S.loss);
    expect(
      Object.values(MEDIA)
        .filter((m) => m.viaConcentrator)
        .map((m) => m.kdpm),
    ).toEqual(['L']);
  });

  it("a PLC meter's concentrator is its gardu's; other media have none", () => {
    expect(concentratorOf({ kdpm: 'L', gardu_id: 'BALI-DENPAS-G0001' })).toBe('DCU-BALI-DENPAS-G0001');
    for (const kdpm of ['R', 'S', 'F', 'A'] as const)
      expect(concentratorOf({ kdpm, gardu_id: 'BALI-DENPAS-G0001' })).toBeUndefined();
  });

  it('draws are deterministic per (seed, command id), inside the table, lossy at the table rate', () => {
    expect(drawPing(MEDIA.L, 7, 'cmd-1', 1)).toEqual(drawPing(MEDIA.L, 7, 'cmd-1', 1));
    const ids = Array.from({ length: 20_000 }, (_, i) => `cmd-${i}`);
    for (const m of Object.values(MEDIA)) {
      const draws = ids.map((id) => drawPing(m, 7, id, 1));
      const sorted = draws.map((d) => d.latencyMs).sort((a, b) => a - b);
      expect(sorted[0]).toBeGreaterThanOrEqual(m.latencyMs[0]);
      expect(sorted.at(-1)).toBeLessThanOrEqual(m.latencyMs[1]);
      expect(new Set(draws.map((d) => d.timeoutMs))).toEqual(new Set([m.timeoutMs]));
      const lost = draws.filter((d) => d.lost).length / draws.length;
      expect(lost).toBeGreaterThan(m.loss * 0.7);
      expect(lost).toBeLessThan(m.loss * 1.3 + 0.002);
      // Skewed towards the fast end: the median answer is quicker than the middle of the range.
      expect(sorted[sorted.length / 2]!).toBeLessThan((m.latencyMs[0] + m.latencyMs[1]) / 2);
    }
    // Another seed draws otherwise.
    const a = ids.slice(0, 50).map((id) => drawPing(MEDIA.L, 7, id, 1).latencyMs);
    const b = ids.slice(0, 50).map((id) => drawPing(MEDIA.L, 8, id, 1).latencyMs);
    expect(a).not.toEqual(b);
  });

  it('the scale multiplies latency and time-out alike, and leaves loss alone', () => {
    const full = drawPing(MEDIA.R, 1, 'x', 1);
    const fast = drawPing(MEDIA.R, 1, 'x', 0.1);
    expect(fast.timeoutMs).toBe(MEDIA.R.timeoutMs / 10);
    expect(fast.latencyMs).toBeCloseTo(full.latencyMs / 10, -1);
    expect(fast.lost).toBe(full.lost);
  });
});
