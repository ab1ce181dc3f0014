import type { LoadTestSummary } from './report.js';
import { checkCorrectness, measureFigures } from './judge.js';
import { drainPipeline, replayTraffic, stopServices } from './replayAndDrain.js';
import { closeRun, openRun, type LoadTestOptions } from './runContext.js';
import { measureBaseline, prepareStack, publishFleet, startServices } from './setup.js';
import { reportRun } from './summary.js';

/**
 * One load test, start to finish: record (or reuse) the scenario's traffic,
 * measure the baseline, replay into Kafka while the detector and the loader
 * run as child processes, sample everything, drain, check correctness, write
 * the report. Everything is bounded in time; all traffic goes to the stack
 * addresses of the config (127.0.0.1 by default). Each phase is a function
 * over the run's context (runContext.ts).
 */

export interface LoadTestResult {
  ok: boolean;
  reportDir: string;
  reportFile: string;
  summary: LoadTestSummary;
}

export async function runLoadTest(o: LoadTestOptions): Promise<LoadTestResult> {
  const ctx = await openRun(o);
  try {
    await prepareStack(ctx);
    const baseline = await measureBaseline(ctx);
    const published = await publishFleet(ctx);
    await startServices(ctx);
    const stats = await replayTraffic(ctx);
    const drain = await drainPipeline(ctx, stats);
    const cpuProfiles = await stopServices(ctx);
    const figures = measureFigures(ctx, stats, drain);
    const verdict = await checkCorrectness(ctx, stats, drain.drained);
    const { summary, reportFile } = reportRun(ctx, {
      baseline,
      published,
      stats,
      drain,
      cpuProfiles,
      figures,
      verdict,
    });
    return { ok: verdict.correctness.ok, reportDir: ctx.reportDir, reportFile, summary };
  } finally {
    await closeRun(ctx);
  }
}
