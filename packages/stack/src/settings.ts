import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { envBoolean, parseConfig } from '@ami/lib';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const STACK_ASSETS = fileURLToPath(new URL('../', import.meta.url));

/** Ports and folders of the local stack; everything binds to 127.0.0.1. */
export const stackSettingsSchema = z.object({
  /** Where jars, data and logs of the local stack live (ignored by git). */
  AMI_HOME: z.string().default(`${REPO_ROOT}.ami`),
  STACK_HOST: z.string().default('127.0.0.1'),
  KAFKA_PORT: z.coerce.number().int().positive().default(9092),
  KAFKA_CONTROLLER_PORT: z.coerce.number().int().positive().default(9093),
  KAFKA_HEAP: z.string().default('1G'),
  /**
   * 1 (default): one plain KRaft node, the demo's. More: a secured cluster of that many
   * nodes (SASL_SSL, SCRAM, ACLs, replication factor = nodes; see kafkaCluster.ts).
   */
  KAFKA_BROKERS_COUNT: z.coerce.number().int().min(1).max(9).default(1),
  SCHEMA_REGISTRY_PORT: z.coerce.number().int().positive().default(8081),
  CLICKHOUSE_HTTP_PORT: z.coerce.number().int().positive().default(8123),
  CLICKHOUSE_TCP_PORT: z.coerce.number().int().positive().default(9000),
  /** The current ClickHouse (chDB) that proves the SQL beside 18.16; started by the tests only. */
  CURRENT_CLICKHOUSE_PORT: z.coerce.number().int().positive().default(8124),
  /**
   * `ami stack up --clickhouse-cluster`: ZooKeeper and the ClickHouse cluster `ami` (one shard,
   * two replicas; clickhouseCluster.ts) beside the single node, which stays the demo's.
   */
  STACK_CLICKHOUSE_CLUSTER: envBoolean(false),
  /** Replica n (1-based) of the cluster listens on these ports + n - 1. */
  CLICKHOUSE_CLUSTER_HTTP_PORT: z.coerce.number().int().positive().default(8131),
  CLICKHOUSE_CLUSTER_TCP_PORT: z.coerce.number().int().positive().default(9031),
  /** Where a replica serves its parts to the other (replication fetches). */
  CLICKHOUSE_CLUSTER_INTERSERVER_PORT: z.coerce.number().int().positive().default(9041),
  ZOOKEEPER_PORT: z.coerce.number().int().positive().default(2181),
  /** Seconds a service may take to become healthy before `stack up` fails. */
  STACK_START_TIMEOUT_S: z.coerce.number().int().positive().default(90),
});
export type StackSettings = z.infer<typeof stackSettingsSchema>;

export function loadStackSettings(env: Record<string, string | undefined> = process.env): StackSettings {
  return parseConfig(stackSettingsSchema, env);
}

/** Where Apicurio serves the Confluent Schema Registry API. */
export const CCOMPAT_PATH = '/apis/ccompat/v7';

/** The client-side addresses that match the stack, in the names the services read. */
export function clientEnv(s: StackSettings, kafka: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: `${s.STACK_HOST}:${s.KAFKA_PORT}`,
    ...kafka,
    SCHEMA_REGISTRY_URL: `http://${s.STACK_HOST}:${s.SCHEMA_REGISTRY_PORT}${CCOMPAT_PATH}`,
    CLICKHOUSE_URL: `http://${s.STACK_HOST}:${s.CLICKHOUSE_HTTP_PORT}`,
  };
}
