import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Partitioners } from 'kafkajs';
import { crc32c, partitionForKey, RecordBatchBuilder, WireProducer } from '../src/kafkaWire/index.js';

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

interface Decoded {
  producerId: bigint;
  epoch: number;
  baseSequence: number;
  records: Array<{ offsetDelta: number; key: string; value: Buffer }>;
}

/** A magic-2 record batch decoded by hand, CRC checked. */
function decodeBatch(b: Buffer): Decoded {
  expect(b.readBigInt64BE(0)).toBe(0n);
  expect(b.readInt32BE(8)).toBe(b.length - 12);
  expect(b.readInt8(16)).toBe(2);
  expect(b.readUInt32BE(17)).toBe(crc32c(b, 21, b.length));
  const count = b.readInt32BE(57);
  expect(b.readInt32BE(23)).toBe(count - 1);
  const records: Decoded['records'] = [];
  let p = 61;
  for (let i = 0; i < count; i++) {
    let len: number;
    [len, p] = varint(b, p);
    const end = p + len;
    p++; // attributes
    let v: number;
    [v, p] = varint(b, p); // timestamp delta
    expect(v).toBe(0);
    let offsetDelta: number;
    [offsetDelta, p] = varint(b, p);
    let kl: number;
    [kl, p] = varint(b, p);
    const key = b.toString('utf8', p, p + kl);
    p += kl;
    let vl: number;
    [vl, p] = varint(b, p);
    const value = b.subarray(p, p + vl);
    p += vl;
    [v, p] = varint(b, p); // headers
    expect(v).toBe(0);
    expect(p).toBe(end);
    records.push({ offsetDelta, key, value });
  }
  expect(p).toBe(b.length);
  return {
    producerId: b.readBigInt64BE(43),
    epoch: b.readInt16BE(51),
    baseSequence: b.readInt32BE(53),
    records,
  };
}

describe('crc32c', () => {
  it('matches the Castagnoli check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    const b = Buffer.from('xx123456789yy');
    expect(crc32c(b, 2, 11)).toBe(0xe3069283);
  });
});

describe('partitionForKey', () => {
  it("places every key where kafkajs' default partitioner (Java's murmur2) does", () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    for (const partitions of [1, 3, 6, 7, 64]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
        partitionErrorCode: 0,
        partitionId: i,
        leader: 0,
        replicas: [0],
        isr: [0],
      }));
      for (let i = 0; i < 3000; i++) {
        const key =
          i % 3 === 0 ? `M${String(i * 7919).padStart(8, '0')}` : `JATIM-SIDOAR-G${i}`.slice(0, 1 + (i % 23));
        const expected = kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } });
        expect(partitionForKey(Buffer.from(key), partitions)).toBe(expected);
      }
    }
  });
});

describe('RecordBatchBuilder', () => {
  it('writes records in place, in order, with a valid header and CRC (and grows)', () => {
    const builder = new RecordBatchBuilder(16);
    const values: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const v = Buffer.alloc(i % 7 === 0 ? 200 : 40, i);
      values.push(v);
      const scratch = Buffer.concat([v, Buffer.alloc(10, 0xff)]);
      builder.add(Buffer.from(`G${i % 3}`), scratch, v.length);
    }
    const batch = builder.seal(1234n, 3, 77, 1_800_000_000_000);
    const d = decodeBatch(batch);
    expect(d.producerId).toBe(1234n);
    expect(d.epoch).toBe(3);
    expect(d.baseSequence).toBe(77);
    expect(batch.readBigInt64BE(27)).toBe(1_800_000_000_000n);
    expect(d.records.map((r) => r.offsetDelta)).toEqual(values.map((_, i) => i));
    expect(d.records.map((r) => r.key)).toEqual(values.map((_, i) => `G${i % 3}`));
    expect(d.records.map((r) => r.value)).toEqual(values);
  });
});

/**
 * A fake broker: answers Metadata (one topic, 2 partitions, leader 1 = itself),
 * InitProducerId, and Produce (recording each batch), failing the first
 * produce of partition 1 with NOT_LEADER_OR_FOLLOWER, or by closing the connection.
 */
