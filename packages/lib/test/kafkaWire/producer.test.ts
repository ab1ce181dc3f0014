import { afterEach, describe, expect, it } from 'vitest';
import { Partitioners } from 'kafkajs';
import { crc32c, partitionForKey, RecordBatchBuilder, WireProducer } from '../../src/kafkaWire/index.js';
import { decodeBatch, fakeBroker } from '../support/fakeBroker.js';

/** A RecordBatchBuilder batch: the shared decoder's checks, and records without headers. */
function decodePlain(b: Buffer) {
  const d = decodeBatch(b);
  for (const r of d.records) expect(r.headers).toEqual({});
  return d;
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
    const d = decodePlain(batch);
    expect(d.producerId).toBe(1234n);
    expect(d.epoch).toBe(3);
    expect(d.baseSequence).toBe(77);
    expect(batch.readBigInt64BE(27)).toBe(1_800_000_000_000n);
    expect(d.records.map((r) => r.offsetDelta)).toEqual(values.map((_, i) => i));
    expect(d.records.map((r) => r.key?.toString())).toEqual(values.map((_, i) => `G${i % 3}`));
    expect(d.records.map((r) => r.value)).toEqual(values);
  });
});

describe('WireProducer', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanup.splice(0)) c();
  });

  it.each(['error-code', 'disconnect'] as const)(
    'keeps each partition in order with sequences, and resends a failed batch with the same sequence (%s)',
    async (fail) => {
      // The first produce to partition 1 fails: NOT_LEADER_OR_FOLLOWER, or the connection closes.
      let failed = false;
      const broker = await fakeBroker({
        fault: (call) => {
          if (call.api !== 'Produce' || call.tp !== 't/1' || failed) return undefined;
          failed = true;
          return fail === 'disconnect' ? 'disconnect' : 6;
        },
      });
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
      expect(failed).toBe(true);
      for (const partition of [0, 1]) {
        const got = broker.batches.filter((x) => x.partition === partition).map((x) => decodePlain(x.batch));
        expect(got.map((d) => d.baseSequence)).toEqual([0, 5, 10]);
        expect(got.every((d) => d.producerId === 42n)).toBe(true);
        expect(got.flatMap((d) => d.records.map((r) => r.value?.toString()))).toEqual(
          [0, 1, 2].flatMap((round) => [0, 1, 2, 3, 4].map((i) => `r${round}-p${partition}-${i}`)),
        );
      }
    },
  );
});
