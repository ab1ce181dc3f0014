import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { createKafka, ProducerFencedError, TransactionalProducer } from '@ami/lib';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';

/**
 * The detector's transactional wire-protocol producer (packages/lib/src/kafkaWire/transaction.ts)
 * on the real broker: what a read_committed consumer sees, and the offsets committed with a
 * transaction; a second producer with the same transactional id fences the first.
 */
describe('transactional wire producer on the real broker', () => {
  const cfg = testConfig();
  const out = uniqueName('txout');
  const input = uniqueName('txin');
  const group = uniqueName('txgroup');
  const transactionalId = uniqueName('txid');
  let kafka: Kafka;
  let admin: Admin;
  const producers: TransactionalProducer[] = [];

  const open = async (): Promise<TransactionalProducer> => {
    const p = new TransactionalProducer({
      brokers: cfg.KAFKA_BROKERS.split(','),
      ssl: false,
      clientId: 'test-wire-txn',
      transactionalId,
    });
    producers.push(p);
    await p.connect([out]);
    return p;
  };

  /** Every record of `out`, read from the start with the given isolation, once `count` are there. */
  const readAll = async (readUncommitted: boolean, count: number) => {
    const seen: Array<{ key: string | null; value: string | null; partition: number; h?: string }> = [];
    const consumer = kafka.consumer({ groupId: uniqueName('reader'), readUncommitted });
    await consumer.connect();
    await consumer.subscribe({ topic: out, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, partition }) =>
        void seen.push({
          key: message.key?.toString() ?? null,
          value: message.value?.toString() ?? null,
          partition,
          h: message.headers?.why?.toString(),
        }),
    });
    try {
      await eventually(() => (seen.length >= count ? true : undefined), { what: `${count} records` });
      // Give anything that should not be there a moment to show up.
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await consumer.disconnect();
    }
    return seen;
  };

  beforeAll(async () => {
    kafka = createKafka(cfg, testLogger);
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: out, numPartitions: 3 },
        { topic: input, numPartitions: 2 },
      ],
      waitForLeaders: true,
    });
  });

  afterAll(async () => {
    for (const p of producers) await p.close();
    await admin.deleteTopics({ topics: [out, input] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('hides aborted transactions from read_committed readers and shows committed ones with their offsets', async () => {
    const producer = await open();
    // Aborted after its records reached the broker.
    const aborted = producer.begin();
    for (let i = 0; i < 50; i++) aborted.add(out, `a-${i}`, Buffer.from(`aborted-${i}`));
    await aborted.flush();
    await aborted.abort();
    // Committed, with records of every kind the detector writes and input offsets.
    const committed = producer.begin();
    for (let i = 0; i < 50; i++) committed.add(out, `c-${i}`, Buffer.from(`committed-${i}`));
    committed.add(out, 'g:GD1', null, undefined, 2); // a tombstone on a chosen partition
    committed.add(out, null, Buffer.from('no key'), { why: 'late' }); // a dead letter
    await committed.commit({
      groupId: group,
      topics: [
        {
          topic: input,
          partitions: [
            { partition: 0, offset: 17 },
            { partition: 1, offset: 4 },
          ],
        },
      ],
    });

    const visible = await readAll(false, 52);
    expect(visible.filter((r) => r.value?.startsWith('aborted'))).toEqual([]);
    expect(visible.filter((r) => r.value?.startsWith('committed'))).toHaveLength(50);
    expect(visible.find((r) => r.key === 'g:GD1')).toEqual({
      key: 'g:GD1',
      value: null,
      partition: 2,
      h: undefined,
    });
    expect(visible.find((r) => r.key === null)).toMatchObject({ value: 'no key', h: 'late' });
    expect(visible).toHaveLength(52);
    // The aborted records are in the log all the same: a read_uncommitted reader sees them.
    const everything = await readAll(true, 102);
    expect(everything.filter((r) => r.value?.startsWith('aborted'))).toHaveLength(50);

    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [input] });
    expect(
      offsets!.partitions.map((p) => [p.partition, p.offset]).sort((a, b) => Number(a[0]) - Number(b[0])),
    ).toEqual([
      [0, '17'],
      [1, '4'],
    ]);
  });

  it('a new producer with the same transactional id fences the old one', async () => {
    const old = await open();
    const tx = old.begin();
    tx.add(out, 'zombie', Buffer.from('zombie'));
    await tx.flush();
    const fresh = await open(); // InitProducerId: bumps the epoch and aborts the old transaction
    const err = await tx.commit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProducerFencedError);
    expect((err as ProducerFencedError).retriable).toBe(false);
    expect(() => old.begin()).toThrow();
    const next = fresh.begin();
    next.add(out, 'fresh', Buffer.from('fresh'));
    await next.commit();
    const visible = await readAll(false, 53);
    expect(visible.some((r) => r.key === 'zombie')).toBe(false);
    expect(visible.some((r) => r.key === 'fresh')).toBe(true);
  });
});
