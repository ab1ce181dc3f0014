#!/usr/bin/env -S npx tsx
import { Command, InvalidArgumentError, Option, type OptionValues } from 'commander';
import {
  AvroCodec,
  ConfigError,
  createKafka,
  createLogger,
  createRegistry,
  loadCommonConfig,
} from '@ami/lib';
import { REGIONS } from '@ami/simulator/fleet';
import { fleetFor, startFor } from '@ami/simulator/run';
import { loadScenario } from '@ami/simulator/scenario';
import { recordFromKafka, recordSimulation } from './recording.js';
import { withSecuredKafka } from '@ami/lib/bench/securedKafka';
import { REPO_ROOT } from '@ami/cli/children';
import { join } from 'node:path';
import { cpuBoundRatio, type LoadTestSummary } from './report.js';
import { runLoadTest, runSecurityComparison } from './run.js';
import type { LoadTestOptions } from './runContext.js';
import { resolveScenario } from './traffic.js';

/**
 * `npm run loadtest -- [options]`: one whole load test with a report, or
 * `npm run loadtest -- record ...` to make a recording without replaying it.
 */
const program = new Command('loadtest')
  .description('AMI pipeline load test: record, replay, measure, check, report')
  .showHelpAfterError()
  .enablePositionalOptions();

const int = (v: string) => {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`not a positive number: ${v}`);
  return n;
};

program
  .option('-s, --scenario <name|file>', 'simulator scenario (named or a YAML file)', 'regional-blackout')
  .option('-m, --meters <n>', "fleet size (default: the scenario's)", int)
  .option('--hours <h>', 'hours of traffic', int, 24)
  .option('--seed <seed>', "fleet seed (default: the scenario's)")
  .option('--regions <codes>', "comma-separated regions, or 'all' (default: the scenario's)")
  .option('--start <iso>', "simulated start (default: the scenario's)")
  .option('--speed <speed>', 'max | realtime | Nx | N/s (records per second)', 'max')
  .option('--recording <file>', 'replay this recording instead of generating one')
  .option('--recordings-dir <dir>', 'cache of generated recordings (default .ami/loadtest/recordings)')
  .option('-o, --out <dir>', 'report folder (default reports/loadtest-<timestamp>)')
  .option('--prefix <prefix>', 'topic prefix (default: random)')
  .option('--db <name>', 'ClickHouse database (default: random)')
  .addOption(
    new Option('--baseline <level>', 'baseline size').choices(['full', 'quick', 'none']).default('full'),
  )
  .option('--no-detector', 'do not run the detector')
  .option('--no-loader', 'do not run the loader')
  .option('--partitions <n>', 'partitions of the topics', int, 6)
  .option('--chunk <n>', 'messages handed to Kafka at once', int, 20_000)
  .addOption(
    new Option(
      '--client <client>',
      'replay producer (the wire client, with or without SASL/TLS; kafkajs for comparison)',
    )
      .choices(['wire', 'kafkajs'])
      .default('wire'),
  )
  .option('--max-replay-s <s>', 'stop the replay after this many seconds', int)
  .option('--drain-timeout-s <s>', 'wait at most this long for the pipeline to catch up', int, 3600)
  .option('--drain-stall-s <s>', '...and give up sooner when nothing moved for this long', int, 120)
  .option('--keep', 'keep the topics and the database afterwards')
  .option('--no-progress', 'no progress bar')
  .option('--profile', 'CPU-profile the replayer, loader and detector (report: where the time goes)')
  .addOption(
    new Option(
      '--security <which>',
      "plain: the stack's broker; secured: a SASL_SSL broker started for the run; both: plain, then secured, with the ratio",
    )
      .choices(['plain', 'secured', 'both'])
      .default('plain'),
  )
  .action(async (o) => {
    const options = loadTestOptions(o);
    if (o.security !== 'plain') return compareSecurity(options, o.security);
    const result = await runLoadTest(options);
    const s = result.summary;
    console.log(`report: ${result.reportFile}`);
    console.log(
      `replay ${Math.round(s.replay.readsPerSec)} reads/s` +
        (s.baseline.producer
          ? ` (ProducerPerformance ${Math.round(s.baseline.producer.recordsPerSec)}/s)`
          : '') +
        `; end to end ${s.endToEnd.readsPerSec ? Math.round(s.endToEnd.readsPerSec) : '–'} reads/s` +
        (s.latency.suspectedDetection
          ? `; suspected outages p99 ${s.latency.suspectedDetection.p99} ms`
          : '') +
        `; correctness ${result.ok ? 'PASS' : 'FAIL'}`,
    );
    process.exitCode = result.ok ? 0 : 1;
  });

