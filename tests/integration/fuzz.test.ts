import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer, IHeaders, Kafka } from 'kafkajs';
import type { ClickHouseClient } from '@clickhouse/client';
import {
  AvroCodec,
  avroType,
  createClickHouse,
  createKafka,
  createLogger,
  createRegistry,
  ensureTopics,
  sqlIdent,
  topicNames,
  valueSubject,
  type CommonConfig,
  type MeterCommand,
  type MeterEvent,
  type MeterProfile,
  type MeterRead,
  type RecordName,
  type Topics,
} from '@ami/lib';
import { Rng } from '@ami/simulator/prng';
import { migrate } from '@ami/loader/migrate';
import { eventually, testConfig, uniqueName } from '../support/fixtures.js';
import { ServiceProcess } from '../support/pipeline.js';

/**
 * Fuzz: random bytes and mutated valid records (seeded PRNG, bounded count)
 * thrown at each consumer (loader, detector, head-end) as a real process on
 * the main stack. Each consumer must stay alive, put every message it cannot
 * use into <prefix>.dlq with source topic, partition, offset and reason, and
 * process every good one.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const N = Number(process.env.FUZZ_COUNT ?? 200);
const logger = createLogger('fuzz', 'fatal');
const NOW = Date.now();

type Kind = 'good' | 'bad' | 'maybe';
interface Case {
  kind: Kind;
  how: string;
  value: Buffer;
  key: string;
}

interface Letter {
  offset: string;
  partition: number;
  reason: string;
  headers: Record<string, string>;
}

function headerText(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {}))
    if (v !== undefined) out[k] = Buffer.isBuffer(v) ? v.toString() : String(v);
  return out;
}

/**
 * One mutation of a valid framed record. Returns whether the result is certainly
 * bad (`bad`) or might still decode to something acceptable (`maybe`).
 */
function mutate(rng: Rng, valid: Buffer): { kind: Kind; how: string; value: Buffer } {
  const v = Buffer.from(valid);
  switch (rng.int(0, 5)) {
    case 0: {
      const len = rng.int(0, 40);
      const b = Buffer.alloc(len);
      for (let i = 0; i < len; i++) b[i] = rng.int(0, 255);
      if (len > 0) b[0] = rng.int(1, 255); // never the magic byte: certainly not Confluent Avro
      return { kind: 'bad', how: 'random-bytes', value: b };
    }
    case 1:
      v[0] = rng.int(1, 255);
      return { kind: 'bad', how: 'wrong-magic', value: v };
    case 2:
      v.writeInt32BE(0x7fff0000 + rng.int(0, 1000), 1);
      return { kind: 'bad', how: 'unknown-schema-id', value: v };
    case 3:
      return { kind: 'bad', how: 'truncated', value: v.subarray(0, rng.int(5, Math.min(12, v.length - 1))) };
    case 4:
      return {
        kind: 'bad',
        how: 'trailing-garbage',
        value: Buffer.concat([v, Buffer.from([rng.int(1, 255), rng.int(0, 255)])]),
      };
    default: {
      const flips = rng.int(1, 3);
      for (let i = 0; i < flips; i++) v[rng.int(5, v.length - 1)] = rng.int(0, 255);
      return { kind: 'maybe', how: 'byte-flips', value: v };
    }
  }
}

async function readDlq(kafka: Kafka, topic: string, into: Letter[]): Promise<Consumer> {
  const c = kafka.consumer({ groupId: uniqueName('fuzz-dlq') });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await c.run({
    eachMessage: async ({ message }) => {
      const h = headerText(message.headers);
      into.push({
        offset: h['ami.source.offset'] ?? h.offset ?? '',
        partition: Number(h['ami.source.partition'] ?? h.partition),
        reason: h['ami.reason'] ?? h.reason ?? '',
        headers: h,
      });
    },
  });
  return c;
}

