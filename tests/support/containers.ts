import { GenericContainer, Network, Wait, type StartedTestContainer } from 'testcontainers';
import { KafkaContainer } from '@testcontainers/kafka';
import { ClickHouseContainer } from '@testcontainers/clickhouse';
import type { ServiceAddresses } from './environment.js';

/** For developers with Docker: the same services as docker-compose.yml, in throwaway containers. */
export async function startContainers(): Promise<{ env: ServiceAddresses; stop: () => Promise<void> }> {
  const network = await new Network().start();
  const kafka = await new KafkaContainer('confluentinc/cp-kafka:7.7.1')
    .withKraft()
    .withNetwork(network)
    .withNetworkAliases('kafka')
    .start();
  const registry: StartedTestContainer = await new GenericContainer('confluentinc/cp-schema-registry:7.7.1')
    .withNetwork(network)
    .withEnvironment({
      SCHEMA_REGISTRY_HOST_NAME: 'schema-registry',
      SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: 'PLAINTEXT://kafka:9092',
      SCHEMA_REGISTRY_LISTENERS: 'http://0.0.0.0:8081',
    })
    .withExposedPorts(8081)
    .withWaitStrategy(Wait.forHttp('/subjects', 8081))
    .start();
  const clickhouse = await new ClickHouseContainer('clickhouse/clickhouse-server:24.8').start();
  return {
    env: {
      KAFKA_BROKERS: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
      SCHEMA_REGISTRY_URL: `http://${registry.getHost()}:${registry.getMappedPort(8081)}`,
      CLICKHOUSE_URL: clickhouse.getHttpUrl(),
    },
    stop: async () => {
      await Promise.all([kafka.stop(), registry.stop(), clickhouse.stop()]);
      await network.stop();
    },
  };
}
