#!/usr/bin/env -S npx tsx
import { Command, Option } from 'commander';
import { AvroCodec, createKafka, createLogger, createRegistry, loadCommonConfig } from '@ami/lib';
import { REGIONS } from '../../services/simulator/src/fleet.js';
import { fleetFor, startFor } from '../../services/simulator/src/run.js';
import { loadScenario } from '../../services/simulator/src/scenario.js';
import { recordFromKafka, recordSimulation } from './recording.js';
import { runLoadTest } from './run.js';
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
  if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${v}`);
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
  .action(async (o) => {
    const regions = o.regions === 'all' ? REGIONS.map((r) => r.code) : o.regions?.split(',');
    const result = await runLoadTest({
      scenario: o.scenario,
      meters: o.meters,
      hours: o.hours,
      seed: o.seed,
      regions,
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
    });
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
