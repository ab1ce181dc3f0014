import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ATTR_TRANSACTIONAL,
  crc32c,
  partitionForKey,
  ProducerFencedError,
  TransactionalBatch,
  TransactionalProducer,
  TransactionError,
} from '../src/kafkaWire/index.js';

/** Reads a zigzag varint at p; returns [value, next position]. */
function varint(b: Buffer, p: number): [number, number] {
  let z = 0;
  let mul = 1;
  for (;;) {
    const byte = b[p++]!;
    z += (byte & 0x7f) * mul;
    if (byte < 0x80) break;
    mul *= 128;
  }
  return [z % 2 === 0 ? z / 2 : -(z + 1) / 2, p];
}

interface DecodedRecord {
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** A magic-2 batch decoded by hand, CRC checked. */
function decodeBatch(b: Buffer): {
  attributes: number;
  producerId: bigint;
  epoch: number;
  baseSequence: number;
  records: DecodedRecord[];
} {
  expect(b.readInt32BE(8)).toBe(b.length - 12);
  expect(b.readInt8(16)).toBe(2);
  expect(b.readUInt32BE(17)).toBe(crc32c(b, 21, b.length));
  const count = b.readInt32BE(57);
  const records: DecodedRecord[] = [];
  let p = 61;
  const bytes = (): string | null => {
    let n: number;
    [n, p] = varint(b, p);
    if (n < 0) return null;
    const s = b.toString('utf8', p, p + n);
    p += n;
    return s;
  };
  for (let i = 0; i < count; i++) {
    let len: number;
    [len, p] = varint(b, p);
    const end = p + len;
    p++; // attributes
    let v: number;
    [v, p] = varint(b, p); // timestamp delta
    [v, p] = varint(b, p); // offset delta
    expect(v).toBe(i);
    const key = bytes();
    const value = bytes();
    const headers: Record<string, string> = {};
    let n: number;
    [n, p] = varint(b, p);
    for (let h = 0; h < n; h++) {
      const k = bytes()!;
      headers[k] = bytes()!;
    }
    expect(p).toBe(end);
    records.push({ key, value, headers });
  }
  expect(p).toBe(b.length);
  return {
    attributes: b.readInt16BE(21),
    producerId: b.readBigInt64BE(43),
    epoch: b.readInt16BE(51),
    baseSequence: b.readInt32BE(53),
    records,
  };
}

/** Request body reader for the fake broker. */
class R {
  constructor(
    private readonly b: Buffer,
    public p: number,
  ) {}
  i8 = () => this.b.readInt8((this.p += 1) - 1);
  i16 = () => this.b.readInt16BE((this.p += 2) - 2);
  i32 = () => this.b.readInt32BE((this.p += 4) - 4);
  i64 = () => this.b.readBigInt64BE((this.p += 8) - 8);
  str = (): string | null => {
    const n = this.i16();
    if (n < 0) return null;
    this.p += n;
    return this.b.toString('utf8', this.p - n, this.p);
  };
  bytes = (n: number) => Buffer.from(this.b.subarray((this.p += n) - n, this.p));
}

/** Response body writer. */
class W {
  parts: Buffer[] = [];
  i8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeInt8(v);
    this.parts.push(b);
    return this;
  }
  i16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  i32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  i64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    this.parts.push(b);
    return this;
  }
  str(s: string | null): this {
    if (s === null) return this.i16(-1);
    this.i16(Buffer.byteLength(s));
    this.parts.push(Buffer.from(s));
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

type Call =
  | { api: 'FindCoordinator'; key: string; type: number }
  | { api: 'InitProducerId'; txnId: string | null; timeoutMs: number }
  | { api: 'AddPartitionsToTxn'; txnId: string; pid: bigint; epoch: number; parts: string[] }
  | { api: 'AddOffsetsToTxn'; txnId: string; group: string }
  | { api: 'TxnOffsetCommit'; txnId: string; group: string; offsets: string[] }
  | { api: 'EndTxn'; txnId: string; commit: boolean }
  | { api: 'Produce'; txnId: string | null; tp: string; batch: Buffer };

const API_NAMES: Record<number, Call['api'] | 'Metadata'> = {
  3: 'Metadata',
  10: 'FindCoordinator',
  22: 'InitProducerId',
  24: 'AddPartitionsToTxn',
  25: 'AddOffsetsToTxn',
  28: 'TxnOffsetCommit',
  26: 'EndTxn',
  0: 'Produce',
};

/**
 * A fake broker (node 1, itself the leader of topic `t` (2 partitions) and `s`
 * (1 partition) and every coordinator) that records each transactional call.
 * `errors[api]` is a list of error codes answered to the next calls of that API.
 */
async function fakeBroker(errors: Partial<Record<Call['api'], number[]>> = {}): Promise<{
  port: number;
  calls: Call[];
  close: () => void;
}> {
  const calls: Call[] = [];
  const sockets = new Set<net.Socket>();
  const nextError = (api: Call['api']): number => errors[api]?.shift() ?? 0;
  const server = net.createServer((s) => {
    sockets.add(s);
    let buf = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const req = buf.subarray(4, 4 + buf.readInt32BE(0));
        buf = buf.subarray(4 + req.length);
        const api = API_NAMES[req.readInt16BE(0)]!;
        const corr = req.readInt32BE(4);
        const r = new R(req, 8);
        r.str(); // client id
        const w = new W();
        const port = (server.address() as net.AddressInfo).port;
        switch (api) {
          case 'Metadata': {
            w.i32(1).i32(1).str('127.0.0.1').i32(port).str(null).i32(1);
            const topics: Array<[string, number]> = [
              ['t', 2],
              ['s', 1],
            ];
            w.i32(topics.length);
            for (const [name, n] of topics) {
              w.i16(0).str(name).i8(0).i32(n);
              for (let i = 0; i < n; i++) w.i16(0).i32(i).i32(1).i32(1).i32(1).i32(1).i32(1);
            }
            break;
          }
          case 'FindCoordinator': {
            const key = r.str()!;
            const type = r.i8();
            calls.push({ api, key, type });
            w.i32(0).i16(nextError(api)).str(null).i32(1).str('127.0.0.1').i32(port);
            break;
          }
          case 'InitProducerId': {
            const txnId = r.str();
            const timeoutMs = r.i32();
            calls.push({ api, txnId, timeoutMs });
            w.i32(0).i16(nextError(api)).i64(42n).i16(7);
            break;
          }
          case 'AddPartitionsToTxn': {
            const txnId = r.str()!;
            const pid = r.i64();
            const epoch = r.i16();
            const parts: string[] = [];
            for (let t = r.i32(); t > 0; t--) {
              const name = r.str()!;
              for (let p = r.i32(); p > 0; p--) parts.push(`${name}/${r.i32()}`);
            }
            calls.push({ api, txnId, pid, epoch, parts });
            const code = nextError(api);
            w.i32(0).i32(1).str('t').i32(1).i32(0).i16(code);
            break;
          }
          case 'AddOffsetsToTxn': {
            const txnId = r.str()!;
            r.i64();
            r.i16();
            calls.push({ api, txnId, group: r.str()! });
            w.i32(0).i16(nextError(api));
            break;
          }
          case 'TxnOffsetCommit': {
            const txnId = r.str()!;
            const group = r.str()!;
            r.i64();
            r.i16();
            const offsets: string[] = [];
            for (let t = r.i32(); t > 0; t--) {
              const name = r.str()!;
              for (let p = r.i32(); p > 0; p--) {
                const partition = r.i32();
                offsets.push(`${name}/${partition}@${r.i64()}`);
                r.str(); // metadata
              }
            }
            calls.push({ api, txnId, group, offsets });
            w.i32(0).i32(1).str('in').i32(1).i32(0).i16(nextError(api));
            break;
          }
          case 'EndTxn': {
            const txnId = r.str()!;
            r.i64();
            r.i16();
            calls.push({ api, txnId, commit: r.i8() === 1 });
            w.i32(0).i16(nextError(api));
            break;
          }
          case 'Produce': {
            const txnId = r.str();
            r.i16(); // acks
            r.i32(); // timeout
            r.i32(); // topics
            const name = r.str()!;
            r.i32(); // partitions
            const partition = r.i32();
            const batch = r.bytes(r.i32());
            calls.push({ api, txnId, tp: `${name}/${partition}`, batch });
            w.i32(1).str(name).i32(1).i32(partition).i16(nextError(api)).i64(0n).i64(-1n).i32(0);
            break;
          }
        }
        const body = w.done();
        const out = Buffer.alloc(8);
        out.writeInt32BE(4 + body.length, 0);
        out.writeInt32BE(corr, 4);
        s.write(Buffer.concat([out, body]));
      }
    });
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        calls,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      }),
    ),
  );
}

