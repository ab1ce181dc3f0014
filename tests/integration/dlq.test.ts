import { afterAll, describe, expect, it } from 'vitest';
import { createKafka, DeadLetterQueue, ensureTopics, topicNames, type DeadLetter } from '@ami/lib';
import { eventually, testConfig, testLogger } from '../support/fixtures.js';

/**
 * A flood of bad records (here 6,000 of 2 KB: 12 MB, twelve times the broker's max message size)
 * reaches the DLQ whole: one produce call with all of them used to fail with "message larger than
 * the max message size" and stall the consumer that was dead-lettering them.
 */
describe('DeadLetterQueue under a flood', () => {
  const cfg = testConfig();
  const kafka = createKafka(cfg, testLogger, 'dlq-test');
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: `${cfg.AMI_TOPIC_PREFIX}-dlq-reader` });
  afterAll(async () => {
    await producer.disconnect();
    await consumer.disconnect();
  });

  it('sends every dead letter, with its headers, in requests the broker accepts', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, cfg.AMI_TOPIC_PREFIX, { partitions: 1 });
    await admin.disconnect();
    const topics = topicNames(cfg.AMI_TOPIC_PREFIX);
    await producer.connect();
    const letters: DeadLetter[] = Array.from({ length: 6000 }, (_, i) => ({
      sourceTopic: topics.reads,
      partition: 0,
      message: {
        key: Buffer.from(`M${i}`),
        value: Buffer.alloc(2048, i % 251),
        offset: String(i),
        timestamp: '0',
        attributes: 0,
        headers: {},
      },
      reason: i % 2 ? 'unknown-meter' : 'bad-magic-byte',
      detail: `record ${i}`,
    }));
    await new DeadLetterQueue(producer, topics.dlq, 'test', testLogger).send(letters);

    const seen = new Map<string, string>();
    await consumer.connect();
    await consumer.subscribe({ topic: topics.dlq, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) =>
        void seen.set(String(message.headers!['ami.source.offset']), String(message.headers!['ami.reason'])),
    });
    await eventually(() => (seen.size >= letters.length ? true : undefined), {
      timeoutMs: 60_000,
      what: 'every dead letter in the DLQ',
    });
    expect(seen.size).toBe(letters.length);
    for (const d of letters) expect(seen.get(d.message.offset)).toBe(d.reason);
  }, 90_000);
});
