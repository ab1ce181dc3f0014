import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type cliProgress from 'cli-progress';
import { ValidationError, type Logger, type MeterRead } from '@ami/lib';
import { loadStackSettings } from '@ami/stack';
import { REPO_ROOT } from '@ami/cli/children';
import { Fleet } from '@ami/simulator/fleet';
import { parseTruth, type TruthLine } from '@ami/simulator/groundTruth';
import { fleetFor, startFor } from '@ami/simulator/run';
import { loadScenario } from '@ami/simulator/scenario';
import type { LoadTestOptions } from './runContext.js';
import {
  readManifest,
  readRecording,
  recordingExists,
  recordSimulation,
  type Manifest,
} from './recording.js';

/** The first phase of a load test: the traffic to replay, recorded on first use and cached. */

const LOADTEST_SCENARIOS = join(REPO_ROOT, 'loadtest/scenarios');

/** A simulator scenario by name or path, or one of loadtest/scenarios/<name>.yaml. */
export function resolveScenario(name: string): string {
  const own = join(LOADTEST_SCENARIOS, `${name}.yaml`);
  return existsSync(own) ? own : name;
}

export interface Traffic {
  /** The fleet asked for (scenario, meters, seed, regions). */
  fleet: Fleet;
  durationMs: number;
  recording: { path: string; manifest: Manifest; reused: boolean };
  /** The fleet the recording was made with; none for a recording from Kafka. */
  simFleet: Fleet | undefined;
  /** The simulator's ground truth, when the recording has one. */
  truth: TruthLine[] | undefined;
}

export async function loadTraffic(
  o: LoadTestOptions,
  bar: cliProgress.SingleBar | undefined,
  logger: Logger,
): Promise<Traffic> {
  const scenario = loadScenario(resolveScenario(o.scenario));
  const fleet = fleetFor(scenario, { meters: o.meters, seed: o.seed, regions: o.regions });
  const startMs = startFor(scenario, o.start);
  const durationMs = (o.hours ?? 24) * 3_600_000;
  const rec = await ensureRecording(o, fleet, startMs, durationMs, bar);
  const manifest = rec.manifest;
  const simFleet = manifest.source === 'simulator' ? recordedFleet(manifest, fleet, logger) : undefined;
  const truth =
    manifest.truthFile && existsSync(manifest.truthFile)
      ? parseTruth(readFileSync(manifest.truthFile, 'utf8'))
      : undefined;
  logger.info(
    { recording: rec.path, reads: manifest.reads, events: manifest.events, reused: rec.reused },
    'recording ready',
  );
  return { fleet, durationMs, recording: rec, simFleet, truth };
}

/**
 * The fleet a simulator recording was made with: rebuilt from the options in its manifest, so
 * replaying `--recording` publishes the recorded meters' topology, not the default scenario's.
 */
function recordedFleet(manifest: Manifest, requested: Fleet, log: Logger): Fleet {
  if (manifest.fleet) return new Fleet(manifest.fleet);
  if (manifest.meters === requested.size && manifest.seed === requested.seed) return requested;
  log.warn(
    {
      recorded: { meters: manifest.meters, seed: manifest.seed },
      using: { meters: requested.size, seed: requested.seed },
    },
    'the recording has no fleet options (made before they were kept) and differs from the fleet asked for: its topology may not match',
  );
  return requested;
}

/** The recording for (scenario, meters, hours, seed, regions, start): cached, made on first use. */
async function ensureRecording(
  o: LoadTestOptions,
  fleet: Fleet,
  startMs: number,
  durationMs: number,
  bar: cliProgress.SingleBar | undefined,
): Promise<{ path: string; manifest: Manifest; reused: boolean }> {
  if (o.recording) {
    if (!recordingExists(o.recording))
      throw new ValidationError(`no recording at ${o.recording} (or its .json manifest)`);
    return { path: o.recording, manifest: readManifest(o.recording), reused: true };
  }
  const dir = o.recordingsDir ?? join(loadStackSettings().AMI_HOME, 'loadtest', 'recordings');
  mkdirSync(dir, { recursive: true });
  const regions = [...new Set(fleet.ulps.map((u) => u.region.code))].join('+');
  const name = `${o.scenario.replace(/[^A-Za-z0-9_-]/g, '_')}-${fleet.size}m-${durationMs / 3_600_000}h-s${fleet.seed}-${regions}-${startMs}.avro`;
  const path = join(dir, name);
  if (recordingExists(path)) return { path, manifest: readManifest(path), reused: true };
  const scenario = loadScenario(resolveScenario(o.scenario));
  const expectedReads = fleet.size * (durationMs / (15 * 60_000));
  bar?.start(expectedReads, 0, { phase: 'record', info: '' });
  const manifest = await recordSimulation({
    path,
    fleet,
    scenario,
    startMs,
    durationMs,
    onProgress: (_, counts) =>
      bar?.update(counts.reads, { phase: 'record', info: `${counts.events} events` }),
  });
  bar?.update(manifest.reads);
  bar?.stop();
  return { path, manifest, reused: false };
}

/** The first `n` reads of a recording (the baseline's sample). */
export async function firstReads(path: string, n: number): Promise<MeterRead[]> {
  const out: MeterRead[] = [];
  for await (const d of readRecording(path)) {
    for (const r of d.reads) {
      out.push(r);
      if (out.length >= n) return out;
    }
  }
  return out;
}
