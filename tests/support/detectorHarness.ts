import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CompressionTypes, type Consumer, type IHeaders, type Kafka, type Producer } from 'kafkajs';
import {
  AvroCodec,
  createKafka,
  createRegistry,
  ensureTopics,
  topicNames,
  valueSubject,
  type CommonConfig,
  type MeterEvent,
  type MeterProfile,
  type MeterRead,
  type Outage,
  type RecordName,
  type RecordTypes,
} from '@ami/lib';
import { testConfig, testLogger, uniqueName } from './fixtures.js';
import { loadDetectorConfig } from '@ami/detector/config';
import { loadSimulatorConfig } from '@ami/simulator/config';
import { HeadEnd } from '@ami/simulator/headendService';
import { Publisher } from '@ami/simulator/publisher';
import type { InterruptionTruth, SummaryTruth } from '@ami/simulator/groundTruth';

/** Produces hand-crafted Avro inputs for the detector and collects its outputs. */
/**
 * The environment of a detector the test drives by hand: its own topic prefix, group and
 * instance, 3 partitions, warnings only; `over` adds what the test is about.
 */
export function handDrivenDetectorEnv(
  prefix: string,
  over: Record<string, string> = {},
): Record<string, string> {
  return {
    AMI_TOPIC_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    DETECTOR_GROUP_ID: uniqueName('ami-detector'),
    DETECTOR_INSTANCE_ID: uniqueName('i'),
    DETECTOR_PARTITIONS: '3',
    ...over,
  };
}

/**
 * A detector's harness, the simulated world (its supply topic) and the real head-end on one fresh
 * prefix and 3 partitions, none started: the head-end answers pings at `latencyScale` of its media's
 * latency (1 = real time), drawn from `seed`.
 */
export function headEndRig(latencyScale: number, seed: number) {
  const prefix = testConfig().AMI_TOPIC_PREFIX;
  const h = new DetectorHarness(loadDetectorConfig({ ...process.env, AMI_TOPIC_PREFIX: prefix }));
  const simCfg = loadSimulatorConfig({
    ...process.env,
    AMI_TOPIC_PREFIX: prefix,
    HEADEND_GROUP_ID: uniqueName('headend'),
    HEADEND_LATENCY_SCALE: String(latencyScale),
    HEADEND_SEED: String(seed),
    SIM_PARTITIONS: '3',
  });
  const kafka = createKafka(simCfg, testLogger);
  const codec = new AvroCodec(createRegistry(simCfg));
  return {
    prefix,
    h,
    head: new HeadEnd(kafka, simCfg, codec, testLogger),
    world: new Publisher(kafka, simCfg, codec, 3),
  };
}

export class DetectorHarness {
  readonly topics;
  readonly kafka: Kafka;
  private producer!: Producer;
  private readonly codec: AvroCodec;
  private readonly consumers: Consumer[] = [];

  constructor(private readonly cfg: CommonConfig) {
    this.topics = topicNames(cfg.AMI_TOPIC_PREFIX);
    this.kafka = createKafka(cfg, testLogger);
    this.codec = new AvroCodec(createRegistry(cfg));
  }

  async start(partitions = 3): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    await ensureTopics(admin, this.cfg.AMI_TOPIC_PREFIX, { partitions });
    await admin.disconnect();
    this.producer = this.kafka.producer({ idempotent: true });
    await this.producer.connect();
  }

  async meters(profiles: MeterProfile[]): Promise<void> {
    await this.send(
      'MeterProfile',
      this.topics.meters,
      profiles.map((p) => [p.meter_id, p]),
    );
  }

  async events(events: MeterEvent[]): Promise<void> {
    await this.send(
      'MeterEvent',
      this.topics.events,
      events.map((e) => [e.gardu_id, e]),
    );
  }

  async reads(reads: MeterRead[], compression = CompressionTypes.None): Promise<void> {
    await this.send(
      'MeterRead',
      this.topics.reads,
      reads.map((r) => [r.gardu_id, r]),
      compression,
    );
  }

  async raw(topic: string, key: string, value: Buffer): Promise<void> {
    await this.producer.send({ topic, messages: [{ key, value }] });
  }

  private async send<N extends RecordName>(
    name: N,
    topic: string,
    records: Array<[string, RecordTypes[N]]>,
    compression = CompressionTypes.None,
  ): Promise<void> {
    const encode = this.codec.encoder(name, await this.codec.register(name, valueSubject(topic)));
    await this.producer.send({
      topic,
      compression,
      messages: records.map(([key, value]) => ({ key, value: encode(value) })),
    });
  }

  /** Everything committed to `topic`, decoded as `name`, appended as it arrives. */
  async collect<N extends RecordName>(
    name: N,
    topic: string,
  ): Promise<Array<RecordTypes[N] & { headers?: IHeaders }>> {
    const got: Array<RecordTypes[N]> = [];
    const consumer = this.kafka.consumer({ groupId: `test.${randomUUID()}`, readUncommitted: false });
    this.consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => void got.push(await this.codec.decode(name, message.value!)),
    });
    return got;
  }

  /** Raw messages (key, headers) of `topic`, e.g. the DLQ. */
  async collectRaw(topic: string): Promise<Array<{ key: string | null; headers: Record<string, string> }>> {
    const got: Array<{ key: string | null; headers: Record<string, string> }> = [];
    const consumer = this.kafka.consumer({ groupId: `test.${randomUUID()}`, readUncommitted: false });
    this.consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) =>
        void got.push({
          key: message.key?.toString() ?? null,
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        }),
    });
    return got;
  }

  async stop(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.disconnect()));
    await this.producer?.disconnect();
  }
}

