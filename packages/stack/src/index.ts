import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UnavailableError } from '@ami/lib';
import { ClickHouseComponent } from './clickhouse.js';
import { clickhouseClusterComponents, clickhouseClusterEnv } from './clickhouseCluster.js';
import type { StackComponent } from './component.js';
import { KafkaClusterComponent, kafkaOfStack } from './kafkaCluster.js';
import { stopDaemon, tailFile, waitUntil } from './processes.js';
import { RegistryComponent } from './registry.js';
import { clientEnv, loadStackSettings, type StackSettings } from './settings.js';

export { clientEnv, loadStackSettings, type StackSettings } from './settings.js';
export { KAFKA_VERSION, KafkaComponent } from './kafka.js';
export { CLUSTER_USERS, KafkaClusterComponent, kafkaPasswordName } from './kafkaCluster.js';
export { ClickHouseComponent } from './clickhouse.js';
export { RegistryComponent } from './registry.js';
export { CurrentClickHouseComponent } from './currentClickhouse.js';
export {
  CLICKHOUSE_CLUSTER_NAME,
  CLICKHOUSE_CLUSTER_REPLICAS,
  clickhouseClusterComponents,
  clickhouseClusterEnv,
  clickhouseClusterReplicas,
} from './clickhouseCluster.js';
export { ZOOKEEPER_VERSION, ZooKeeperComponent } from './zookeeper.js';
export type { StackComponent } from './component.js';

/**
 * In start order: the registry keeps its schemas in Kafka (the single node, or the secured cluster);
 * with STACK_CLICKHOUSE_CLUSTER, ZooKeeper and the ClickHouse cluster's replicas follow.
 */
export function stackComponents(s: StackSettings = loadStackSettings()): StackComponent[] {
  const kafka = kafkaOfStack(s);
  const registry =
    kafka instanceof KafkaClusterComponent
      ? new RegistryComponent(s, { bootstrap: kafka.address, properties: kafka.registryClientProperties() })
      : new RegistryComponent(s);
  const cluster = s.STACK_CLICKHOUSE_CLUSTER ? clickhouseClusterComponents(s) : [];
  return [kafka, registry, new ClickHouseComponent(s), ...cluster];
}

/** The services' Kafka settings for the stack (the cluster's need a user and password besides). */
function kafkaClientEnv(s: StackSettings): Record<string, string> {
  const kafka = kafkaOfStack(s);
  return kafka instanceof KafkaClusterComponent ? kafka.clientEnv() : {};
}

export interface ComponentStatus {
  name: string;
  running: boolean;
  healthy: boolean;
  address: string;
  log: string;
}

async function bringUp(c: StackComponent, s: StackSettings, report: (line: string) => void): Promise<void> {
  const t0 = Date.now();
  if (!(await c.healthy().catch(() => false))) {
    await c.start();
    const ok = await waitUntil(() => c.healthy(), s.STACK_START_TIMEOUT_S * 1000, 300);
    if (!ok) {
      throw new UnavailableError(
        c.name,
        `not healthy after ${s.STACK_START_TIMEOUT_S}s (${c.running() ? 'process running' : 'process exited'}); log: ${c.logFile}\n${tailFile(c.logFile, 20)}`,
      );
    }
  }
  await c.ready?.();
  report(`${c.name.padEnd(15)} up at ${c.address} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
}

/** Install what is missing, start what is stopped, wait until all are healthy. */
export async function stackUp(
  s: StackSettings = loadStackSettings(),
  report: (line: string) => void = () => undefined,
): Promise<Record<string, string>> {
  const [kafka, registry, clickhouse, ...cluster] = stackComponents(s) as [
    StackComponent,
    StackComponent,
    StackComponent,
    ...StackComponent[],
  ];
  for (const c of [kafka, registry, clickhouse, ...cluster]) await c.install();
  // ClickHouse starts beside Kafka; the registry needs Kafka for its storage.
  await Promise.all([
    bringUp(kafka, s, report).then(() => bringUp(registry, s, report)),
    bringUp(clickhouse, s, report),
    bringUpInOrder(cluster, s, report),
  ]);
  return clientEnv(s, kafkaClientEnv(s));
}

async function bringUpInOrder(
  components: StackComponent[],
  s: StackSettings,
  report: (line: string) => void,
): Promise<void> {
  for (const c of components) await bringUp(c, s, report);
}

/**
 * ZooKeeper and the ClickHouse cluster alone (installed if missing, started if stopped): what the
 * cluster tests start, without the rest of the stack. Returns the services' settings for it.
 */
export async function clickhouseClusterUp(
  s: StackSettings = loadStackSettings(),
  report: (line: string) => void = () => undefined,
): Promise<Record<string, string>> {
  const components = clickhouseClusterComponents(s);
  for (const c of components) await c.install();
  await bringUpInOrder(components, s, report);
  return clickhouseClusterEnv(s);
}

/** Stops the ClickHouse cluster's replicas, then ZooKeeper (those running; data is kept). */
export async function clickhouseClusterDown(
  s: StackSettings = loadStackSettings(),
  report: (line: string) => void = () => undefined,
): Promise<void> {
  for (const c of clickhouseClusterComponents(s).reverse()) {
    if (!c.running()) continue;
    await c.stop();
    report(`${c.name} stopped`);
  }
}

export async function stackDown(
  s: StackSettings = loadStackSettings(),
  report: (line: string) => void = () => undefined,
) {
  // The ClickHouse cluster whether or not this `down` was told about it: it is never left running.
  await clickhouseClusterDown(s, report);
  for (const c of stackComponents({ ...s, STACK_CLICKHOUSE_CLUSTER: false }).reverse()) {
    await c.stop();
    report(`${c.name} stopped`);
  }
  // A cluster started with another KAFKA_BROKERS_COUNT than the one given now: its nodes too.
  const clusterHome = join(s.AMI_HOME, 'kafka-cluster');
  if (s.KAFKA_BROKERS_COUNT === 1 && existsSync(clusterHome)) {
    for (const node of readdirSync(clusterHome).filter((d) => d.startsWith('node-')))
      if (await stopDaemon(join(clusterHome, node, 'kafka.pid'), 20_000)) report(`kafka ${node} stopped`);
  }
}

export async function stackStatus(s: StackSettings = loadStackSettings()): Promise<ComponentStatus[]> {
  const out: ComponentStatus[] = [];
  for (const c of stackComponents(s)) {
    out.push({
      name: c.name,
      running: c.running(),
      healthy: await c.healthy().catch(() => false),
      address: c.address,
      log: c.logFile,
    });
  }
  return out;
}
export {
  SecureKafkaBroker,
  freePorts,
  generatePassword,
  type ScramUser,
  type SecureKafkaOptions,
} from './secureKafka.js';
export {
  SecureKafkaCluster,
  type SecureKafkaClusterOptions,
  type SecureKafkaNodePorts,
} from './secureKafkaCluster.js';
export {
  PIPELINE_GRANTS,
  grantTopicName,
  pipelineAcls,
  type GrantTopic,
  type PipelineUser,
  type UserGrants,
} from './kafkaAcls.js';
