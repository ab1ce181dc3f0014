import { afterEach, describe, expect, it } from 'vitest';
import {
  ATTR_TRANSACTIONAL,
  partitionForKey,
  ProducerFencedError,
  TransactionalBatch,
  TransactionalProducer,
  type TransactionalProducerOptions,
  TransactionError,
} from '../../src/kafkaWire/index.js';
import {
  type Call,
  decodeBatch,
  fakeBroker,
  type FakeBrokerOptions,
  type ProduceCall,
} from '../support/fakeBroker.js';

/** A batch decoded by the shared decoder, keys and values as text. */
function decodeText(b: Buffer) {
  const d = decodeBatch(b);
  const text = (v: Buffer | null) => (v === null ? null : v.toString());
  return {
    ...d,
    records: d.records.map((r) => ({ key: text(r.key), value: text(r.value), headers: r.headers })),
  };
}

describe('TransactionalBatch', () => {
  it('writes null keys and values, headers, and the transactional bit', () => {
    const b = new TransactionalBatch(16);
    b.addRecord('k1', Buffer.from('v1'));
    b.addRecord(null, 'v2', { a: 'x', b: Buffer.from('yy'), skipped: undefined });
    b.addRecord(Buffer.from('g:GD1'), null);
    for (let i = 0; i < 200; i++) b.addRecord(`key-${i}`, 'v'.repeat(i * 10)); // grows
    const d = decodeText(b.seal(5n, 2, 10, 1_800_000_000_000));
    expect(d.attributes).toBe(ATTR_TRANSACTIONAL);
    expect(d.producerId).toBe(5n);
    expect(d.epoch).toBe(2);
    expect(d.baseSequence).toBe(10);
    expect(d.records.slice(0, 3)).toEqual([
      { key: 'k1', value: 'v1', headers: {} },
      { key: null, value: 'v2', headers: { a: 'x', b: 'yy' } },
      { key: 'g:GD1', value: null, headers: {} },
    ]);
    expect(d.records[202]).toEqual({ key: 'key-199', value: 'v'.repeat(1990), headers: {} });
  });
});

