import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLoadTest } from '@ami/loadtest/run';
import { testLogger, uniqueName } from '../support/fixtures.js';

/**
 * The load test, small enough for CI: 5,000 meters x 6 hours of traffic
 * (loadtest/scenarios/blackout-6h.yaml: a gardu outage, a regional blackout,
 * a feeder trip) replayed at 360x real time through the real detector and
 * loader. Asserts correctness only (every read in ClickHouse exactly once,
 * outages as in the ground truth, every suspected outage settled); throughput
 * and latencies are in the report, never asserted.
 */
describe('load test (small)', () => {
  it(
    'replays 6 hours of 5,000 meters through detector and loader, correctly',
    { timeout: 360_000 },
    async () => {
      const out = join('test-artifacts', uniqueName('loadtest'));
      const result = await runLoadTest({
        scenario: 'blackout-6h',
        meters: 5000,
        hours: 6,
        speed: '360x',
        // The baseline (Kafka's perf tools, clickhouse-client) is exercised by `npm run loadtest`; CI time goes to the pipeline.
        baseline: 'none',
        out,
        progress: false,
        drainTimeoutS: 150,
        maxReplayS: 150,
        logger: testLogger,
        command: 'tests/integration/loadtest.test.ts',
      });
      const s = result.summary;
      expect(existsSync(join(out, 'report.md'))).toBe(true);
      for (const svg of ['throughput.svg', 'lag.svg', 'latency.svg', 'cpu.svg'])
        expect(readFileSync(join(out, svg), 'utf8')).toContain('<svg');
      expect(s.replay.stoppedEarly).toBeUndefined();
      expect(s.endToEnd.drained).toBe(true);
      const reads = s.correctness.reads!;
      expect(reads.problems).toEqual([]);
      expect(reads.distinct).toBe(s.replay.distinctReads);
      expect(reads.finalRows).toBe(s.replay.distinctReads);
      const outages = s.correctness.outages!;
      expect(outages.expected).toBeGreaterThan(0);
      expect({ missing: outages.missing, wrong: outages.wrong, unexpected: outages.unexpected }).toEqual({
        missing: [],
        wrong: [],
        unexpected: [],
      });
      // Suspected outages: timed, every one CONFIRMED (as an outage that came out) or CANCELLED after the drain.
      const suspicions = s.correctness.suspicions!;
      expect(suspicions.byStatus.CONFIRMED).toBeGreaterThan(0);
      expect({ pending: suspicions.pending, unconfirmed: suspicions.unconfirmed }).toEqual({
        pending: 0,
        unconfirmed: 0,
      });
      expect(suspicions.byStatus.CONFIRMED + suspicions.byStatus.CANCELLED).toBe(suspicions.suspicions);
      expect(s.latency.suspectedDetection?.count).toBeGreaterThan(0);
      const report = readFileSync(join(out, 'report.md'), 'utf8');
      expect(report).toContain('| last gasp crossing the threshold in Kafka → suspected outage sent');
      expect(report).toContain('Suspected outages: **PASS**');
      expect(result.ok).toBe(true);
    },
  );
});
