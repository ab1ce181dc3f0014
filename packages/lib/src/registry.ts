import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { CommonConfig } from './config.js';

export function createRegistry(cfg: Pick<CommonConfig, 'SCHEMA_REGISTRY_URL'>): SchemaRegistry {
  return new SchemaRegistry({ host: cfg.SCHEMA_REGISTRY_URL, retry: { retries: 3 } });
}

/** TopicNameStrategy: the value schema of topic T lives under subject `T-value`. */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}
