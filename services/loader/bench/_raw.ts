// Throwaway: raw kafkajs consumption rate vs with decodeBatch.
import { AvroCodec, createKafka, createLogger, createRegistry, loadCommonConfig } from '@ami/lib';
import { decodeBatch } from '../src/decode.js';
import { TABLES } from '../src/tables.js';
const cfg = loadCommonConfig();
const logger = createLogger('raw', 'warn');
const topic = process.argv[2]!;
const N = Number(process.argv[3]);
const decode = process.argv[4] === 'decode';
const kafka = createKafka(cfg, logger);
const codec = new AvroCodec(createRegistry(cfg));
const c = kafka.consumer({ groupId: `raw_${Date.now()}`, maxBytesPerPartition: 4 << 20, maxBytes: 32 << 20 });
await c.connect();
await c.subscribe({ topic, fromBeginning: true });
let n = 0; let t0 = 0;
await new Promise<void>((resolve) => {
  void c.run({ autoCommit: false, partitionsConsumedConcurrently: 6, eachBatch: async ({ batch }) => {
    if (!t0) t0 = Date.now();
    if (decode) await decodeBatch(codec, TABLES.reads as any, batch.messages);
    n += batch.messages.length;
    if (n >= N) resolve();
  } });
});
console.log(decode ? 'with decode' : 'raw kafkajs', Math.round(n / ((Date.now() - t0) / 1000)), 'msgs/s');
await c.disconnect();