function fakeBroker(fail: 'error-code' | 'disconnect'): Promise<{
  port: number;
  batches: Array<{ partition: number; batch: Buffer }>;
  close: () => void;
}> {
  const batches: Array<{ partition: number; batch: Buffer }> = [];
  let failed = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    let buf = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const req = buf.subarray(4, 4 + buf.readInt32BE(0));
        buf = buf.subarray(4 + req.length);
        const api = req.readInt16BE(0);
        const corr = req.readInt32BE(4);
        let p = 8 + 2 + req.readInt16BE(8); // client id
        let body: Buffer;
        if (api === 3) {
          const port = (server.address() as net.AddressInfo).port;
          const host = Buffer.from('127.0.0.1');
          const topic = Buffer.from('t');
          const parts = [0, 1].map((i) => {
            const b = Buffer.alloc(2 + 4 + 4 + 4 + 4 + 4 + 4);
            b.writeInt16BE(0, 0);
            b.writeInt32BE(i, 2);
            b.writeInt32BE(1, 6); // leader
            b.writeInt32BE(1, 10);
            b.writeInt32BE(1, 14);
            b.writeInt32BE(1, 18);
            b.writeInt32BE(1, 22);
            return b;
          });
          const head = Buffer.alloc(4 + 4 + 2);
          head.writeInt32BE(1, 0);
          head.writeInt32BE(1, 4);
          head.writeInt16BE(host.length, 8);
          const mid = Buffer.alloc(4 + 2 + 4 + 4 + 2);
          mid.writeInt32BE(port, 0);
          mid.writeInt16BE(-1, 4); // rack
          mid.writeInt32BE(1, 6); // controller
          mid.writeInt32BE(1, 10); // topics
          mid.writeInt16BE(0, 14); // topic error
          const tname = Buffer.alloc(2);
          tname.writeInt16BE(topic.length, 0);
          const tail = Buffer.alloc(1 + 4);
          tail.writeInt32BE(2, 1);
          body = Buffer.concat([head, host, mid, tname, topic, tail, ...parts]);
        } else if (api === 22) {
          body = Buffer.alloc(4 + 2 + 8 + 2);
          body.writeBigInt64BE(42n, 6);
          body.writeInt16BE(0, 14);
        } else {
          p += 2 + 2 + 4 + 4; // transactional id (null), acks, timeout, topics count
          p += 2 + req.readInt16BE(p) + 4; // topic, partitions count
          const partition = req.readInt32BE(p);
          const size = req.readInt32BE(p + 4);
          const batch = Buffer.from(req.subarray(p + 8, p + 8 + size));
          let code = 0;
          if (partition === 1 && !failed) {
            failed = true;
            if (fail === 'disconnect') {
              s.destroy();
              return;
            }
            code = 6;
          } else if (
            // like a real broker, an idempotent producer's resent batch is acknowledged once more, not stored again
            !batches.some(
              (x) => x.partition === partition && x.batch.readInt32BE(53) === batch.readInt32BE(53),
            )
          )
            batches.push({ partition, batch });
          body = Buffer.alloc(4 + 2 + 1 + 4 + 4 + 2 + 8 + 8 + 4);
          body.writeInt32BE(1, 0);
          body.writeInt16BE(1, 4);
          body.write('t', 6);
          body.writeInt32BE(1, 7);
          body.writeInt32BE(partition, 11);
          body.writeInt16BE(code, 15);
        }
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
        batches,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      }),
    ),
  );
}

describe('WireProducer', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  it.each(['error-code', 'disconnect'] as const)(
    'keeps each partition in order with sequences, and resends a failed batch with the same sequence (%s)',
    async (fail) => {
      const broker = await fakeBroker(fail);
      cleanup.push(broker.close);
      const producer = new WireProducer({
        brokers: [`127.0.0.1:${broker.port}`],
        ssl: false,
        clientId: 'test',
      });
      await producer.connect(['t']);
      expect(producer.partitionCount('t')).toBe(2);
      const sends: Array<Promise<void>> = [];
      for (let round = 0; round < 3; round++)
        for (const partition of [0, 1]) {
          const b = new RecordBatchBuilder(1024);
          for (let i = 0; i < 5; i++) {
            const v = Buffer.from(`r${round}-p${partition}-${i}`);
            b.add(Buffer.from('k'), v, v.length);
          }
          sends.push(producer.send('t', partition, b));
        }
      await Promise.all(sends);
      await producer.close();
      for (const partition of [0, 1]) {
        const got = broker.batches.filter((x) => x.partition === partition).map((x) => decodeBatch(x.batch));
        expect(got.map((d) => d.baseSequence)).toEqual([0, 5, 10]);
        expect(got.every((d) => d.producerId === 42n)).toBe(true);
        expect(got.flatMap((d) => d.records.map((r) => r.value.toString()))).toEqual(
          [0, 1, 2].flatMap((round) => [0, 1, 2, 3, 4].map((i) => `r${round}-p${partition}-${i}`)),
        );
      }
    },
  );
});
