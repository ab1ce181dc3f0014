import type { Fleet } from './fleet.js';
import { Fleet as FleetClass } from './fleet.js';
import type { TruthSink } from './groundTruth.js';
import { Pacer, type Speed } from './clock.js';
import type { Scenario } from './scenario.js';
import { parseDuration } from './scenario.js';
import { ValidationError } from '@ami/lib';
import { Simulation, type Batch } from './simulation.js';

/** Fleet options from the scenario's defaults, overridden by flags. */
export function fleetFor(
  s: Scenario,
  o: { meters?: number; seed?: string | number; regions?: string[] } = {},
): Fleet {
  return new FleetClass({
    meters: o.meters ?? s.fleet.meters ?? 1000,
    seed: o.seed ?? s.fleet.seed ?? 1,
    regions: o.regions ?? s.fleet.regions,
    garduSize:
      s.fleet.gardu_size && !o.meters
        ? { min: s.fleet.gardu_size[0], max: s.fleet.gardu_size[1] }
        : undefined,
    amrShare: s.fleet.amr_share,
  });
}

/** Start of the simulated range: flag (ISO or "now"), else the scenario's, else now; "now" is rounded down to the interval. */
export function startFor(s: Scenario, start: string | undefined, now = Date.now()): number {
  const iv = parseDuration(s.interval);
  const from = start ?? s.start ?? 'now';
  if (from === 'now') return Math.floor(now / iv) * iv;
  const t = Date.parse(from);
  if (Number.isNaN(t))
    throw new ValidationError(`start must be an ISO timestamp or "now", got ${JSON.stringify(from)}`);
  return t;
}

export interface RunStats {
  reads: number;
  events: number;
  batches: number;
  wallMs: number;
}

/**
 * Drive a simulation into a sink (Kafka publisher or anything else), paced by
 * the clock. The next batches are generated while earlier ones are being
 * sent: up to `inFlight` sends (default 1) are pending at once, each awaited
 * in order, and the first failure stops the run. With more than one, `send`
 * must keep the order of its calls itself (the wire publisher does: one FIFO
 * per partition; see `Publisher.pipelineDepth`).
 */
export async function runSimulation(
  opts: {
    fleet: Fleet;
    scenario: Scenario;
    startMs: number;
    durationMs?: number;
    batchSize?: number;
    speed: Speed;
    truth?: TruthSink;
    /** Sends pending at once (default 1). */
    inFlight?: number;
  },
  send: (b: Batch) => Promise<void>,
  onProgress?: (s: RunStats, simT: number) => void,
): Promise<RunStats> {
  const sim = new Simulation(opts);
  const pacer = new Pacer(opts.speed, opts.startMs);
  const stats: RunStats = { reads: 0, events: 0, batches: 0, wallMs: 0 };
  const t0 = Date.now();
  const depth = Math.max(1, opts.inFlight ?? 1);
  const inFlight: Array<Promise<void>> = [];
  for (const batch of sim.run()) {
    await pacer.until(batch.at);
    while (inFlight.length >= depth) await inFlight.shift();
    const sent = send(batch);
    sent.catch(() => undefined); // awaited below, in order; this only keeps a later failure from being "unhandled" meanwhile
    inFlight.push(sent);
    stats.reads += batch.reads.length;
    stats.events += batch.events.length;
    stats.batches++;
    if (onProgress && stats.batches % 50 === 0) onProgress(stats, batch.at);
  }
  while (inFlight.length > 0) await inFlight.shift();
  stats.wallMs = Date.now() - t0;
  return stats;
}
