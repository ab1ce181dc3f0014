import type { Command } from 'commander';
import { AvroCodec, createKafka, createLogger, createRegistry } from '@ami/lib';
import { parseSpeed } from './clock.js';
import { loadSimulatorConfig } from './config.js';
import { TruthWriter, type InterruptionTruth, type TruthLine } from './groundTruth.js';
import { HeadEnd } from './headendService.js';
import { Publisher } from './publisher.js';
import { fleetFor, runSimulation, startFor } from './run.js';
import { listScenarios, loadScenario, parseDuration } from './scenario.js';
import { registerSchemas } from './schemas.js';

interface SimulateOpts {
  scenario: string;
  meters?: string;
  seed?: string;
  regions?: string;
  start?: string;
  duration?: string;
  speed: string;
  truth?: string;
  list?: boolean;
  placeBy: 'feeder' | 'key';
}

export function registerSimulatorCommands(program: Command): void {
  program
    .command('schemas')
    .description('Avro schemas in the schema registry')
    .command('register')
    .description(
      'register every schema of schemas/ under <prefix>.<topic>-value and set BACKWARD compatibility per subject',
    )
    .action(async () => {
      const cfg = loadSimulatorConfig();
      for (const r of await registerSchemas(cfg))
        console.log(`${r.subject.padEnd(36)} id ${String(r.id).padEnd(5)} ${r.compatibility}  (${r.record})`);
    });

  program
    .command('simulate')
    .description('run the meter fleet simulator: publish ami.meters, then reads and events of a scenario')
    .option('-s, --scenario <name|file>', 'named scenario or YAML/JSON file', 'demo')
    .option('-m, --meters <n>', "fleet size (default: the scenario's)")
    .option('--seed <seed>', "topology and noise seed (default: the scenario's)")
    .option('--regions <codes>', 'comma-separated regions, e.g. BALI,JATIM')
    .option('--start <iso|now>', "simulated start: ISO time or 'now' (default: the scenario's, else now)")
    .option('-d, --duration <d>', "simulated duration, e.g. 6h, 1d (default: the scenario's)")
    .option('--speed <speed>', 'realtime | Nx (e.g. 60x) | max', 'max')
    .option('-t, --truth <path>', 'write the ground truth JSONL here')
    .option('--list', 'list the named scenarios and exit')
    .option(
      '--place-by <feeder|key>',
      "reads' and events' partition: by the gardu's feeder (the contract's rule) or by Kafka's default partitioner of the gardu key (the detector repartitions them)",
      'feeder',
    )
    .action(async (o: SimulateOpts) => simulate(o));

  program
    .command('headend')
    .description('run the simulated head-end: answer ami.commands as the meters would')
    .action(async () => {
      const cfg = loadSimulatorConfig();
      const logger = createLogger('headend', cfg.LOG_LEVEL);
      const head = new HeadEnd(
        createKafka(cfg, logger, 'ami-headend'),
        cfg,
        new AvroCodec(createRegistry(cfg)),
        logger,
      );
      const server = cfg.METRICS_PORT > 0 ? await head.metrics.serve(cfg.METRICS_PORT, logger) : undefined;
      let started = false;
      head.metrics.setReadiness(() => started);
      const stop = () =>
        void head
          .stop()
          .finally(() => server?.close())
          .finally(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await head.start();
      started = true;
      logger.info({ topic: head.topics.commands }, 'head-end running');
    });
}

async function simulate(o: SimulateOpts): Promise<void> {
  if (o.list) {
    for (const n of listScenarios())
      console.log(`${n.padEnd(26)} ${loadScenario(n).description.trim().split('\n')[0]}`);
    return;
  }
  const cfg = loadSimulatorConfig();
  const logger = createLogger('simulator', cfg.LOG_LEVEL);
  const scenario = loadScenario(o.scenario);
  const fleet = fleetFor(scenario, {
    meters: o.meters ? Number(o.meters) : undefined,
    seed: o.seed,
    regions: o.regions?.split(','),
  });
  const speed = parseSpeed(o.speed);
  const startMs = startFor(scenario, o.start);
  const truth = o.truth ? new TruthWriter(o.truth) : undefined;
  const interruptions: InterruptionTruth[] = [];
  const eventTypes = new Map<string, number>();
  const sink = (l: TruthLine) => {
    if (l.kind === 'interruption' && interruptions.length < 20) interruptions.push(l);
    truth?.sink(l);
  };
  const publisher = new Publisher(
    createKafka(cfg, logger, 'ami-simulator'),
    cfg,
    new AvroCodec(createRegistry(cfg)),
    cfg.SIM_PARTITIONS,
    'wire',
    o.placeBy === 'key' ? 'key' : 'feeder',
  );
  await publisher.start();
  if (!publisher.supplyAvailable)
    logger.warn(
      { topic: publisher.supplyTopic },
      'no access to the supply topic (the simulated physical world): the head-end will take every meter as powered',
    );
  try {
    const t0 = Date.now();
    await publisher.publishFleet(fleet);
    console.log(
      `published ${fleet.size} meter profiles (${fleet.garduTotal} gardu, ${fleet.feeders.length} feeders, ${fleet.ulps.length} ULPs) to ${publisher.topics.meters} in ${Date.now() - t0} ms`,
    );
    const stats = await runSimulation(
      {
        fleet,
        scenario,
        startMs,
        durationMs: o.duration ? parseDuration(o.duration) : undefined,
        batchSize: cfg.SIM_BATCH_SIZE,
        speed,
        truth: sink,
        inFlight: publisher.pipelineDepth,
      },
      (b) => {
        for (const e of b.events)
          eventTypes.set(`${e.type}/${e.cause}`, (eventTypes.get(`${e.type}/${e.cause}`) ?? 0) + 1);
        return publisher.publishBatch(b);
      },
      (s, simT) =>
        logger.info({ reads: s.reads, events: s.events, sim_time: new Date(simT).toISOString() }, 'progress'),
    );
    const rate = Math.round(stats.reads / (stats.wallMs / 1000));
    console.log(
      `scenario ${scenario.name}: ${stats.reads} reads to ${publisher.topics.reads}, ${stats.events} events to ${publisher.topics.events} in ${stats.wallMs} ms (${rate} reads/s)`,
    );
    for (const [k, n] of [...eventTypes].sort()) console.log(`  event ${k.padEnd(36)} ${n}`);
    if (publisher.supplySkipped > 0)
      console.log(
        `  ${publisher.supplySkipped} supply changes NOT published: no access to ${publisher.supplyTopic}`,
      );
    for (const i of interruptions) {
      const where = i.gardu_id ?? i.feeder_id ?? i.ulp ?? i.region;
      console.log(
        `  interruption ${i.scope} ${where} ${new Date(i.start).toISOString()} .. ${new Date(i.end).toISOString()}: ${i.meters_affected} affected, ${i.tusbung_excluded} tusbung excluded, ${i.last_gasps_delivered}/${i.last_gasps_sent} last gasps delivered`,
      );
    }
    if (o.truth) console.log(`ground truth: ${o.truth}`);
  } finally {
    await truth?.close();
    await publisher.stop();
  }
}