describe('TransactionalBatch', () => {
  it('writes null keys and values, headers, and the transactional bit', () => {
    const b = new TransactionalBatch(16);
    b.addRecord('k1', Buffer.from('v1'));
    b.addRecord(null, 'v2', { a: 'x', b: Buffer.from('yy'), skipped: undefined });
    b.addRecord(Buffer.from('g:GD1'), null);
    for (let i = 0; i < 200; i++) b.addRecord(`key-${i}`, 'v'.repeat(i * 10)); // grows
    const d = decodeBatch(b.seal(5n, 2, 10, 1_800_000_000_000));
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

  async function open(errors: Partial<Record<Call['api'], number[]>> = {}) {
    const broker = await fakeBroker(errors);
    cleanup.push(broker.close);
    const producer = new TransactionalProducer({
      brokers: [`127.0.0.1:${broker.port}`],
      ssl: false,
      clientId: 'test',
      transactionalId: 'tx-1',
      transactionTimeoutMs: 12_345,
      retryForMs: 2_000,
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
    expect(calls.filter((c) => c.api === 'TxnOffsetCommit')).toEqual([
      { api: 'TxnOffsetCommit', txnId: 'tx-1', group: 'grp', offsets: ['in/0@10'] },
      { api: 'TxnOffsetCommit', txnId: 'tx-1', group: 'grp', offsets: ['in/0@11'] },
    ]);
    const produces = calls.filter((c): c is Extract<Call, { api: 'Produce' }> => c.api === 'Produce');
    expect(produces.every((c) => c.txnId === 'tx-1')).toBe(true);
    for (const tp of ['t/0', 't/1', 's/0']) {
      const batches = produces.filter((c) => c.tp === tp).map((c) => decodeBatch(c.batch));
      expect(batches).toHaveLength(2);
      expect(
        batches.every((d) => d.attributes === ATTR_TRANSACTIONAL && d.producerId === 42n && d.epoch === 7),
      ).toBe(true);
      // The second transaction's batch continues the partition's sequence.
      expect(batches[1]!.baseSequence).toBe(batches[0]!.records.length);
    }
    const all = produces.flatMap((c) => decodeBatch(c.batch).records);
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
    const broker = await fakeBroker();
    cleanup.push(broker.close);
    const producer = new TransactionalProducer({
      brokers: [`127.0.0.1:${broker.port}`],
      ssl: false,
      clientId: 'test',
      transactionalId: 'tx-1',
      maxBatchBytes: 10_000,
    });
    cleanup.push(() => producer.close());
    await producer.connect(['t', 's']);
    const tx = producer.begin();
    const sizes = [3000, 3000, 3000, 6000, 20_000, 100, 9000];
    sizes.forEach((n, i) => tx.add('s', `k${i}`, 'x'.repeat(n), undefined, 0));
    await tx.commit();
    const batches = broker.calls
      .filter((c): c is Extract<Call, { api: 'Produce' }> => c.api === 'Produce')
      .map((c) => decodeBatch(c.batch));
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
