import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/fixtures.js';
import { Pipeline } from '../support/pipeline.js';
import {
  checkReliability,
  latestOutages,
  overlappingOutages,
  reliabilityRows,
  type ReliabilityCheck,
} from '@ami/loadtest/correctness';
import { truthReliability } from '@ami/simulator/reliabilityTruth';
import { loadScenario } from '@ami/simulator/scenario';

/**
 * The project's scenarios through simulator, detector (process), loader (process) and
 * ClickHouse: `reliability_monthly` must give the ground truth's indices (each customer's merged
 * dark intervals, IEEE 1366), customers interrupted exact and customer-minutes within the
 * outage matching's start and restore tolerances, with no two outages of one scope for one
 * gardu or feeder at once.
 */
const SCENARIOS = [
  'gardu-outage',
  'feeder-outage',
  'momentaries',
  'tusbung-during-outage',
  'mixed-ami-amr',
  'gardu-outage-lossy',
];

describe('reliability_monthly against the ground truth of the scenarios', () => {
  const logDir = mkdtempSync(join(tmpdir(), 'ami-reliability-'));
  const env = Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  let pipe: Pipeline | undefined;

  afterEach(async () => {
    await pipe?.stop();
    pipe = undefined;
  });
  afterAll(() => rmSync(logDir, { recursive: true, force: true }));

  it.each(SCENARIOS)(
    "%s: the indices are the truth's, every outage once",
    async (name) => {
      pipe = new Pipeline(env, logDir);
      await pipe.start();
      const scenario = loadScenario(name);
      const produced = await pipe.replay({ scenario: name, meters: scenario.fleet.meters, speed: 'max' });
      const truth = truthReliability(produced.truth, produced.fleet, { until: produced.rangeEnd });
      expect(truth.cells.length).toBeGreaterThan(0);
      const p = pipe;
      let last: ReliabilityCheck | undefined;
      // Until the loader has every restore the truth has; on a deadline, the last comparison is the verdict.
      await eventually(
        async () => {
          last = checkReliability(truth, await reliabilityRows(p.ch, p.db));
          return last.ok ? true : undefined;
        },
        { timeoutMs: 150_000, intervalMs: 2_000, what: `${name}: reliability_monthly equal to the truth` },
      ).catch(() => undefined);
      expect(overlappingOutages(latestOutages(p.outageRecords)).map((d) => `${d.scope} ${d.place}`)).toEqual(
        [],
      );
      expect(
        last!.cells.map((c) => ({
          cell: `${c.region} ${c.ulp} ${c.month}`,
          truth: `SAIDI ${c.truth?.saidi_minutes.toFixed(2)} SAIFI ${c.truth?.saifi.toFixed(3)} MAIFI ${c.truth?.maifi.toFixed(3)}`,
          view: `SAIDI ${c.view?.saidi_minutes.toFixed(2)} SAIFI ${c.view?.saifi.toFixed(3)} MAIFI ${c.view?.maifi.toFixed(3)}`,
          problems: c.problems,
        })),
      ).toEqual(
        last!.cells.map((c) => ({
          cell: `${c.region} ${c.ulp} ${c.month}`,
          truth: `SAIDI ${c.truth?.saidi_minutes.toFixed(2)} SAIFI ${c.truth?.saifi.toFixed(3)} MAIFI ${c.truth?.maifi.toFixed(3)}`,
          view: expect.any(String),
          problems: [],
        })),
      );
    },
    360_000,
  );
});
