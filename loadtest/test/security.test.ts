import { describe, expect, it } from 'vitest';
import {
  cpuBoundRatio,
  pipelineCpuPerRead,
  renderSecurityComparison,
  type LoadTestSummary,
  type ProcessFigures,
} from '../src/report.js';

/** The parts of a summary that `--security both` compares; the rest is not read. */
function summary(readsPerSec: number, cpu: Record<string, number>): LoadTestSummary {
  const processes: Record<string, ProcessFigures> = {};
  for (const [name, us] of Object.entries(cpu))
    processes[name] = { cpuSeconds: 1, meanCores: 1, peakRssMb: 100, cpuUsPerRead: us };
  return {
    replay: { readsPerSec },
    endToEnd: { readsPerSec: readsPerSec / 2, drained: true, drainSeconds: 1 },
    processes,
    otherBusyCores: 0.5,
  } as unknown as LoadTestSummary;
}

describe('plain against SASL_SSL in one load test', () => {
  const plain = summary(200_000, { replay: 8, detector: 19, loader: 5, kafka: 20, clickhouse: 30 });
  const secured = summary(120_000, { replay: 9, detector: 19, loader: 6, kafka: 26, clickhouse: 30 });

  it("sums the pipeline's CPU per read over replayer, detector, loader and broker only", () => {
    expect(pipelineCpuPerRead(plain)).toBe(52);
    expect(pipelineCpuPerRead(secured)).toBe(60);
    expect(pipelineCpuPerRead(summary(1, { replay: 8, detector: 19, loader: 5 }))).toBeUndefined();
  });

  it('gives the rate ratio the cores allow: plain CPU over secured CPU per read', () => {
    expect(cpuBoundRatio(plain, secured)).toBe('0.87');
    expect(cpuBoundRatio(plain, summary(1, { replay: 1 }))).toBe('–');
  });

  it('prints both runs with the ratios and where each report is', () => {
    const md = renderSecurityComparison('npm run loadtest -- --security both', [
      { security: 'plain', reportFile: '/r/plain/report.md', ok: true, summary: plain },
      { security: 'SASL_SSL', reportFile: '/r/secured/report.md', ok: false, summary: secured },
    ]);
    expect(md).toContain('| replay, reads/s | 200,000 | 120,000 | 0.60 |');
    expect(md).toContain('| end to end, reads/s | 100,000 | 60,000 | 0.60 |');
    expect(md).toMatch(/\| rate when the cores are the limit .* \| 0\.87 \|/);
    expect(md).toContain('| correctness | PASS | FAIL | |');
    expect(md).toContain('/r/secured/report.md');
  });
});
