import type { Kafka, Message } from 'kafkajs';
import { loadLoaderConfig, type LoaderConfig } from '../src/config.js';
import {
  AvroCodec,
  createRegistry,
  ensureTopics,
  topicNames,
  valueSubject,
  type CommonConfig,
  type RecordName,
  type RecordTypes,
} from '@ami/lib';

/** Creates the topics of `cfg`'s prefix and returns an encoder per record for test producers. */
export async function kafkaFixtures(cfg: CommonConfig, kafka: Kafka, partitions = 3) {
  const names = topicNames(cfg.AMI_TOPIC_PREFIX);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, cfg.AMI_TOPIC_PREFIX, { partitions });
  await admin.disconnect();
  const codec = new AvroCodec(createRegistry(cfg));
  const producer = kafka.producer();
  await producer.connect();
  async function encoder<N extends RecordName>(name: N, topic: string) {
    return codec.encoder(name, await codec.register(name, valueSubject(topic)));
  }
  return {
    names,
    codec,
    producer,
    encoder,
    async send(topic: string, messages: Message[]) {
      await producer.send({ topic, messages });
    },
    async close() {
      await producer.disconnect();
    },
  };
}

export type Encoded<N extends RecordName> = (value: RecordTypes[N]) => Buffer;

/**
 * A loader's configuration for an integration test: the test's topic prefix, its own
 * database and group, no periodic billing refresh; `extra` overrides.
 */
export function testLoaderConfig(
  prefix: string,
  db: string,
  groupId: string,
  extra: Record<string, string> = {},
): LoaderConfig {
  return loadLoaderConfig({
    ...process.env,
    AMI_TOPIC_PREFIX: prefix,
    CLICKHOUSE_DB: db,
    LOADER_GROUP_ID: groupId,
    LOADER_BILLING_REFRESH_S: '0',
    LOG_LEVEL: 'warn',
    ...extra,
  });
}
