/**
 * Captures compressed record batches from a real broker into
 * packages/lib/test/fixtures/compressed/: for each codec, the fixture records
 * (compressedFixtures.ts) produced twice, once compressed by librdkafka
 * (python3-confluent-kafka, raw snappy blocks) and once uncompressed into a
 * topic whose compression.type makes the broker recompress them with Kafka's
 * Java codecs (xerial-framed snappy, Kafka's LZ4 frames, zstd-jni streams);
 * then fetched raw (READ_UNCOMMITTED) and saved as the broker sent them. The
 * whole Fetch v11 answer of the last set is kept too (`fetch-v11-response.bin`,
 * the body after the response header), for the decoder's test.
 *
 *   npx tsx packages/lib/test/support/captureCompressedBatches.ts [brokers]
 *
 * Default broker: the local stack's, 127.0.0.1:9092.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { APIS, Connection, READ_UNCOMMITTED, WireFetcher } from '../../src/kafkaWire/index.js';
import { encodeFetchRequest } from '../../src/kafkaWire/messages/fetch.js';
import {
  fixtureDir,
  fixtureRecords,
  FIXTURE_RECORDS,
  type CapturedSet,
  type CompressedManifest,
} from './compressedFixtures.js';

const brokers = process.argv[2] ?? '127.0.0.1:9092';
const codecs = ['gzip', 'snappy', 'lz4', 'zstd'] as const;
const python = fileURLToPath(
  new URL('../../../../tests/integration/independent/produce_compressed.py', import.meta.url),
);
const records = fixtureRecords();
const hex = (b: Buffer | null) => (b === null ? null : b.toString('hex'));

function countBatches(set: Buffer): number {
  let n = 0;
  for (let p = 0; p + 61 <= set.length; n++) p += 12 + set.readInt32BE(p + 8);
  return n;
}

/** One Fetch v11 of partition 0 from offset 0, the answer's body saved as it came. */
async function captureFetchV11(topic: string): Promise<void> {
  const [host, port] = brokers.split(',')[0]!.split(':') as [string, string];
  const conn = await Connection.open(host, Number(port), false, 'fixture-capture');
  try {
    const body = encodeFetchRequest(11, {
      maxWaitMs: 100,
      minBytes: 1,
      maxBytes: 32 << 20,
      isolation: READ_UNCOMMITTED,
      partitionMaxBytes: 4 << 20,
      topics: new Map([[topic, [{ partition: 0, offset: 0 }]]]),
    });
    const answer = await conn.request(APIS.fetch.key, 11, body);
    writeFileSync(new URL('fetch-v11-response.bin', fixtureDir), answer);
  } finally {
    conn.close();
  }
}

async function main(): Promise<void> {
  const kafka = new Kafka({
    brokers: brokers.split(','),
    clientId: 'fixture-capture',
    logLevel: logLevel.WARN,
  });
  const admin = kafka.admin();
  const producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  const fetcher = new WireFetcher({
    brokers: brokers.split(','),
    clientId: 'fixture-capture',
    ssl: false,
    isolation: READ_UNCOMMITTED,
  });
  const stamp = Date.now().toString(36);
  const sets: CapturedSet[] = [];
  const topics: string[] = [];
  try {
    for (const codec of codecs) {
      for (const writer of ['librdkafka', 'broker'] as const) {
        const topic = `fixture-${codec}-${writer}-${stamp}`;
        topics.push(topic);
        await admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic,
              numPartitions: 1,
              configEntries: [{ name: 'compression.type', value: writer === 'broker' ? codec : 'producer' }],
            },
          ],
        });
        if (writer === 'librdkafka') {
          const input = records.map((r) =>
            JSON.stringify({
              k: hex(r.key),
              v: hex(r.value),
              h: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, hex(v)])),
            }),
          );
          execFileSync('/usr/bin/python3', [python, brokers, topic, codec, '0'], { input: input.join('\n') });
        } else {
          await producer.send({ topic, acks: -1, messages: records.map((r) => ({ ...r, partition: 0 })) });
        }
        const [answer] = await fetcher.fetch([{ topic, partition: 0, offset: 0 }]);
        if (!answer || answer.errorCode !== 0 || !answer.records) throw new Error(`fetch of ${topic} failed`);
        if (answer.highWatermark !== FIXTURE_RECORDS)
          throw new Error(`${topic}: ${answer.highWatermark} records`);
        const file = `${codec}-${writer}.bin`;
        writeFileSync(new URL(file, fixtureDir), answer.records);
        sets.push({ file, codec, writer, batches: countBatches(answer.records) });
        if (codec === 'zstd' && writer === 'broker') await captureFetchV11(topic);
        console.log(file, answer.records.length, 'bytes', sets.at(-1)!.batches, 'batches');
      }
    }
    const manifest: CompressedManifest = {
      fetchV11: { file: 'fetch-v11-response.bin', topic: topics.at(-1)!, set: 'zstd-broker.bin' },
      _about:
        'Record sets of fetch answers (partition 0 from offset 0, READ_UNCOMMITTED) from a real broker, captured by packages/lib/test/support/captureCompressedBatches.ts: the fixture records compressed by librdkafka (python3-confluent-kafka) and by the broker recompressing for the topic compression.type (Java codecs).',
      kafka: process.env.KAFKA_VERSION ?? 'see the stack',
      captured: new Date().toISOString().slice(0, 10),
      records: FIXTURE_RECORDS,
      sets,
    };
    writeFileSync(new URL('manifest.json', fixtureDir), `${JSON.stringify(manifest, null, 2)}\n`);
  } finally {
    await admin.deleteTopics({ topics }).catch(() => undefined);
    fetcher.close();
    await Promise.all([admin.disconnect(), producer.disconnect()]);
  }
}

await main();
