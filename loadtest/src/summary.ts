import { statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { Baseline } from './baseline.js';
import type { Figures, Verdict } from './judge.js';
import { describePace } from './pace.js';
import type { ProfileSummary } from './profile.js';
import type { Drain } from './replayAndDrain.js';
import type { ReplayStats } from './replay.js';
import { percentiles, writeReport, type LoadTestSummary } from './report.js';
import type { RunContext } from './runContext.js';
import type { FleetPublished } from './setup.js';

/** The last phase: what the phases found, as one summary, written as the report. */

export interface RunOutcome {
  baseline: Baseline;
  published: FleetPublished;
  stats: ReplayStats;
  drain: Drain;
  cpuProfiles: ProfileSummary[];
  figures: Figures;
  verdict: Verdict;
}

export function summarize(ctx: RunContext, r: RunOutcome): LoadTestSummary {
  const { o, traffic, notes } = ctx;
  const { stats, drain, figures } = r;
  const manifest = traffic.recording.manifest;
  const replaySeconds = (stats.endedAt - stats.startedAt) / 1000;
  const clock = figures.clock;
  return {
    startedAt: ctx.startedAt.toISOString(),
    command:
      o.command ??
      `loadtest --scenario ${o.scenario} --meters ${traffic.fleet.size} --hours ${traffic.durationMs / 3_600_000} --speed ${o.speed}`,
    machine: {
      cores: cpus().length,
      memoryGb: totalmem() / 2 ** 30,
      node: process.version,
      loadAvgBefore: ctx.loadAvgBefore,
      cpuModel: cpus()[0]?.model ?? 'unknown',
    },
    setup: {
      scenario: manifest.scenario ?? o.scenario,
      meters: manifest.meters,
      hours: (manifest.endMs - manifest.startMs) / 3_600_000,
      regions: manifest.regions,
      speed: describePace(ctx.pace),
      prefix: ctx.prefix,
      db: ctx.db,
      recording: traffic.recording.path,
      recordingBytes: statSync(traffic.recording.path).size,
      recordingReused: traffic.recording.reused,
      recordMs: traffic.recording.reused ? undefined : manifest.recordedInMs,
      partitions: o.partitions ?? 6,
      confirmDelayMs: ctx.confirmDelayMs,
      detector: ctx.useDetector,
      loader: ctx.useLoader,
    },
    replay: {
      reads: stats.reads,
      events: stats.events,
      lastGasps: stats.lastGasps,
      distinctReads: stats.distinctReads,
      meanReadBytes: stats.meanReadBytes,
      seconds: replaySeconds,
      readsPerSec: stats.reads / replaySeconds,
      recordsPerSec: (stats.reads + stats.events) / replaySeconds,
      mbPerSec: stats.bytes / 1e6 / replaySeconds,
      sendWaitShare: stats.sendWaitMs / 1000 / replaySeconds,
      client: stats.client,
      stoppedEarly: stats.stoppedEarly,
      profiles: r.published.profiles,
      profilesSeconds: r.published.profilesSeconds,
    },
    endToEnd: {
      seconds: figures.e2eSeconds,
      readsPerSec: figures.e2eSeconds ? stats.distinctReads / figures.e2eSeconds : undefined,
      drained: drain.drained,
      drainSeconds: drain.drainSeconds,
    },
    baseline: r.baseline,
    latency: {
      readToClickHouse: percentiles(figures.readLat),
      markersMissing: ctx.sampler!.markers.length - figures.readLat.length,
      markerPollMs: 250,
      gaspToOutage: percentiles(figures.gasp),
      confirmDelayWallMs: clock ? ctx.confirmDelayMs / clock.factor : undefined,
      gaspToOutageMinusDelay: clock ? percentiles(figures.minusDelay) : undefined,
      gaspToOutageBeyondConfirm: percentiles(figures.beyond),
      outagesTimed: figures.gasp.length,
      suspectedDetection: percentiles(figures.suspected),
    },
    processes: figures.processes,
    machineBusyCores: figures.machineBusyCores,
    otherBusyCores: figures.otherBusyCores,
    correctness: r.verdict.correctness,
    deadLetters: r.verdict.deadLetters,
    profiles: r.cpuProfiles,
    notes,
  };
}

/** The summary, with a note when the machine was shared, written as report.md, charts and data. */
export function reportRun(ctx: RunContext, r: RunOutcome): { summary: LoadTestSummary; reportFile: string } {
  const summary = summarize(ctx, r);
  if (summary.otherBusyCores > 0.25)
    ctx.notes.push(
      `other processes used ${summary.otherBusyCores.toFixed(2)} cores on average during the run: the machine was shared, absolute figures are low; ratios to the baseline hold better`,
    );
  const reportFile = writeReport(ctx.reportDir, summary, ctx.sampler!.samples, {
    read: r.figures.readLat,
    gasp: r.figures.gasp,
    gaspMinusDelay: r.figures.minusDelay,
    gaspBeyond: r.figures.beyond,
    suspected: r.figures.suspected,
  });
  return { summary, reportFile };
}