describe('TransactionalProducer', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  async function open(
    errors: Partial<Record<Call['api'], number[]>> = {},
    options: Partial<TransactionalProducerOptions> = {},
    fault?: FakeBrokerOptions['fault'],
  ) {
    const broker = await fakeBroker({ errors, fault });
    cleanup.push(broker.close);
    const producer = new TransactionalProducer({
      brokers: [`127.0.0.1:${broker.port}`],
      ssl: false,
      clientId: 'test',
      transactionalId: 'tx-1',
      transactionTimeoutMs: 12_345,
      retryForMs: 2_000,
      ...options,
    });
    cleanup.push(() => producer.close());
    await producer.connect(['t', 's']);
    return { broker, producer };
  }

  it('commits records and offsets in one transaction, in protocol order, sequences continuing', async () => {
    // CONCURRENT_TRANSACTIONS (the previous commit's markers) and a moved coordinator are retried.
    const { broker, producer } = await open({
      AddPartitionsToTxn: [51],
      EndTxn: [0, 16],
    });
    for (let round = 0; round < 2; round++) {
      const tx = producer.begin();
      for (let i = 0; i < 6; i++) tx.add('t', `key-${i}`, Buffer.from(`r${round}-${i}`));
      tx.add('s', 'g:GD1', null, undefined, 0);
      await tx.commit({
        groupId: 'grp',
        // Round 2 as a group member (KIP-447): its generation and id go with the offsets.
        member: round === 1 ? { generationId: 5, memberId: 'member-1' } : undefined,
        topics: [{ topic: 'in', partitions: [{ partition: 0, offset: 10 + round }] }],
      });
    }
    const calls = broker.calls;
    expect(calls[0]).toEqual({ api: 'FindCoordinator', key: 'tx-1', type: 1 });
    expect(calls[1]).toEqual({ api: 'InitProducerId', txnId: 'tx-1', timeoutMs: 12_345 });
    const names = calls.map((c) => c.api);
    // Round 1: AddPartitions answered 51 once, then accepted; EndTxn of round 2 answered NOT_COORDINATOR once.
    for (const round of [0, 1]) {
      const start = round === 0 ? 2 : names.indexOf('EndTxn') + 1;
      const end = names.indexOf('EndTxn', start);
      const mine = names.slice(start, end + 1);
      const firstProduce = mine.indexOf('Produce');
      expect(mine.lastIndexOf('AddPartitionsToTxn')).toBeLessThan(firstProduce);
      expect(mine.indexOf('AddOffsetsToTxn')).toBeLessThan(mine.indexOf('TxnOffsetCommit'));
      expect(mine.at(-1)).toBe('EndTxn');
    }
    expect(calls.filter((c) => c.api === 'AddPartitionsToTxn')).toHaveLength(3);
    const ends = calls.filter((c) => c.api === 'EndTxn');
    expect(ends).toHaveLength(3); // the NOT_COORDINATOR answer, then again
    expect(ends.every((c) => c.api === 'EndTxn' && c.commit && c.txnId === 'tx-1')).toBe(true);
    // A new FindCoordinator after NOT_COORDINATOR; the group's coordinator for the offsets.
    expect(calls.filter((c) => c.api === 'FindCoordinator')).toEqual([
      { api: 'FindCoordinator', key: 'tx-1', type: 1 },
      { api: 'FindCoordinator', key: 'grp', type: 0 },
      { api: 'FindCoordinator', key: 'tx-1', type: 1 },
    ]);
    const add = calls.find((c) => c.api === 'AddPartitionsToTxn');
    expect(add).toMatchObject({ txnId: 'tx-1', pid: 42n, epoch: 7 });
    expect(new Set(add!.api === 'AddPartitionsToTxn' ? add!.parts : [])).toEqual(
      new Set(['t/0', 't/1', 's/0']),
    );
    // v3, the highest both implement: without a member, generation -1 and no member id (not checked).
    expect(calls.filter((c) => c.api === 'TxnOffsetCommit')).toEqual([
      {
        api: 'TxnOffsetCommit',
        version: 3,
        txnId: 'tx-1',
        group: 'grp',
        offsets: ['in/0@10'],
        generationId: -1,
        memberId: '',
      },
      {
        api: 'TxnOffsetCommit',
        version: 3,
        txnId: 'tx-1',
        group: 'grp',
        offsets: ['in/0@11'],
        generationId: 5,
        memberId: 'member-1',
      },
    ]);
    const produces = calls.filter((c): c is ProduceCall => c.api === 'Produce');
    expect(produces.every((c) => c.txnId === 'tx-1')).toBe(true);
    for (const tp of ['t/0', 't/1', 's/0']) {
      const batches = produces.filter((c) => c.tp === tp).map((c) => decodeText(c.batch));
      expect(batches).toHaveLength(2);
      expect(
        batches.every((d) => d.attributes === ATTR_TRANSACTIONAL && d.producerId === 42n && d.epoch === 7),
      ).toBe(true);
      // The second transaction's batch continues the partition's sequence.
      expect(batches[1]!.baseSequence).toBe(batches[0]!.records.length);
    }
    const all = produces.flatMap((c) => decodeText(c.batch).records);
    expect(all.filter((r) => r.key === 'g:GD1').every((r) => r.value === null)).toBe(true);
    expect(
      all
        .filter((r) => r.key?.startsWith('key-'))
        .map((r) => r.value)
        .sort(),
    ).toEqual([0, 1].flatMap((round) => [0, 1, 2, 3, 4, 5].map((i) => `r${round}-${i}`)).sort());
  });

  it('aborts with EndTxn(abort) once records were sent, and sends nothing for an unsent transaction', async () => {
    const { broker, producer } = await open();
    const unsent = producer.begin();
    unsent.add('t', 'k', Buffer.from('v'));
    await unsent.abort();
    expect(broker.calls.filter((c) => c.api !== 'FindCoordinator' && c.api !== 'InitProducerId')).toEqual([]);
    const tx = producer.begin();
    tx.add('t', 'k', Buffer.from('v'));
    await tx.flush();
    await tx.abort();
    expect(broker.calls.at(-1)).toEqual({ api: 'EndTxn', txnId: 'tx-1', commit: false });
    // The producer goes on after an abort.
    const next = producer.begin();
    next.add('t', 'k', Buffer.from('v2'));
    await next.commit();
    expect(broker.calls.at(-1)).toEqual({ api: 'EndTxn', txnId: 'tx-1', commit: true });
  });

  it.each([
    ['EndTxn', 90],
    ['Produce', 47],
    ['AddPartitionsToTxn', 52],
  ] as const)(
    'a fenced producer (%s answers %i) throws ProducerFencedError and refuses further work',
    async (api, code) => {
      const { producer } = await open({ [api]: [code] });
      const tx = producer.begin();
      tx.add('t', 'k', Buffer.from('v'));
      const err = await tx.commit().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProducerFencedError);
      expect((err as ProducerFencedError).retriable).toBe(false);
      expect((err as ProducerFencedError).code).toBe(code);
      expect(() => producer.begin()).toThrow(ProducerFencedError);
    },
  );

  it('after a pause past its retry time (a long GC, SIGSTOP), a lost coordinator is asked again and its fencing heard', async () => {
    // retryForMs 0: the deadline has passed before the first retry, as for a process woken late.
    let ends = 0;
    const { producer } = await open({}, { retryForMs: 0 }, (call) =>
      call.api === 'EndTxn' ? (++ends === 1 ? 'disconnect' : 90) : undefined,
    );
    const tx = producer.begin();
    tx.add('t', 'k', Buffer.from('v'));
    const err = await tx.commit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProducerFencedError);
    expect((err as ProducerFencedError).code).toBe(90);
    expect(ends).toBe(2);
  });

  it('another refusal is a non-retriable TransactionError', async () => {
    const { producer } = await open({ TxnOffsetCommit: [29] });
    const tx = producer.begin();
    const err = await tx
      .commit({ groupId: 'grp', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: 1 }] }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransactionError);
    expect((err as TransactionError).retriable).toBe(false);
  });

  it("places string keys as Kafka's default partitioner does (murmur2 of the UTF-8 bytes)", async () => {
    const { producer } = await open();
    const tx = producer.begin();
    for (const key of ['GD00001', 'MTR00000042', 'gardu-é-ñ-中', 'x'.repeat(600), ''])
      expect(tx.add('t', key, null)).toBe(partitionForKey(Buffer.from(key), 2));
    await tx.abort();
  });

  it("splits a partition's records into batches under maxBatchBytes, order kept", async () => {
    const { broker, producer } = await open({}, { maxBatchBytes: 10_000 });
    const tx = producer.begin();
    const sizes = [3000, 3000, 3000, 6000, 20_000, 100, 9000];
    sizes.forEach((n, i) => tx.add('s', `k${i}`, 'x'.repeat(n), undefined, 0));
    await tx.commit();
    const batches = broker.calls
      .filter((c): c is ProduceCall => c.api === 'Produce')
      .map((c) => decodeText(c.batch));
    expect(batches.map((b) => b.records.map((r) => r.key))).toEqual([
      ['k0', 'k1', 'k2'],
      ['k3'],
      ['k4'], // alone over the limit: a batch of its own
      ['k5', 'k6'],
    ]);
    expect(batches.map((b) => b.baseSequence)).toEqual([0, 3, 4, 5]);
    expect(batches.every((b) => b.records.length > 0)).toBe(true);
  });

  it('a transaction with nothing in it sends nothing', async () => {
    const { broker, producer } = await open();
    const before = broker.calls.length;
    await producer.begin().commit({ groupId: 'grp', topics: [] });
    expect(broker.calls.length).toBe(before);
  });
});