export function profile(
  meterId: string,
  garduId: string,
  feederId = 'F1',
  kdpm: MeterProfile['kdpm'] = 'L',
): MeterProfile {
  return {
    meter_id: meterId,
    idpel: '512345678901',
    kdpm,
    phases: 1,
    tariff: 'R-1',
    daya_va: 1300,
    gardu_id: garduId,
    feeder_id: feederId,
    ulp: 'ULP-DENPASAR',
    region: 'BALI',
    timezone: 'Asia/Makassar',
    installed_at: 0,
  };
}

export function ev(
  id: string,
  meterId: string,
  garduId: string,
  type: MeterEvent['type'],
  at: number,
  extra: Partial<MeterEvent> = {},
): MeterEvent {
  return {
    event_id: id,
    meter_id: meterId,
    gardu_id: garduId,
    occurred_at: at,
    type,
    relay: 'CLOSED',
    cause: 'NONE',
    power_limit_va: null,
    ...extra,
  };
}

export function rd(meterId: string, garduId: string, at: number): MeterRead {
  return {
    meter_id: meterId,
    gardu_id: garduId,
    read_at: at,
    interval_s: 900,
    energy_import_wh: 1000,
    demand_w: 100,
    voltage_v: 220,
    relay: 'CLOSED',
    power_limit_va: 1300,
    kind: 'INTERVAL',
  };
}

const run = promisify(execFile);
const TOLERANCE_MS = 3 * 60_000;

/**
 * Runs a named scenario of the simulator as fast as possible; returns its ground truth. `args`:
 * more options of `ami simulate` (e.g. `--place-by key`).
 */
export async function simulate(
  prefix: string,
  scenario: string,
  args: string[] = [],
): Promise<{ interruptions: InterruptionTruth[]; summary: SummaryTruth }> {
  const truth = join(tmpdir(), `${prefix}.truth.jsonl`);
  await run(
    process.execPath,
    [
      '--import',
      'tsx',
      'packages/cli/src/ami.ts',
      'simulate',
      '--scenario',
      scenario,
      '--speed',
      'max',
      '--truth',
      truth,
      ...args,
    ],
    {
      env: { ...process.env, AMI_TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const lines = readFileSync(truth, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kind: string });
  return {
    interruptions: lines.filter((l): l is InterruptionTruth => l.kind === 'interruption'),
    summary: lines.find((l): l is SummaryTruth => l.kind === 'summary')!,
  };
}

const near = (a: number | null, b: number) => a !== null && Math.abs(a - b) <= TOLERANCE_MS;

/** Does a published outage (latest record) describe this true interruption? */
function matches(o: Outage, t: InterruptionTruth): boolean {
  if (!near(o.started_at, t.start) || !near(o.restored_at, t.end)) return false;
  if (t.scope === 'GARDU') return o.scope === 'GARDU' && o.gardu_id === t.gardu_id;
  if (t.scope === 'FEEDER') return o.scope === 'FEEDER' && o.feeder_id === t.feeder_id;
  if (t.scope === 'REGION') return o.region === t.region && o.scope !== 'METER';
  return (
    o.scope === 'METER' && o.gardu_id === t.gardu_id && o.meter_ids.join() === [...t.meter_ids].sort().join()
  );
}

/** Precision and recall over top-level outages (children of a matched parent are its detail). */
export function score(
  outages: Outage[],
  truths: InterruptionTruth[],
): { precision: number; recall: number; missed: InterruptionTruth[]; extra: Outage[] } {
  const top = outages.filter((o) => o.parent_outage_id === null);
  const found = truths.filter((t) => top.some((o) => matches(o, t)));
  const real = top.filter((o) => truths.some((t) => matches(o, t)));
  return {
    precision: top.length === 0 ? 1 : real.length / top.length,
    recall: truths.length === 0 ? 1 : found.length / truths.length,
    missed: truths.filter((t) => !found.includes(t)),
    extra: top.filter((o) => !real.includes(o)),
  };
}
