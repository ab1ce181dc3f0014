/**
 * npm run bench:simulator
 *
 * The simulator in as-fast-as-possible mode with the 1.2-million-meter
 * topology, producing to the local broker, beside ceilings and a baseline
 * measured in the same run: the engine alone (records generated, nothing
 * encoded), the raw avsc encode rate of the same reads, Kafka's own
 * ProducerPerformance (same jars as the broker, records as large as a read,
 * acks=all, idempotent), and "before": the same publisher through kafkajs
 * (the client used until issue 3), and @platformatic/kafka producing the same
 * reads (encode + produce, idempotent, acks=all): the comparison that keeps
 * the wire producer justified by a figure. Then the wire publisher again in
 * the production configuration, SASL_SSL (SCRAM-SHA-512) to a secured broker
 * started for the run (packages/lib/bench/securedKafka.ts; BENCH_SECURED=0
 * skips it), with its ratio to plain. Prints figures, ratios and peak memory.
 * Goal (issue 3): >= 100k reads/s produced, < 1.5 GiB; issue 18: secured >= 0.8 of plain.
 *
 * Env: BENCH_METERS (1200000), BENCH_DURATION (30m: two rounds of reads),
 * BENCH_ROUNDS (3: the wire publisher's runs, plain and SASL_SSL interleaved; medians and spread),
 * BENCH_BEFORE_DURATION (15m: the kafkajs run is slow), BENCH_PERF (1: run
 * ProducerPerformance; 0 skips it), plus the usual KAFKA_BROKERS /
 * SCHEMA_REGISTRY_URL (default: the local stack).
 */
import {
  AvroCodec,
  avroType,
  createKafka,
  createLogger,
  createRegistry,
  frame,
  loadCommonConfig,
  partitionForKey,
  type MeterRead,
} from '@ami/lib';
import { clientEnv, loadStackSettings } from '@ami/stack';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Producer as PlatformaticProducer } from '@platformatic/kafka';
import { cpuSecondsOf, withSecuredKafka, securedRatio, type SecuredKafka } from '@ami/lib/bench/securedKafka';
import { producerPerformance } from '@ami/loadtest/baseline';
import { Fleet } from '../src/fleet.js';
import { Publisher } from '../src/publisher.js';
import { subjectOf } from '../src/schemas.js';
import { runSimulation } from '../src/run.js';
import { parseDuration, parseScenarioText } from '../src/scenario.js';
import { Simulation } from '../src/simulation.js';

const METERS = Number(process.env.BENCH_METERS ?? 1_200_000);
const DURATION = process.env.BENCH_DURATION ?? '30m';
const BEFORE_DURATION = process.env.BENCH_BEFORE_DURATION ?? '15m';
const PERF = process.env.BENCH_PERF !== '0';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
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

