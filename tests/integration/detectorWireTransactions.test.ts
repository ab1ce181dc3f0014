import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PartitionAssigners, type Admin, type Consumer, type Kafka } from 'kafkajs';
import {
  createKafka,
  GroupMembership,
  ProducerFencedError,
  TransactionalProducer,
  type GroupMember,
} from '@ami/lib';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';

/**
 * The detector's transactional wire-protocol producer (packages/lib/src/kafkaWire/transaction.ts)
 * on the real broker: what a read_committed consumer sees, and the offsets committed with a
 * transaction; a second producer with the same transactional id fences the first; offsets
 * committed as a group member the group has moved past are refused (KIP-447).
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
  const consumers: Consumer[] = [];

  const open = async (id = transactionalId): Promise<TransactionalProducer> => {
    const p = new TransactionalProducer({
      brokers: cfg.KAFKA_BROKERS.split(','),
      ssl: false,
      clientId: 'test-wire-txn',
      transactionalId: id,
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
    for (const c of consumers) await c.disconnect().catch(() => undefined);
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

  it('offsets committed as a member of a generation the group has moved past are refused (KIP-447)', async () => {
    const groupId = uniqueName('txmembers');
    /** A kafkajs member of `groupId` as the detector runs one, its generation followed. */
    const join = async () => {
      const membership = new GroupMembership();
      const consumer = kafka.consumer({
        groupId,
        partitionAssigners: [membership.assigner(PartitionAssigners.roundRobin)],
        heartbeatInterval: 500,
      });
      consumers.push(consumer);
      let joinedAs: string | undefined;
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        joinedAs = e.payload.memberId;
      });
      await consumer.connect();
      await consumer.subscribe({ topic: input, fromBeginning: true });
      // Commits nothing itself: the offsets are the transactions' (as the detector's group).
      await consumer.run({ autoCommit: false, eachMessage: async () => undefined });
      await eventually(() => (joinedAs !== undefined ? true : undefined), { what: 'joined' });
      return { membership, joinedAs: () => joinedAs };
    };
    /** Until partition 0's committed offset is `offset` (the commit markers are written after EndTxn). */
    const committed = (offset: number) =>
      eventually(
        async () => {
          const [offsets] = await admin.fetchOffsets({ groupId, topics: [input] });
          return offsets!.partitions.find((p) => p.partition === 0)?.offset === String(offset)
            ? true
            : undefined;
        },
        { what: `offset ${offset} committed` },
      );
    const commit = async (id: string, member: GroupMember | undefined, offset: number) => {
      const tx = (await open(id)).begin();
      await tx.commit({
        groupId,
        member,
        topics: [{ topic: input, partitions: [{ partition: 0, offset }] }],
      });
    };

    // Records at the offsets committed below (kafkajs commits the earliest over an offset beyond the end).
    const seed = kafka.producer();
    await seed.connect();
    await seed.send({
      topic: input,
      messages: Array.from({ length: 10 }, (_, i) => ({ partition: 0, value: `in-${i}` })),
    });
    await seed.disconnect();
    const a = await join();
    const first = a.membership.member!;
    expect(first.memberId).toBe(a.joinedAs());
    expect(first.generationId).toBeGreaterThan(0);
    await commit(uniqueName('txid-a'), first, 5);
    await committed(5);

    // A second member joins: the group moves to a new generation, which the first one rejoins.
    const b = await join();
    await eventually(
      () => ((a.membership.member?.generationId ?? 0) > first.generationId ? true : undefined),
      { what: 'the first member in the new generation' },
    );
    expect(b.membership.member!.generationId).toBe(a.membership.member!.generationId);
    expect(b.membership.member!.memberId).toBe(b.joinedAs());

    // The first member as it was (a zombie that slept through the rebalance), with a transactional
    // id of its own, so no InitProducerId fences it: the group coordinator refuses its offsets.
    const err = await commit(uniqueName('txid-zombie'), first, 99).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProducerFencedError);
    expect((err as ProducerFencedError).retriable).toBe(false);
    expect((err as ProducerFencedError).code).toBe(22); // ILLEGAL_GENERATION
    const [after] = await admin.fetchOffsets({ groupId, topics: [input] });
    expect(after!.partitions.find((p) => p.partition === 0)?.offset).toBe('5');
    // As the member of the current generation it is what the group expects.
    await commit(uniqueName('txid-a'), a.membership.member, 6);
    await committed(6);
  });
});