/** Every consumer gets its own prefix, so its DLQ holds only its own letters. */
class Target {
  readonly cfg: CommonConfig;
  readonly topics: Topics;
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly letters: Letter[] = [];
  /** Offsets in the source topic (one partition) of what was sent. */
  readonly sent = new Map<string, Case>();
  private consumers: Consumer[] = [];
  service?: ServiceProcess;

  constructor(readonly name: string) {
    this.cfg = testConfig();
    this.topics = topicNames(this.cfg.AMI_TOPIC_PREFIX);
    this.kafka = createKafka(this.cfg, logger, `fuzz-${name}`);
    this.codec = new AvroCodec(createRegistry(this.cfg));
  }

  async prepare(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    await ensureTopics(admin, this.cfg.AMI_TOPIC_PREFIX, { partitions: 1 });
    await admin.disconnect();
    this.consumers.push(await readDlq(this.kafka, this.topics.dlq, this.letters));
  }

  async encoder<N extends RecordName>(name: N, topic: string) {
    const id = await this.codec.register(name, valueSubject(topic));
    return this.codec.encoder(name, id);
  }

  async send(topic: string, cases: Case[]): Promise<void> {
    const producer = this.kafka.producer();
    await producer.connect();
    // One message per request: the offsets come back one by one, in order.
    for (const c of cases) {
      const [meta] = await producer.send({ topic, messages: [{ key: c.key, value: c.value }] });
      this.sent.set(String(meta!.baseOffset), c);
    }
    await producer.disconnect();
  }

  /** Publishes the meters' profiles (the services dead-letter traffic of unknown meters). */
  async publishMeters(meters: MeterProfile[]): Promise<void> {
    const encP = await this.encoder('MeterProfile', this.topics.meters);
    const producer = this.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: this.topics.meters,
      messages: meters.map((m) => ({ key: m.meter_id, value: encP(m) })),
    });
    await producer.disconnect();
  }

  /** Collects one string field of every record the service writes to `topic`. */
  async collect(topic: string, record: RecordName, field: string): Promise<string[]> {
    const seen: string[] = [];
    const consumer = this.kafka.consumer({ groupId: uniqueName(`fuzz-${this.name}-out`) });
    this.consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const type = avroType(record);
    await consumer.run({
      eachMessage: async ({ message }) =>
        void seen.push((type.fromBuffer(message.value!.subarray(5)) as Record<string, string>)[field]!),
    });
    return seen;
  }

  start(args: string[], env: Record<string, string>, logDir: string): void {
    this.service = new ServiceProcess(
      this.name,
      args,
      {
        ...env,
        AMI_TOPIC_PREFIX: this.cfg.AMI_TOPIC_PREFIX,
        LOG_LEVEL: process.env.FUZZ_LOG_LEVEL ?? 'warn',
      },
      join(logDir, `${this.name}.log`),
    );
  }

  /** The offsets of `kind` cases; and the DLQ checks shared by every consumer. */
  offsets(kind: Kind): string[] {
    return [...this.sent].filter(([, c]) => c.kind === kind).map(([o]) => o);
  }

  summary() {
    const byHow: Record<string, { sent: number; dlq: number }> = {};
    const dead = new Set(this.letters.map((l) => l.offset));
    for (const [o, c] of this.sent) {
      const s = (byHow[`${c.kind}:${c.how}`] ??= { sent: 0, dlq: 0 });
      s.sent++;
      if (dead.has(o)) s.dlq++;
    }
    const reasons: Record<string, number> = {};
    for (const l of this.letters) reasons[l.reason] = (reasons[l.reason] ?? 0) + 1;
    return { byHow, reasons };
  }

  async stop(): Promise<void> {
    await this.service?.kill('SIGTERM');
    for (const c of this.consumers) await c.disconnect().catch(() => undefined);
  }
}

function profile(i: number): MeterProfile {
  return {
    meter_id: `FZ-M${i}`,
    idpel: String(530000000000 + i),
    kdpm: 'L',
    phases: 1,
    tariff: 'R-1',
    daya_va: 2200,
    gardu_id: `FZ-G${i % 4}`,
    feeder_id: 'FZ-F1',
    ulp: 'ULP-FUZZ',
    region: 'BALI',
    timezone: 'Asia/Makassar',
    installed_at: Date.UTC(2024, 0, 1),
  };
}

