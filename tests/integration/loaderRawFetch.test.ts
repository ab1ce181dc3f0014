import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionTypes, type Kafka } from 'kafkajs';
import {
  createKafka,
  indexRecords,
  READ_COMMITTED,
  READ_UNCOMMITTED,
  recordMessage,
  WireFetcher,
  type FetchedPartition,
} from '@ami/lib';
import { testConfig, testLogger, uniqueName } from '../support/fixtures.js';

/**
 * The raw fetch path the loader uses for reads (packages/lib/src/kafkaWire/fetch.ts)
 * against the real broker: what kafkajs' producer wrote, including headers,
 * tombstones and transactions, read back without kafkajs.
 */
describe('raw fetch (WireFetcher + indexRecords) on the real broker', () => {
  const cfg = testConfig();
  const topic = uniqueName('rawfetch');
  const compressed = uniqueName('rawfetch-gzip');
  let kafka: Kafka;

  const fetcher = (isolation: number) =>
    new WireFetcher({
      brokers: cfg.KAFKA_BROKERS.split(','),
      ssl: cfg.KAFKA_SSL,
      clientId: 'raw-fetch-test',
      maxWaitMs: 100,
      isolation: isolation as 0 | 1,
    });

  /** Everything from offset 0 on, fetch after fetch. */
  async function readAll(f: WireFetcher, t: string, partition = 0) {
    const out: {
      offset: number;
      key: string | null;
      value: string | null;
      headers: Record<string, string>;
    }[] = [];
    let offset = 0;
    for (let round = 0; round < 50; round++) {
      const [p] = (await f.fetch([{ topic: t, partition, offset }])) as [FetchedPartition];
      expect(p.errorCode).toBe(0);
      if (!p.records || p.records.length === 0) break;
      const ix = indexRecords(p.records, offset, p.aborted);
      for (let i = 0; i < ix.count; i++) {
        const m = recordMessage(ix, i);
        out.push({
          offset: Number(m.offset),
          key: m.key?.toString() ?? null,
          value: m.value?.toString() ?? null,
          headers: Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, v.toString()])),
        });
      }
      if (ix.nextOffset === offset) break;
      offset = ix.nextOffset;
      if (offset >= p.highWatermark) break;
    }
    return out;
  }

  beforeAll(async () => {
    kafka = createKafka(cfg, testLogger);
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic, numPartitions: 1 },
        { topic: compressed, numPartitions: 1 },
      ],
    });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { key: 'k1', value: 'v1', headers: { h: 'x' } },
        { key: null, value: 'v2' },
        { key: 'k3', value: null },
      ],
    });
    await producer.disconnect();
    const tx = kafka.producer({
      transactionalId: uniqueName('tx'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await tx.connect();
    const aborted = await tx.transaction();
    await aborted.send({ topic, messages: [{ key: 'a', value: 'aborted' }] });
    await aborted.abort();
    const committed = await tx.transaction();
    await committed.send({ topic, messages: [{ key: 'c', value: 'committed' }] });
    await committed.commit();
    await tx.disconnect();
    const gz = kafka.producer();
    await gz.connect();
    await gz.send({ topic: compressed, compression: CompressionTypes.GZIP, messages: [{ value: 'z' }] });
    await gz.disconnect();
  });

  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic, compressed] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('READ_COMMITTED: every record once, with headers and tombstones, without the aborted transaction', async () => {
    const f = fetcher(READ_COMMITTED);
    try {
      const got = await readAll(f, topic);
      expect(got.map((r) => [r.key, r.value])).toEqual([
        ['k1', 'v1'],
        [null, 'v2'],
        ['k3', null],
        ['c', 'committed'],
      ]);
      expect(got[0]!.headers).toEqual({ h: 'x' });
      expect(got.map((r) => r.offset)).toEqual([...got.map((r) => r.offset)].sort((a, b) => a - b));
    } finally {
      f.close();
    }
  });

  it('READ_UNCOMMITTED sees the aborted records too (control markers never)', async () => {
    const f = fetcher(READ_UNCOMMITTED);
    try {
      const got = await readAll(f, topic);
      expect(got.map((r) => r.value)).toEqual(['v1', 'v2', null, 'aborted', 'committed']);
    } finally {
      f.close();
    }
  });

  it("reads kafkajs' gzip batch like any other (compressedReads.test.ts: every codec)", async () => {
    const f = fetcher(READ_COMMITTED);
    try {
      expect((await readAll(f, compressed)).map((r) => [r.key, r.value])).toEqual([[null, 'z']]);
    } finally {
      f.close();
    }
  });

  it('an unknown partition comes back as a partition error, not a throw', async () => {
    const f = fetcher(READ_COMMITTED);
    try {
      const [p] = await f.fetch([{ topic, partition: 5, offset: 0 }]);
      expect(p!.errorCode).not.toBe(0);
    } finally {
      f.close();
    }
  });
});
