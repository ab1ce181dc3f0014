/**
 * A one-shot Kafka producer configured ONLY from the environment, the way a
 * service is (loadCommonConfig + createKafka). Tests run it in a child process
 * when the setting under test is read by Node at start-up (NODE_EXTRA_CA_CERTS).
 * Usage: tsx tests/support/kafkaClient.ts <topic>; prints one JSON line:
 * {"ok":true,"errorCode":0} or {"ok":false,"error":"..."}. The first error
 * kafkajs logs (say, an untrusted certificate) ends it at once, without
 * waiting for kafkajs to exhaust its retries.
 */
import { pino } from 'pino';
import { createKafka, loadCommonConfig } from '@ami/lib';

const topic = process.argv[2];
if (!topic) throw new Error('usage: kafkaClient.ts <topic>');

let reportError: (message: string) => void = () => undefined;
const firstError = new Promise<string>((resolve) => (reportError = resolve));
const logger = pino(
  { level: 'error' },
  {
    write(line: string) {
      const { msg, error } = JSON.parse(line) as { msg?: string; error?: string };
      reportError([msg, error].filter(Boolean).join(': '));
    },
  },
);

const kafka = createKafka(loadCommonConfig(process.env), logger);
const producer = kafka.producer({ allowAutoTopicCreation: false });
const attempt = (async () => {
  await producer.connect();
  const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: 'tls', value: 'over tls' }] });
  return { ok: true, errorCode: meta?.errorCode };
})().catch((err: Error) => ({ ok: false, error: `${err.name}: ${err.message}` }));
const result = await Promise.race([attempt, firstError.then((error) => ({ ok: false, error }))]);
console.log(JSON.stringify(result));
await Promise.race([
  producer.disconnect().catch(() => undefined),
  new Promise((r) => setTimeout(r, 1000).unref()),
]);
process.exit(0);
