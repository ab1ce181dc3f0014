/**
 * A one-shot wire-protocol producer (packages/lib/src/kafkaWire) configured
 * ONLY from the environment, the way the services' data path is
 * (loadCommonConfig + wireClientOptions). Tests run it in a child process when
 * the setting under test is read by Node at start-up (NODE_EXTRA_CA_CERTS).
 * Usage: tsx tests/support/wireClient.ts <topic>; prints one JSON line:
 * {"ok":true} or {"ok":false,"error":"<name>: <message>","retriable":false}.
 */
import { isRetriable, loadCommonConfig, RecordBatchBuilder, wireClientOptions, WireProducer } from '@ami/lib';

const topic = process.argv[2];
if (!topic) throw new Error('usage: wireClient.ts <topic>');

const cfg = loadCommonConfig(process.env);
const producer = new WireProducer(wireClientOptions(cfg, cfg.KAFKA_CLIENT_ID));
const result = await (async () => {
  await producer.connect([topic]);
  const batch = new RecordBatchBuilder(1024);
  const value = Buffer.from('over tls, wire');
  batch.add(Buffer.from('tls'), value, value.length);
  await producer.send(topic, 0, batch);
  return { ok: true };
})().catch((err: Error) => ({
  ok: false,
  error: `${err.name}: ${err.message}`,
  retriable: isRetriable(err),
}));
console.log(JSON.stringify(result));
await producer.close().catch(() => undefined);
process.exit(0);
