import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { createKafka } from '@ami/lib';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';

/** Proves the local broker is a real Kafka that kafkajs works with. */
describe('Kafka broker with kafkajs', () => {
  let kafka: Kafka;
  let admin: Admin;

  beforeAll(async () => {
    kafka = createKafka(testConfig(), testLogger);
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
  });

  it('creates a compacted topic and reports its cleanup policy', async () => {
    const topic = uniqueName('compact');
    await admin.createTopics({
      topics: [{ topic, numPartitions: 3, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      waitForLeaders: true,
    });
    const described = await admin.describeConfigs({
      resources: [{ type: 2 /* TOPIC */, name: topic, configNames: ['cleanup.policy'] }],
      includeSynonyms: false,
    });
    expect(described.resources[0]!.configEntries[0]!.configValue).toBe('compact');
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]!.partitions).toHaveLength(3);
  });

  it('delivers produced messages to a consumer group, each once, in order per key', async () => {
    const topic = uniqueName('group');
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    const sent = Array.from({ length: 300 }, (_, i) => ({ key: `k${i % 7}`, value: String(i) }));
    await producer.send({ topic, messages: sent });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: uniqueName('g') });
    const got: { key: string; value: number }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        got.push({ key: message.key!.toString(), value: Number(message.value!.toString()) });
      },
    });
    await eventually(() => (got.length >= sent.length ? true : undefined), { what: '300 messages' });
    await consumer.disconnect();

    expect(got).toHaveLength(300);
    for (let k = 0; k < 7; k++) {
      const values = got.filter((m) => m.key === `k${k}`).map((m) => m.value);
      expect(values).toEqual([...values].sort((a, b) => a - b));
    }
  });

  it('makes a committed transaction visible and an aborted one invisible to read_committed consumers', async () => {
    const topic = uniqueName('txn');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer({
      transactionalId: uniqueName('tx'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: [{ key: 'a', value: 'aborted' }] });
    await aborted.abort();
    const committed = await producer.transaction();
    await committed.send({ topic, messages: [{ key: 'c', value: 'committed' }] });
    await committed.commit();
    // A plain message after both transactions: once it is read, everything before it has been.
    const plain = kafka.producer();
    await plain.connect();
    await plain.send({ topic, messages: [{ key: 'end', value: 'end' }] });
    await plain.disconnect();
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: uniqueName('g'), readUncommitted: false });
    const values: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
    await eventually(() => (values.includes('end') ? true : undefined), { what: 'the closing message' });
    await consumer.disconnect();
    expect(values).toEqual(['committed', 'end']);
  });
});