async function main(secured: SecuredKafka | undefined): Promise<void> {
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

  // Ceiling 1: the engine alone over the same simulated time as the "after" run (no encoding, no Kafka).
  t0 = Date.now();
  const sample: MeterRead[] = [];
  let generated = 0;
  const sim = new Simulation({
    fleet,
    scenario,
    startMs: START,
    durationMs: parseDuration(DURATION),
    batchSize: 25_000,
  });
  for (const b of sim.run()) {
    generated += b.reads.length;
    if (sample.length < 300_000) sample.push(...b.reads.slice(0, 300_000 - sample.length));
  }
  const engineMs = Date.now() - t0;

  // Ceiling 2: raw avsc encoding of the same reads (no framing, no Kafka), after a warm-up pass.
  const type = avroType('MeterRead');
  for (const r of sample.slice(0, 50_000)) type.toBuffer(r);
  t0 = Date.now();
  let bytes = 0;
  for (let k = 0; k < 3; k++) for (const r of sample) bytes += type.toBuffer(r).length;
  const encodeMs = Date.now() - t0;
  const encodeRate = rate(sample.length * 3, encodeMs);

  const kafka = createKafka(cfg, logger, 'bench-simulator');
  const codec = new AvroCodec(createRegistry(cfg));
  const run = (publisher: Publisher, duration: string) =>
    runSimulation(
      {
        fleet,
        scenario: { ...scenario, duration },
        startMs: START,
        durationMs: parseDuration(duration),
        batchSize: 25_000,
        speed: { mode: 'max' },
        inFlight: publisher.pipelineDepth,
      },
      (b) => publisher.publishBatch(b),
    );
  /** Encode + produce of the sample, after an untimed warm-up batch. */
  const produceSample = async (publisher: Publisher) => {
    await publisher.publishBatch({ reads: sample.slice(0, 25_000), events: [] });
    const t = Date.now();
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < sample.length; i += 25_000) {
      if (pending.length >= publisher.pipelineDepth) await pending.shift();
      pending.push(publisher.publishBatch({ reads: sample.slice(i, i + 25_000), events: [] }));
    }
    await Promise.all(pending);
    return rate(sample.length, Date.now() - t);
  };

  // Before: the same publisher through kafkajs (acks=-1, idempotent), as until issue 3.
  const before = new Publisher(kafka, cfg, codec, 6, 'kafkajs');
  await before.start();
  const beforeProduceOnly = await produceSample(before);
  const beforeStats = await run(before, BEFORE_DURATION);
  await before.stop();

  // After: the wire producer (acks=-1, idempotent), plain and (in the production configuration)
  // SASL_SSL to the secured broker, in interleaved rounds: encode + produce of already generated
  // reads, then simulate + encode + produce. The same code, one broker each.
  const publisher = new Publisher(kafka, cfg, codec, 6);
  await publisher.start();
  t0 = Date.now();
  await publisher.publishFleet(fleet);
  const profilesMs = Date.now() - t0;
  // The secured publisher publishes the fleet too, as the simulator always does before traffic
  // (the profiles name each gardu's feeder, which places its reads and events).
  const securedPublisher = secured ? await startSecuredPublisher(secured, cfg, codec, logger) : undefined;
  t0 = Date.now();
  await securedPublisher?.publishFleet(fleet);
  const securedProfilesMs = Date.now() - t0;
  const plainRounds: Round[] = [];
  const securedRounds: Round[] = [];
  const stackBrokerPid = Number(
    readFileSync(join(loadStackSettings().AMI_HOME, 'run', 'kafka.pid'), 'utf8').trim(),
  );
  /** A round of `p`, with CPU seconds per million reads of this process and of `brokerPid` over both parts. */
  const round = async (p: Publisher, brokerPid: number): Promise<Round> => {
    const cpu0 = process.cpuUsage();
    const broker0 = cpuSecondsOf(brokerPid);
    const produceOnly = await produceSample(p);
    const stats = await run(p, DURATION);
    const cpu = process.cpuUsage(cpu0);
    const perMillion = (seconds: number) => (seconds / (sample.length + stats.reads)) * 1e6;
    return {
      produceOnly,
      stats,
      reads: rate(stats.reads, stats.wallMs),
      clientCpu: perMillion((cpu.user + cpu.system) / 1e6),
      brokerCpu: perMillion(cpuSecondsOf(brokerPid) - broker0),
    };
  };
  for (let i = 0; i < ROUNDS; i++) {
    plainRounds.push(await round(publisher, stackBrokerPid));
    if (securedPublisher) securedRounds.push(await round(securedPublisher, secured!.pid));
    const cpuOf = (r: Round) => `CPU-s/M client ${r.clientCpu.toFixed(2)}, broker ${r.brokerCpu.toFixed(2)}`;
    console.log(
      `round ${i + 1} CPU: plain ${cpuOf(plainRounds[i]!)}${securedPublisher ? `; SASL_SSL ${cpuOf(securedRounds[i]!)}` : ''}`,
    );
    console.log(
      `round ${i + 1}: produce only ${fmt(plainRounds[i]!.produceOnly)}${securedPublisher ? ` / SASL_SSL ${fmt(securedRounds[i]!.produceOnly)}` : ''} reads/s; simulate + produce ${fmt(plainRounds[i]!.reads)}${securedPublisher ? ` / SASL_SSL ${fmt(securedRounds[i]!.reads)}` : ''} reads/s`,
    );
  }
  await publisher.stop();
  await securedPublisher?.stop();
  const produceOnlyRate = median(plainRounds.map((r) => r.produceOnly));
  const stats = medianRound(plainRounds).stats;

  // @platformatic/kafka: the same reads encoded (Confluent framing) and produced, idempotent, acks=all.
  const platformaticProduceOnly = await platformaticSample(cfg, publisher.topics.reads, codec, sample);

  // Ceiling: Kafka's own producer, records as large as a read, acks=all, idempotent.
  const perfTopic = `${cfg.AMI_TOPIC_PREFIX}.perf`;
  let perfRate = 0;
  let perfNote = 'skipped (BENCH_PERF=0)';
  if (PERF) {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: perfTopic, numPartitions: 6 }], waitForLeaders: true });
    await admin.disconnect();
    const perf = await producerPerformance({
      brokers: cfg.KAFKA_BROKERS,
      topic: perfTopic,
      records: Math.max(sample.length, 1_000_000),
      recordSize: Math.round(bytes / (sample.length * 3)) + 5,
      timeoutMs: 180_000,
    });
    perfRate = perf.recordsPerSec;
    perfNote = perf.error ?? `${fmt(perf.records)} records of ${perf.recordSize} B, acks=all, idempotent`;
  }
  await deleteTopics(cfg, logger, [...Object.values(publisher.topics), perfTopic]);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);

  const produced = rate(stats.reads + stats.events, stats.wallMs);
  const readsRate = median(plainRounds.map((r) => r.reads));
  const beforeRate = rate(beforeStats.reads, beforeStats.wallMs);
  const engineRate = rate(generated, engineMs);
  const line = (label: string, n: number, unit: string, note: string) =>
    console.log(`${label.padEnd(40)} ${fmt(n).padStart(10)} ${unit.padEnd(10)} ${note}`);
  const ratio = (label: string, a: number, b: number) =>
    console.log(`${label.padEnd(40)} ${b > 0 ? (a / b).toFixed(2) : 'n/a'}`);
  console.log('');
  console.log(
    `fleet ${fmt(fleet.size)} meters (BENCH_METERS), ${DURATION} simulated (before: ${BEFORE_DURATION})`,
  );
  line(
    'engine only (generate, no encode)',
    engineRate,
    'reads/s',
    `(${fmt(generated)} reads in ${engineMs} ms)`,
  );
  line(
    'raw avsc encode (ceiling)',
    encodeRate,
    'reads/s',
    `(${(bytes / (sample.length * 3)).toFixed(1)} B/read)`,
  );
  line('Kafka ProducerPerformance (Java client)', Math.round(perfRate), 'records/s', perfNote);
  line(
    'before: encode + produce, kafkajs',
    beforeProduceOnly,
    'reads/s',
    `(${fmt(sample.length)} pre-generated reads)`,
  );
  line('after:  encode + produce, wire', produceOnlyRate, 'reads/s', `(the same reads, median of ${ROUNDS})`);
  line(
    'encode + produce, @platformatic/kafka',
    platformaticProduceOnly,
    'reads/s',
    `(the same reads; 1.35.0, the last release for Node 20; one send at a time)`,
  );
  line(
    'before: simulate + encode + produce',
    beforeRate,
    'reads/s',
    `(${fmt(beforeStats.reads)} reads + ${fmt(beforeStats.events)} events in ${beforeStats.wallMs} ms)`,
  );
  line(
    'after:  simulate + encode + produce',
    readsRate,
    'reads/s',
    `(median of ${ROUNDS}: ${fmt(stats.reads)} reads + ${fmt(stats.events)} events in ${stats.wallMs} ms, ${fmt(produced)} records/s)`,
  );
  line(
    'after:  profiles produced to ami.meters',
    rate(fleet.size, profilesMs),
    'profiles/s',
    `(${fmt(fleet.size)} in ${profilesMs} ms)`,
  );
  if (secured)
    line(
      'SASL_SSL: profiles produced to ami.meters',
      rate(fleet.size, securedProfilesMs),
      'profiles/s',
      `(${fmt(fleet.size)} in ${securedProfilesMs} ms)`,
    );
  console.log('');
  ratio('ratio after / before (simulate+produce)', readsRate, beforeRate);
  ratio('ratio after / before (produce only)', produceOnlyRate, beforeProduceOnly);
  ratio('ratio wire / @platformatic (produce only)', produceOnlyRate, platformaticProduceOnly);
  ratio('ratio produce only / ProducerPerformance', produceOnlyRate, perfRate);
  ratio('ratio produced / ProducerPerformance', readsRate, perfRate);
  ratio('ratio produced / raw encode', readsRate, encodeRate);
  ratio('ratio produced / engine only', readsRate, engineRate);
  if (securedRounds.length > 0) {
    const spread = (rs: Round[], f: (r: Round) => number) =>
      `median of ${rs.length}, ${fmt(Math.min(...rs.map(f)))}-${fmt(Math.max(...rs.map(f)))}`;
    const securedProduceOnly = median(securedRounds.map((r) => r.produceOnly));
    const securedReads = median(securedRounds.map((r) => r.reads));
    const pairs = (f: (r: Round) => number) =>
      plainRounds.map((r, i) => f(securedRounds[i]!) / f(r)).map((x) => x.toFixed(2));
    console.log('');
    line(
      'plain: encode + produce, wire',
      produceOnlyRate,
      'reads/s',
      `(${spread(plainRounds, (r) => r.produceOnly)})`,
    );
    line(
      'SASL_SSL: encode + produce, wire',
      securedProduceOnly,
      'reads/s',
      `(${spread(securedRounds, (r) => r.produceOnly)})`,
    );
    line(
      'plain: simulate + encode + produce',
      readsRate,
      'reads/s',
      `(${spread(plainRounds, (r) => r.reads)})`,
    );
    line(
      'SASL_SSL: simulate + encode + produce',
      securedReads,
      'reads/s',
      `(${spread(securedRounds, (r) => r.reads)})`,
    );
    const cpuMedian = (rs: Round[]) =>
      `client ${median(rs.map((r) => r.clientCpu)).toFixed(2)}, broker ${median(rs.map((r) => r.brokerCpu)).toFixed(2)}`;
    console.log(
      `${'CPU-s per million reads (median)'.padEnd(40)} plain: ${cpuMedian(plainRounds)}; SASL_SSL: ${cpuMedian(securedRounds)}`,
    );
    // The rate ratio if the cores were the only limit; the stack's broker also serves other users (its CPU is an upper bound).
    const total = (rs: Round[]) => median(rs.map((r) => r.clientCpu)) + median(rs.map((r) => r.brokerCpu));
    console.log(
      `${'ratio when the cores are the limit'.padEnd(40)} ${securedRatio(total(plainRounds), total(securedRounds))}  (plain / SASL_SSL CPU per read, client + broker)`,
    );
    console.log(
      `${'ratio SASL_SSL / plain (produce only)'.padEnd(40)} ${securedRatio(securedProduceOnly, produceOnlyRate)}  (round by round: ${pairs((r) => r.produceOnly).join(', ')})`,
    );
    console.log(
      `${'ratio SASL_SSL / plain (simulate+produce)'.padEnd(40)} ${securedRatio(securedReads, readsRate)}  (round by round: ${pairs((r) => r.reads).join(', ')}; goal >= 0.8)`,
    );
  }
  console.log(`${'peak RSS'.padEnd(40)} ${mib(peakRss)}  (goal < 1536 MiB)`);
  console.log(
    `goal >= 100,000 reads/s produced:  ${readsRate >= 100_000 ? 'MET' : 'NOT MET'}; memory: ${peakRss < 1.5 * 1024 ** 3 ? 'MET' : 'NOT MET'}`,
  );
}