function checkLetters(t: Target): void {
  const dead = new Map(t.letters.map((l) => [l.offset, l]));
  // Every DLQ record says where it came from and why.
  for (const l of t.letters) {
    expect(l.reason, JSON.stringify(l.headers)).not.toBe('');
    expect(l.offset).toMatch(/^\d+$/);
    expect(l.partition).toBe(0);
  }
  // Every certainly-bad message is in the DLQ; no good one is.
  for (const o of t.offsets('bad'))
    expect(dead.has(o), `${t.name}: ${t.sent.get(o)!.how} at offset ${o} not in the DLQ`).toBe(true);
  for (const o of t.offsets('good'))
    expect(dead.get(o)?.reason, `${t.name}: good message at offset ${o} dead-lettered`).toBeUndefined();
  // Each message at most once in the DLQ.
  expect(new Set(t.letters.map((l) => l.offset)).size).toBe(t.letters.length);
}

describe(`fuzz: random and mutated records at every consumer (seed ${SEED}, ${N} per consumer)`, () => {
  const logDir = mkdtempSync(join(tmpdir(), 'ami-fuzz-'));
  const base: Record<string, string> = {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
    CLICKHOUSE_URL: process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123',
  };
  const targets: Target[] = [];
  let ch: ClickHouseClient;
  const figures: Record<string, unknown> = {};

  beforeAll(() => {
    ch = createClickHouse(testConfig());
  });

  afterAll(async () => {
    for (const t of targets) await t.stop();
    await ch.close();
    process.stdout.write(`[fuzz] ${JSON.stringify(figures)}\n`);
    if (process.env.FUZZ_KEEP_LOGS) process.stdout.write(`[fuzz] service logs kept in ${logDir}\n`);
    else rmSync(logDir, { recursive: true, force: true });
  });

  it('loader: bad reads to the DLQ, good reads to ClickHouse, still running', async () => {
    const t = new Target('loader');
    targets.push(t);
    await t.prepare();
    const db = uniqueName('ami_fuzz');
    await migrate(ch, db, logger);
    const enc = await t.encoder('MeterRead', t.topics.reads);
    // The loader checks reads against the meters table (unknown meter, gardu, installation, rating).
    const encP = await t.encoder('MeterProfile', t.topics.meters);
    const producer = t.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: t.topics.meters,
      messages: Array.from({ length: N }, (_, i) => ({ key: `FZ-M${i}`, value: encP(profile(i)) })),
    });
    await producer.disconnect();
    const rng = new Rng(SEED);
    const read = (i: number): MeterRead => ({
      meter_id: `FZ-M${i}`,
      gardu_id: `FZ-G${i % 4}`,
      read_at: Math.floor((NOW - 86_400_000) / 900_000) * 900_000,
      interval_s: 900,
      energy_import_wh: 1_000_000 + i,
      demand_w: 300,
      voltage_v: 230,
      relay: 'CLOSED',
      power_limit_va: 2200,
      kind: 'INTERVAL',
    });
    const semantic: Array<[string, Partial<MeterRead>]> = [
      ['negative-energy', { energy_import_wh: -5 }],
      ['negative-demand', { demand_w: -1 }],
      ['future-timestamp', { read_at: NOW + 30 * 86_400_000 }],
      ['negative-interval', { interval_s: -900 }],
      ['unknown-meter', { meter_id: 'FZ-NOBODY' }],
      ['before-installation', { read_at: Date.UTC(2023, 0, 1) }],
      ['demand-above-rating', { demand_w: 2200 * 2 }],
    ];
    const cases: Case[] = [];
    for (let i = 0; i < N; i++) {
      const r = rng.int(0, 9);
      if (r < 4) cases.push({ kind: 'good', how: 'valid', value: enc(read(i)), key: read(i).gardu_id });
      else if (r < 6) {
        const [how, patch] = semantic[rng.int(0, semantic.length - 1)]!;
        cases.push({ kind: 'bad', how, value: enc({ ...read(i), ...patch }), key: 'FZ-G0' });
      } else cases.push({ ...mutate(rng, enc(read(i))), key: 'FZ-G0' });
    }
    t.start(
      ['loader', 'run'],
      {
        ...base,
        CLICKHOUSE_DB: db,
        LOADER_GROUP_ID: uniqueName('fuzz-loader'),
        LOADER_BILLING_REFRESH_S: '0',
        METRICS_PORT: '0',
      },
      logDir,
    );
    await t.send(t.topics.reads, cases);

    const loaded = async () => {
      const rs = await ch.query({
        query: `SELECT meter_id FROM ${sqlIdent(db)}.reads FINAL`,
        format: 'JSONEachRow',
      });
      return (await rs.json<{ meter_id: string }>()).map((r) => r.meter_id);
    };
    // Every message is accounted for: loaded or dead-lettered.
    await eventually(
      async () => ((await loaded()).length + t.letters.length >= cases.length ? true : undefined),
      {
        timeoutMs: 60_000,
        what: 'every fuzzed read loaded or in the DLQ',
      },
    );
    const rows = new Set(await loaded());
    expect(t.service!.alive).toBe(true);
    checkLetters(t);
    for (const o of t.offsets('good')) expect(rows.has(`FZ-M${[...t.sent.keys()].indexOf(o)}`)).toBe(true);
    expect(rows.size + t.letters.length).toBe(cases.length);
    figures.loader = { sent: cases.length, loaded: rows.size, dlq: t.letters.length, ...t.summary() };
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
  }, 120_000);

  it('detector: bad events and reads to the DLQ, good events processed, still running', async () => {
    const t = new Target('detector');
    targets.push(t);
    await t.prepare();
    const meters = Array.from({ length: 40 }, (_, i) => profile(i));
    const encE = await t.encoder('MeterEvent', t.topics.events);
    const encR = await t.encoder('MeterRead', t.topics.reads);
    await t.publishMeters(meters);
    const statuses = await t.collect(t.topics.meterStatus, 'MeterStatus', 'meter_id');

    const rng = new Rng(SEED + 1);
    const T = NOW - 3_600_000;
    const event = (i: number, m: MeterProfile): MeterEvent => ({
      event_id: `fz-${i}`,
      meter_id: m.meter_id,
      gardu_id: m.gardu_id,
      occurred_at: T + i * 10,
      type: 'POWER_LIMIT_CHANGED',
      relay: 'CLOSED',
      cause: 'NONE',
      power_limit_va: 1300,
    });
    // Good first (each meter's first event changes its status), then the bad and the doubtful.
    const good: Case[] = meters.map((m, i) => ({
      kind: 'good',
      how: 'valid',
      value: encE({ ...event(i, m), type: 'LAST_GASP', power_limit_va: null }),
      key: m.gardu_id,
    }));
    const semantic: Array<[string, (e: MeterEvent) => MeterEvent]> = [
      ['unknown-meter', (e) => ({ ...e, meter_id: 'NOBODY' })],
      ['future-timestamp', (e) => ({ ...e, occurred_at: NOW + 30 * 86_400_000 })],
      ['before-installation', (e) => ({ ...e, occurred_at: Date.UTC(2020, 0, 1) })],
      ['gardu-mismatch', (e) => ({ ...e, gardu_id: 'FZ-G-NONE' })],
    ];
    const rest: Case[] = [];
    for (let i = 0; i < N - good.length; i++) {
      const e = event(1000 + i, meters[rng.int(0, meters.length - 1)]!);
      if (rng.int(0, 3) === 0) {
        const [how, f] = semantic[rng.int(0, semantic.length - 1)]!;
        rest.push({ kind: 'bad', how, value: encE(f(e)), key: e.gardu_id });
      } else rest.push({ ...mutate(rng, encE(e)), key: e.gardu_id });
    }
    t.start(
      ['detector', 'run'],
      {
        ...base,
        DETECTOR_GROUP_ID: uniqueName('fuzz-det'),
        DETECTOR_INSTANCE_ID: uniqueName('i'),
        DETECTOR_PARTITIONS: '1',
        IDLE_ADVANCE_MS: '1000',
        ALLOWED_LATENESS_MS: '5000',
      },
      logDir,
    );
    // Reads move the watermark of the reads partition (an input that never saw a record holds it back).
    const producerR = t.kafka.producer();
    await producerR.connect();
    await producerR.send({
      topic: t.topics.reads,
      messages: meters.map((m, i) => ({
        key: m.gardu_id,
        value: encR({
          meter_id: m.meter_id,
          gardu_id: m.gardu_id,
          read_at: Math.floor(T / 900_000) * 900_000,
          interval_s: 900,
          energy_import_wh: 5_000 + i,
          demand_w: 100,
          voltage_v: 228,
          relay: 'CLOSED',
          power_limit_va: 2200,
          kind: 'INTERVAL',
        }),
      })),
    });
    await producerR.disconnect();
    await t.send(t.topics.events, good);
    await eventually(
      () => {
        if (new Set(statuses).size >= meters.length) return true;
        throw new Error(
          `statuses of ${new Set(statuses).size} meters; DLQ ${JSON.stringify(t.summary().reasons)}`,
        );
      },
      { timeoutMs: 60_000, what: 'a status for every meter' },
    );
    await t.send(t.topics.events, rest);
    const bad = t.offsets('bad');
    await eventually(() => (bad.every((o) => t.letters.some((l) => l.offset === o)) ? true : undefined), {
      timeoutMs: 60_000,
      what: 'every bad event in the DLQ',
    });
    expect(t.service!.alive).toBe(true);
    checkLetters(t);
    figures.detector = {
      sent: good.length + rest.length,
      good: good.length,
      dlq: t.letters.length,
      statusesOfGoodMeters: new Set(statuses).size,
      ...t.summary(),
    };
  }, 120_000);

  it('head-end: bad commands to the DLQ, every other command answered, still running', async () => {
    const t = new Target('headend');
    targets.push(t);
    await t.prepare();
    const meters = Array.from({ length: 10 }, (_, i) => profile(i));
    const encC = await t.encoder('MeterCommand', t.topics.commands);
    await t.publishMeters(meters);
    const results = await t.collect(t.topics.commandResults, 'CommandResult', 'command_id');

    const rng = new Rng(SEED + 2);
    const command = (i: number): MeterCommand => ({
      command_id: `fz-c${i}`,
      meter_id: meters[i % meters.length]!.meter_id,
      issued_at: NOW,
      type: 'READ_NOW',
      power_limit_va: null,
      issued_by: 'fuzz',
      reason: null,
    });
    const cases: Case[] = [];
    for (let i = 0; i < Math.min(N, 120); i++) {
      if (rng.int(0, 2) === 0)
        cases.push({ kind: 'good', how: 'valid', value: encC(command(i)), key: command(i).meter_id });
      else cases.push({ ...mutate(rng, encC(command(i))), key: command(i).meter_id });
    }
    t.start(['headend'], { ...base, HEADEND_GROUP_ID: uniqueName('fuzz-he'), SIM_PARTITIONS: '1' }, logDir);
    await t.send(t.topics.commands, cases);
    await eventually(() => (results.length + t.letters.length >= cases.length ? true : undefined), {
      timeoutMs: 60_000,
      what: 'every command answered or dead-lettered',
    });
    expect(t.service!.alive).toBe(true);
    checkLetters(t);
    const answered = new Set(results);
    for (const o of t.offsets('good')) {
      const i = [...t.sent.keys()].indexOf(o);
      expect(answered.has(`fz-c${i}`)).toBe(true);
    }
    expect(results.length + t.letters.length).toBe(cases.length);
    figures.headend = { sent: cases.length, answered: results.length, dlq: t.letters.length, ...t.summary() };
  }, 120_000);
});
