import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import { AvroCodec, createKafka, createRegistry, schemaText, valueSubject, type MeterEvent } from '@ami/lib';
import { testConfig, testLogger, uniqueName } from '../support/fixtures.js';

const run = promisify(execFile);
const decoder = fileURLToPath(new URL('./independent/decode_confluent_avro.py', import.meta.url));

const events: MeterEvent[] = [
  {
    event_id: 'e-1',
    meter_id: 'M-0001',
    gardu_id: 'G-BALI-01',
    occurred_at: Date.UTC(2025, 5, 21, 2, 0, 0),
    type: 'RELAY_OPENED',
    relay: 'OPEN',
    cause: 'REMOTE_DISCONNECT',
    power_limit_va: null,
  },
  {
    event_id: 'e-2',
    meter_id: 'M-0002',
    gardu_id: 'G-BALI-01',
    occurred_at: Date.UTC(2025, 5, 21, 2, 0, 1),
    type: 'POWER_LIMIT_CHANGED',
    relay: 'CLOSED',
    cause: 'NONE',
    power_limit_va: 1300,
  },
];

/** The Confluent wire format, proven by the library we use and by a client nobody here wrote. */
describe('Avro in the Confluent wire format', () => {
  const cfg = testConfig();
  const topic = `${cfg.AMI_TOPIC_PREFIX}.events`;
  let kafka: Kafka;
  let registry: SchemaRegistry;

  beforeAll(async () => {
    kafka = createKafka(cfg, testLogger);
    registry = createRegistry(cfg);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
  });
  afterAll(async () => undefined);

  it('encodes with @kafkajs/confluent-schema-registry, and kafkajs and our codec read it back identical', async () => {
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: schemaText('MeterEvent') },
      { subject: valueSubject(topic) },
    );
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: await Promise.all(
        events.map(async (e) => ({ key: e.gardu_id, value: await registry.encode(id, e) })),
      ),
    });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: uniqueName('g') });
    const raw: Buffer[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void raw.push(message.value!) });
    const deadline = Date.now() + 30_000;
    while (raw.length < events.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await consumer.disconnect();

    expect(raw.map((b) => b[0])).toEqual([0, 0]);
    expect(raw.map((b) => b.readInt32BE(1))).toEqual([id, id]);
    expect(await Promise.all(raw.map((b) => registry.decode(b)))).toEqual(events);
    const codec = new AvroCodec(registry);
    expect(await Promise.all(raw.map((b) => codec.decode('MeterEvent', b)))).toEqual(events);
  });

  it("is decoded identically by Debian's python3-confluent-kafka Avro deserializer", async () => {
    const { stdout } = await run(
      '/usr/bin/python3',
      [decoder, cfg.KAFKA_BROKERS, cfg.SCHEMA_REGISTRY_URL, topic, uniqueName('py'), String(events.length)],
      { timeout: 90_000 },
    );
    const decoded = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { key: string; value: MeterEvent });
    expect(decoded.map((d) => d.key)).toEqual(events.map((e) => e.gardu_id));
    expect(decoded.map((d) => d.value)).toEqual(events);
  });

  it('frames our fast encoder exactly like the reference library', async () => {
    const subject = valueSubject(topic);
    const codec = new AvroCodec(registry);
    const id = await codec.register('MeterEvent', subject);
    const ours = codec.encoder('MeterEvent', id)(events[0]!);
    const theirs = await registry.encode(id, events[0]!);
    expect(ours.equals(theirs)).toBe(true);
  });
});
