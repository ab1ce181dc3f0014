import { ClickHouseComponent } from './clickhouse.js';
import type { StackComponent } from './component.js';
import type { StackSettings } from './settings.js';
import { ZooKeeperComponent } from './zookeeper.js';

/** The cluster's name in `remote_servers`: the loader's and the migrations' CLICKHOUSE_CLUSTER. */
export const CLICKHOUSE_CLUSTER_NAME = 'ami';

/**
 * One shard of two replicas. Every replica holds every row, so the billing and reliability SQL
 * (joins, FINAL, argMax per key) reads the same rows as on a single node, and a replica can be
 * stopped while the other takes the inserts. More shards need the joined subqueries made GLOBAL
 * (18.16 refuses a join of two Distributed tables across shards): docs/scaling.md.
 */
export const CLICKHOUSE_CLUSTER_REPLICAS = 2;

const xml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Replica n (1-based): its ports are the settings' bases + n - 1. */
function replicaPorts(s: StackSettings, n: number) {
  return {
    http: s.CLICKHOUSE_CLUSTER_HTTP_PORT + n - 1,
    tcp: s.CLICKHOUSE_CLUSTER_TCP_PORT + n - 1,
    interserver: s.CLICKHOUSE_CLUSTER_INTERSERVER_PORT + n - 1,
  };
}

/** Merged over the stack's config.xml on replica `n` (its `config.d/`). */
export function clusterConfigXml(s: StackSettings, n: number, defaultPassword: string): string {
  const replicas = Array.from({ length: CLICKHOUSE_CLUSTER_REPLICAS }, (_, i) => replicaPorts(s, i + 1))
    .map(
      (p) => `                <replica>
                    <host>${xml(s.STACK_HOST)}</host>
                    <port>${p.tcp}</port>
                    <user>default</user>
                    <password>${xml(defaultPassword)}</password>
                </replica>`,
    )
    .join('\n');
  const own = replicaPorts(s, n);
  return `<?xml version="1.0"?>
<!-- Written by \`ami stack up\` for the ClickHouse cluster; edit packages/stack/src/clickhouseCluster.ts instead. -->
<yandex>
    <!-- Two servers and ZooKeeper share a 2-core machine with the rest of the stack: small caches. -->
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <max_concurrent_queries>50</max_concurrent_queries>
    <!-- Where the other replica fetches this one's parts. -->
    <interserver_http_host>${xml(s.STACK_HOST)}</interserver_http_host>
    <interserver_http_port>${own.interserver}</interserver_http_port>
    <zookeeper>
        <node>
            <host>${xml(s.STACK_HOST)}</host>
            <port>${s.ZOOKEEPER_PORT}</port>
        </node>
        <session_timeout_ms>30000</session_timeout_ms>
    </zookeeper>
    <remote_servers>
        <${CLICKHOUSE_CLUSTER_NAME}>
            <shard>
                <!-- The Distributed table writes a block to one replica of the shard and
                     ReplicatedMergeTree copies it to the others (with false, the Distributed
                     table would write every replica itself and the replication would copy
                     it again). -->
                <internal_replication>true</internal_replication>
${replicas}
            </shard>
        </${CLICKHOUSE_CLUSTER_NAME}>
    </remote_servers>
    <macros>
        <shard>01</shard>
        <replica>r${n}</replica>
    </macros>
    <!-- The queue of CREATE/ALTER/DROP ... ON CLUSTER that every replica executes. -->
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
</yandex>
`;
}

/**
 * Merged over the stack's users.xml on every replica (its `users.d/`).
 * insert_distributed_sync: an INSERT into a Distributed table returns once its rows are in the
 * shards' tables, not in a spool on the server that took it, so the loader commits its Kafka
 * offsets only for rows a shard holds (with one shard every replica is local and writes at once;
 * the setting matters from the second shard on). insert_quorum stays 0: with two replicas a
 * quorum of 2 would refuse every insert while one is down; the insert is acknowledged by one
 * replica and logged in ZooKeeper, and the other fetches it when it is back
 * (tests/integration/clickhouseCluster.test.ts).
 */
export const CLUSTER_USERS_XML = `<?xml version="1.0"?>
<!-- Written by \`ami stack up\` for the ClickHouse cluster; edit packages/stack/src/clickhouseCluster.ts instead. -->
<yandex>
    <profiles>
        <default>
            <insert_distributed_sync>1</insert_distributed_sync>
            <background_pool_size>4</background_pool_size>
        </default>
        <writer>
            <insert_distributed_sync>1</insert_distributed_sync>
        </writer>
    </profiles>
</yandex>
`;

/** The replicas of the cluster: the stack's clickhouse-server, each with its folder, ports and macros. */
export function clickhouseClusterReplicas(s: StackSettings): ClickHouseComponent[] {
  const defaultPassword = process.env.CLICKHOUSE_DEFAULT_PASSWORD ?? '';
  return Array.from({ length: CLICKHOUSE_CLUSTER_REPLICAS }, (_, i) => {
    const n = i + 1;
    const ports = replicaPorts(s, n);
    return new ClickHouseComponent(s, {
      name: `clickhouse-r${n}`,
      homeDir: `clickhouse-cluster/r${n}`,
      httpPort: ports.http,
      tcpPort: ports.tcp,
      configOverride: clusterConfigXml(s, n, defaultPassword),
      usersOverride: CLUSTER_USERS_XML,
    });
  });
}

/** ZooKeeper first, then the replicas (in start order). */
export function clickhouseClusterComponents(s: StackSettings): StackComponent[] {
  return [new ZooKeeperComponent(s), ...clickhouseClusterReplicas(s)];
}

/** What a service sets to use the cluster: replica 1's address and the cluster's name. */
export function clickhouseClusterEnv(s: StackSettings): Record<string, string> {
  return {
    CLICKHOUSE_URL: `http://${s.STACK_HOST}:${replicaPorts(s, 1).http}`,
    CLICKHOUSE_CLUSTER: CLICKHOUSE_CLUSTER_NAME,
  };
}
