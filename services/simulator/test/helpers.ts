import type { MeterEvent, MeterRead } from '@ami/lib';
import { collectTruth, type TruthLine } from '../src/groundTruth.js';
import { fleetFor, startFor } from '../src/run.js';
import { loadScenario, type Scenario } from '../src/scenario.js';
import { Simulation } from '../src/simulation.js';
import type { Fleet } from '../src/fleet.js';

export interface RunResult {
  fleet: Fleet;
  scenario: Scenario;
  reads: MeterRead[];
  events: MeterEvent[];
  truth: TruthLine[];
  batchTimes: number[];
}

/** Run a scenario (named or given) fully in memory. */
export function runScenario(s: string | Scenario, batchSize = 5000): RunResult {
  const scenario = typeof s === 'string' ? loadScenario(s) : s;
  const fleet = fleetFor(scenario);
  const { lines, sink } = collectTruth();
  const sim = new Simulation({
    fleet,
    scenario,
    startMs: startFor(scenario, undefined, 0),
    batchSize,
    truth: sink,
  });
  const reads: MeterRead[] = [];
  const events: MeterEvent[] = [];
  const batchTimes: number[] = [];
  for (const b of sim.run()) {
    reads.push(...b.reads);
    events.push(...b.events);
    batchTimes.push(b.at);
  }
  return { fleet, scenario, reads, events, truth: lines, batchTimes };
}

export function byMeter<T extends { meter_id: string }>(rows: T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const list = out.get(r.meter_id) ?? [];
    list.push(r);
    out.set(r.meter_id, list);
  }
  return out;
}
