/**
 * npm run bench:simulator
 *
 * The simulator in as-fast-as-possible mode with the 1.2-million-meter
 * topology, producing to the local broker, beside two ceilings measured in
 * the same run: the engine alone (records generated, nothing encoded) and the
 * raw avsc encode rate of the same reads. Prints figures, ratios and peak memory.
 * Goal (issue 3): >= 100k reads/s produced, < 1.5 GiB.
 *
 * Env: BENCH_METERS (1200000), BENCH_DURATION (30m: two rounds of reads),
 * plus the usual KAFKA_BROKERS / SCHEMA_REGISTRY_URL (default: the local stack).
 */
import {
  AvroCodec,
  avroType,
  createKafka,
  createLogger,
  createRegistry,
  loadCommonConfig,
  type MeterRead,
} from '@ami/lib';
import { clientEnv, loadStackSettings } from '@ami/stack';
import { Fleet } from '../src/fleet.js';
import { Publisher } from '../src/publisher.js';
import { runSimulation } from '../src/run.js';
import { parseDuration, parseScenarioText } from '../src/scenario.js';
import { Simulation } from '../src/simulation.js';

const METERS = Number(process.env.BENCH_METERS ?? 1_200_000);
const DURATION = process.env.BENCH_DURATION ?? '30m';
const START = Date.parse('2026-11-21T00:00:00Z');
const scenario = parseScenarioText(`
name: bench
duration: ${DURATION}
actions:
  - { type: outage, scope: FEEDER, target: { region: JATIM }, at: 20m, duration: 30m }
  - { type: tusbung, target: { region: BALI }, share: 0.05, at: 5m, spread: 30m }
`);

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
const mib = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;
const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
const fmt = (n: number) => n.toLocaleString('en-US');

async function main(): Promise<void> {
  const cfg = loadCommonConfig({
    ...clientEnv(loadStackSettings()),
    ...process.env,
    AMI_TOPIC_PREFIX: `bench_${Date.now().toString(36)}`,
    LOG_LEVEL: 'warn',
  });
  const logger = createLogger('bench', 'warn');

  let t0 = Date.now();
  const fleet = new Fleet({ meters: METERS, seed: 'bench' });
  const buildMs = Date.now() - t0;
  console.log(
    `fleet: ${fmt(fleet.size)} meters, ${fmt(fleet.garduTotal)} gardu, ${fleet.feeders.length} feeders, ${fleet.ulps.length} ULPs built in ${buildMs} ms`,
  );

  // Ceiling 1: the engine alone, one round of reads (no encoding, no Kafka).
  t0 = Date.now();
  const sample: MeterRead[] = [];
  let generated = 0;
  const oneRound = { ...scenario, duration: scenario.interval };
  for (const b of new Simulation({ fleet, scenario: oneRound, startMs: START, batchSize: 25_000 }).run()) {
    generated += b.reads.length;
    if (sample.length < 300_000) sample.push(...b.reads.slice(0, 300_000 - sample.length));
  }
  const engineMs = Date.now() - t0;

  // Ceiling 2: raw avsc encoding of the same reads (no framing, no Kafka).
  const type = avroType('MeterRead');
  t0 = Date.now();
  let bytes = 0;
  for (let k = 0; k < 3; k++) for (const r of sample) bytes += type.toBuffer(r).length;
  const encodeMs = Date.now() - t0;
  const encodeRate = rate(sample.length * 3, encodeMs);

  // The real thing: encode (Confluent framing) and produce, acks=-1, idempotent, max speed.
  const publisher = new Publisher(
    createKafka(cfg, logger, 'bench-simulator'),
    cfg,
    new AvroCodec(createRegistry(cfg)),
  );
  await publisher.start();
  // Ceiling 3: encode + produce of already generated reads (kafkajs and the broker alone).
  t0 = Date.now();
  for (let i = 0; i < sample.length; i += 25_000)
    await publisher.publishBatch({ reads: sample.slice(i, i + 25_000), events: [] });
  const produceOnlyMs = Date.now() - t0;
  const produceOnlyRate = rate(sample.length, produceOnlyMs);

  t0 = Date.now();
  await publisher.publishFleet(fleet);
  const profilesMs = Date.now() - t0;
  const stats = await runSimulation(
    {
      fleet,
      scenario,
      startMs: START,
      durationMs: parseDuration(DURATION),
      batchSize: 25_000,
      speed: { mode: 'max' },
    },
    (b) => publisher.publishBatch(b),
  );
  await publisher.stop();
  await deleteTopics(cfg, logger, Object.values(publisher.topics));
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);

  const produced = rate(stats.reads + stats.events, stats.wallMs);
  const readsRate = rate(stats.reads, stats.wallMs);
  const engineRate = rate(generated, engineMs);
  console.log('');
  console.log(
    `engine only (generate, no encode)  ${fmt(engineRate).padStart(12)} reads/s   (${fmt(generated)} reads in ${engineMs} ms)`,
  );
  console.log(
    `raw avsc encode (ceiling)          ${fmt(encodeRate).padStart(12)} reads/s   (${(bytes / (sample.length * 3)).toFixed(1)} B/read)`,
  );
  console.log(
    `encode + produce, no simulation  ${fmt(produceOnlyRate).padStart(12)} reads/s   (${fmt(sample.length)} pre-generated reads: the kafkajs + broker ceiling)`,
  );
  console.log(
    `profiles produced to ami.meters    ${fmt(rate(fleet.size, profilesMs)).padStart(12)} profiles/s (${fmt(fleet.size)} in ${profilesMs} ms)`,
  );
  console.log(
    `simulate + encode + produce        ${fmt(readsRate).padStart(12)} reads/s   (${fmt(stats.reads)} reads + ${fmt(stats.events)} events in ${stats.wallMs} ms, ${fmt(produced)} records/s)`,
  );
  console.log('');
  console.log(`ratio produced / raw encode        ${(readsRate / encodeRate).toFixed(2)}`);
  console.log(`ratio produced / encode+produce    ${(readsRate / produceOnlyRate).toFixed(2)}`);
  console.log(`ratio produced / engine only       ${(readsRate / engineRate).toFixed(2)}`);
  console.log(`peak RSS                           ${mib(peakRss)}  (goal < 1536 MiB)`);
  console.log(
    `goal >= 100,000 reads/s produced:  ${readsRate >= 100_000 ? 'MET' : 'NOT MET'}; memory: ${peakRss < 1.5 * 1024 ** 3 ? 'MET' : 'NOT MET'}`,
  );
}

/** The bench's topics hold a few hundred MB: remove them. */
async function deleteTopics(
  cfg: ReturnType<typeof loadCommonConfig>,
  logger: ReturnType<typeof createLogger>,
  topics: string[],
): Promise<void> {
  const admin = createKafka(cfg, logger, 'bench-cleanup').admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  await admin.deleteTopics({ topics: topics.filter((t) => existing.has(t)) });
  await admin.disconnect();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
