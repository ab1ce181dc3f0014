import fc from 'fast-check';
import { describe, it } from 'vitest';
import { composition } from './composition.js';
import { judge } from './judge.js';

/**
 * Generative tests of the rules (issue 25): random compositions of overlapping FEEDER, GARDU and METER
 * interruptions on one feeder of 3-4 gardu (composition.ts), fed through the pure rules as the edge
 * releases them, judged against the ground truth (judge.ts: what is knowable, and the tolerances).
 * Seeded: RULES_PROPERTY_SEED and RULES_PROPERTY_RUNS reproduce or widen a run; a failure prints its
 * seed, path and shrunk counterexample, which becomes a regression test in rules.test.ts.
 */

const SEED = Number(process.env.RULES_PROPERTY_SEED ?? 250_025);
const RUNS = Number(process.env.RULES_PROPERTY_RUNS ?? 2000);

describe('the rules against the ground truth (generated compositions)', () => {
  it(`holds the invariants for ${RUNS} compositions (seed ${SEED})`, () => {
    fc.assert(
      fc.property(composition, fc.nat(), (c, shuffle) => judge(c, shuffle + 1)),
      { seed: SEED, numRuns: RUNS, endOnFailure: false },
    );
  }, 120_000);
});