/** One round of the wire publisher: encode + produce of the sample, then simulate + encode + produce. */
interface Round {
  produceOnly: number;
  stats: Awaited<ReturnType<typeof runSimulation>>;
  reads: number;
  /** CPU seconds per million reads over the round, of this process and of the broker's JVM. */
  clientCpu: number;
  brokerCpu: number;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** The round whose simulate + produce rate is the median. */
function medianRound(rounds: Round[]): Round {
  return [...rounds].sort((a, b) => a.reads - b.reads)[Math.floor(rounds.length / 2)]!;
}

/** The wire publisher over SASL_SSL to the secured broker, the same topics as the plain run. */
async function startSecuredPublisher(
  secured: SecuredKafka,
  cfg: ReturnType<typeof loadCommonConfig>,
  codec: AvroCodec,
  logger: ReturnType<typeof createLogger>,
): Promise<Publisher> {
  const securedCfg = loadCommonConfig({
    ...process.env,
    ...secured.env,
    AMI_TOPIC_PREFIX: cfg.AMI_TOPIC_PREFIX,
    LOG_LEVEL: 'warn',
  });
  const p = new Publisher(createKafka(securedCfg, logger, 'bench-simulator-secured'), securedCfg, codec, 6);
  await p.start();
  return p;
}

/**
 * Encode + produce of `sample` through @platformatic/kafka (idempotent, acks=all), partitioned as
 * the wire producer does, 25,000 reads a send, after an untimed warm-up send; reads/s. One send at
 * a time: with sends pipelined (4 in flight, as the other publishers run) 1.35.0's idempotent
 * producer gets OUT_OF_ORDER_SEQUENCE_NUMBER (45) from the broker on every partition (2026-12-06).
 */
async function platformaticSample(
  cfg: ReturnType<typeof loadCommonConfig>,
  topic: string,
  codec: AvroCodec,
  sample: MeterRead[],
): Promise<number> {
  const id = await codec.register('MeterRead', subjectOf(cfg.AMI_TOPIC_PREFIX, 'MeterRead'));
  const type = avroType('MeterRead');
  const producer = new PlatformaticProducer({
    clientId: 'bench-platformatic',
    bootstrapBrokers: cfg.KAFKA_BROKERS.split(','),
    idempotent: true,
    acks: -1,
  });
  const send = (reads: MeterRead[]) =>
    producer.send({
      messages: reads.map((r) => {
        const key = Buffer.from(r.gardu_id);
        return { topic, key, value: frame(id, type.toBuffer(r)), partition: partitionForKey(key, 6) };
      }),
    });
  try {
    await send(sample.slice(0, 25_000));
    const t = Date.now();
    for (let i = 0; i < sample.length; i += 25_000) await send(sample.slice(i, i + 25_000));
    return rate(sample.length, Date.now() - t);
  } catch (err) {
    // Reported, not fatal: the other figures of the run still stand.
    console.error('@platformatic/kafka failed:', inspect(err, { depth: 8 }).replace(/^\s+at .*\n/gm, ''));
    return 0;
  } finally {
    await producer.close();
  }
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

withSecuredKafka(main).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