/** The run's options from the command line. */
function loadTestOptions(o: OptionValues): LoadTestOptions & { command: string } {
  return {
    scenario: o.scenario,
    meters: o.meters,
    hours: o.hours,
    seed: o.seed,
    regions: o.regions === 'all' ? REGIONS.map((r) => r.code) : o.regions?.split(','),
    start: o.start,
    speed: o.speed,
    recording: o.recording,
    recordingsDir: o.recordingsDir,
    out: o.out,
    prefix: o.prefix,
    db: o.db,
    baseline: o.baseline,
    detector: o.detector,
    loader: o.loader,
    partitions: o.partitions,
    chunk: o.chunk,
    client: o.client,
    maxReplayS: o.maxReplayS,
    drainTimeoutS: o.drainTimeoutS,
    drainStallS: o.drainStallS,
    keep: o.keep,
    profile: o.profile,
    progress: o.progress && Boolean(process.stderr.isTTY),
    command: `npm run loadtest -- ${process.argv.slice(2).join(' ')}`,
  };
}

/**
 * `--security secured|both`: a secured broker started for the run (this script runs again as a
 * child that trusts its CA, packages/lib/bench/securedKafka.ts), the load test on it (after the
 * plain one with `both`), and the two side by side with the ratio.
 */
async function compareSecurity(o: LoadTestOptions & { command: string }, which: 'secured' | 'both') {
  await withSecuredKafka(async (secured) => {
    if (!secured) throw new ConfigError('--security needs the secured broker: unset BENCH_SECURED=0');
    const out = o.out ?? join(REPO_ROOT, 'reports', `loadtest-security-${Date.now().toString(36)}`);
    const r = await runSecurityComparison({ ...o, out }, which, secured);
    for (const run of r.runs) {
      const s = run.summary;
      console.log(
        `${run.security.padEnd(8)} replay ${Math.round(s.replay.readsPerSec)} reads/s; end to end ${s.endToEnd.readsPerSec ? Math.round(s.endToEnd.readsPerSec) : '–'} reads/s; correctness ${run.ok ? 'PASS' : 'FAIL'}; ${run.reportFile}`,
      );
    }
    const [plain, sec] = [r.runs.find((x) => x.security === 'plain'), r.runs.at(-1)!];
    if (plain) {
      const ratio = (f: (s: LoadTestSummary) => number | undefined) => {
        const a = f(sec.summary);
        const b = f(plain.summary);
        return a && b ? (a / b).toFixed(2) : '–';
      };
      console.log(
        `SASL_SSL / plain: replay ${ratio((s) => s.replay.readsPerSec)}, end to end ${ratio((s) => s.endToEnd.readsPerSec)}, when the cores are the limit ${cpuBoundRatio(plain.summary, sec.summary)} (plain / secured CPU per read of replayer, detector, loader and broker) (goal >= 0.8)`,
      );
    }
    console.log(`comparison: ${r.comparisonFile}`);
    process.exitCode = r.ok ? 0 : 1;
  });
}

program
  .command('record')
  .description(
    'record traffic into an Avro container file: from the simulator, or from <prefix>.reads/events',
  )
  .requiredOption('-o, --out <file>', 'recording file (.avro); a .json manifest is written next to it')
  .option('-s, --scenario <name|file>', 'simulator scenario', 'regional-blackout')
  .option('-m, --meters <n>', 'fleet size', int)
  .option('--hours <h>', 'hours of traffic', int, 24)
  .option('--seed <seed>', 'fleet seed')
  .option('--regions <codes>', 'comma-separated regions')
  .option('--start <iso>', 'simulated start')
  .option(
    '--from-kafka <prefix>',
    'record <prefix>.reads and <prefix>.events instead (up to their end offsets now)',
  )
  .option('--max-records <n>', 'stop after this many records (Kafka source)', int)
  .action(async (o) => {
    const t0 = Date.now();
    if (o.fromKafka) {
      const cfg = loadCommonConfig();
      const logger = createLogger('loadtest-record', cfg.LOG_LEVEL);
      const m = await recordFromKafka({
        path: o.out,
        kafka: createKafka(cfg, logger),
        codec: new AvroCodec(createRegistry(cfg)),
        prefix: o.fromKafka,
        maxRecords: o.maxRecords,
      });
      console.log(
        `recorded ${m.reads} reads, ${m.events} events from ${o.fromKafka} into ${o.out} (${m.bytes} bytes) in ${Date.now() - t0} ms`,
      );
      return;
    }
    const scenario = loadScenario(resolveScenario(o.scenario));
    const fleet = fleetFor(scenario, { meters: o.meters, seed: o.seed, regions: o.regions?.split(',') });
    const m = await recordSimulation({
      path: o.out,
      fleet,
      scenario,
      startMs: startFor(scenario, o.start),
      durationMs: o.hours * 3_600_000,
    });
    console.log(
      `recorded ${m.reads} reads, ${m.events} events (${m.lastGasps} last gasps) into ${o.out} (${m.bytes} bytes, ground truth ${m.truthFile}) in ${Date.now() - t0} ms`,
    );
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`loadtest: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
