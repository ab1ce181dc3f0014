import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderSecurityComparison, type LoadTestSummary, type SecurityRunFigures } from './report.js';
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

/** The secured broker a `--security secured|both` run replays to (packages/lib/bench/securedKafka.ts). */
export interface SecuredBroker {
  /** KAFKA_* of its SASL_SSL listener (the CA is trusted through NODE_EXTRA_CA_CERTS). */
  env: Record<string, string>;
  /** Its JVM, for the broker's CPU in the report. */
  pid: number;
}

/**
 * `--security both`: the same load test on the plain stack broker, then on the secured one, in one
 * run; each has its own report (`<out>/plain`, `<out>/secured`), and `<out>/security.md` puts the
 * figures side by side with the ratio. `secured` only: the secured run alone. The secured run has
 * no Kafka baseline (ProducerPerformance speaks neither SASL nor TLS here).
 */
export async function runSecurityComparison(
  o: LoadTestOptions & { out: string; command: string },
  which: 'secured' | 'both',
  broker: SecuredBroker,
): Promise<{ ok: boolean; comparisonFile: string; runs: SecurityRunFigures[] }> {
  const runs: SecurityRunFigures[] = [];
  const figures = (security: SecurityRunFigures['security'], r: LoadTestResult): SecurityRunFigures => ({
    security,
    reportFile: r.reportFile,
    ok: r.ok,
    summary: r.summary,
  });
  if (which === 'both') runs.push(figures('plain', await runLoadTest({ ...o, out: join(o.out, 'plain') })));
  const secured = await runLoadTest({
    ...o,
    out: join(o.out, 'secured'),
    env: { ...(o.env ?? process.env), ...broker.env },
    baseline: 'none',
    kafkaPid: broker.pid,
  });
  runs.push(figures('SASL_SSL', secured));
  const comparisonFile = join(o.out, 'security.md');
  writeFileSync(comparisonFile, renderSecurityComparison(o.command, runs));
  return { ok: runs.every((r) => r.ok), comparisonFile, runs };
}
