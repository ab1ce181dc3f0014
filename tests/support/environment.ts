/**
 * Where the integration tests find Kafka, the schema registry and ClickHouse:
 * 1. the addresses in KAFKA_BROKERS, SCHEMA_REGISTRY_URL, CLICKHOUSE_URL if all are set;
 * 2. else containers started by testcontainers, if a Docker engine answers;
 * 3. else the project's local stack (`ami stack up`).
 */
export type EnvironmentSource = 'external' | 'containers' | 'local-stack';

export interface ServiceAddresses {
  KAFKA_BROKERS: string;
  SCHEMA_REGISTRY_URL: string;
  CLICKHOUSE_URL: string;
}

export function chooseEnvironment(
  env: Record<string, string | undefined>,
  dockerAnswers: boolean,
): EnvironmentSource {
  if (env.KAFKA_BROKERS && env.SCHEMA_REGISTRY_URL && env.CLICKHOUSE_URL) return 'external';
  if (dockerAnswers) return 'containers';
  return 'local-stack';
}
