import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AclEntry } from 'kafkajs';
import { ensureTopics, retryKafkaStartup } from '@ami/lib';
import type { StackComponent } from './component.js';
import { KafkaComponent } from './kafka.js';
import {
  PIPELINE_GRANTS,
  grantTopicName,
  pipelineAcls,
  registryAcls,
  type PipelineUser,
} from './kafkaAcls.js';
import { loadOrCreateSecrets } from './secrets.js';
import { SecureKafkaCluster } from './secureKafkaCluster.js';
import type { StackSettings } from './settings.js';

/** The Kafka users of the local cluster: the operator, the schema registry and one per service. */
export const CLUSTER_USERS = [
  'admin',
  'registry',
  ...(Object.keys(PIPELINE_GRANTS) as PipelineUser[]),
] as const;

/** The name of a cluster user's password in AMI_HOME/secrets.env, e.g. KAFKA_DETECTOR_PASSWORD. */
export function kafkaPasswordName(user: string): string {
  return `KAFKA_${user.toUpperCase()}_PASSWORD`;
}

/** The topic prefix the cluster's topics and ACLs are made for (the services' default). */
const PREFIX = 'ami';

/**
 * `ami stack up` with KAFKA_BROKERS_COUNT > 1: a KRaft cluster of that many
 * nodes (each broker and controller) secured as docs/security.md prescribes:
 * SASL_SSL with SCRAM-SHA-512 for clients and between brokers, a CA of its
 * own (`AMI_HOME/kafka-cluster/tls/ca.pem`), ACLs with deny by default and one
 * user per service, replication factor = nodes, `min.insync.replicas=2`.
 * Node n (1-based) listens for clients on KAFKA_PORT + 100(n-1) (SASL_SSL),
 * for its quorum on KAFKA_CONTROLLER_PORT + 100(n-1), and for the operator's
 * tools on KAFKA_PORT + 2 + 100(n-1) (SASL_PLAINTEXT, loopback).
 * Passwords are generated into AMI_HOME/secrets.env (KAFKA_<USER>_PASSWORD).
 * Once healthy, the operator's part is done: the `ami.*` topics (RF = nodes)
 * and the detector's state topic exist, and the ACLs of kafkaAcls.ts are set.
 */
export class KafkaClusterComponent implements StackComponent {
  readonly name = 'kafka';
  readonly cluster: SecureKafkaCluster;
  private readonly jars: KafkaComponent;
  private readonly passwords: Record<string, string>;

  constructor(private readonly s: StackSettings) {
    this.jars = new KafkaComponent(s);
    const home = join(s.AMI_HOME, 'kafka-cluster');
    this.passwords = loadOrCreateSecrets(
      join(s.AMI_HOME, 'secrets.env'),
      CLUSTER_USERS.map(kafkaPasswordName),
    );
    const user = (name: string) => ({ name, password: this.passwords[kafkaPasswordName(name)]! });
    this.cluster = new SecureKafkaCluster({
      home,
      libs: this.jars.libs,
      host: s.STACK_HOST,
      nodes: Array.from({ length: s.KAFKA_BROKERS_COUNT }, (_, i) => ({
        port: s.KAFKA_PORT + 2 + 100 * i,
        controllerPort: s.KAFKA_CONTROLLER_PORT + 100 * i,
        tlsPort: s.KAFKA_PORT + 100 * i,
      })),
      admin: user('admin'),
      formatUsers: CLUSTER_USERS.filter((u) => u !== 'admin').map(user),
      heap: s.KAFKA_HEAP,
      fullJit: true,
    });
  }

  /** Node 1's log; `logFiles` has every node's. */
  get logFile(): string {
    return this.cluster.nodes[0]!.logFile;
  }

  get logFiles(): string[] {
    return this.cluster.nodes.map((n) => n.logFile);
  }

  /** The SASL_SSL bootstrap list. */
  get address(): string {
    return this.cluster.bootstrap();
  }

  /** A user's password, from AMI_HOME/secrets.env. */
  password(user: (typeof CLUSTER_USERS)[number]): string {
    return this.passwords[kafkaPasswordName(user)]!;
  }

  async install(): Promise<void> {
    await this.jars.install();
  }

  async start(): Promise<void> {
    await this.cluster.start();
  }

  running(): boolean {
    return this.cluster.nodes.every((n) => n.running());
  }

  async healthy(): Promise<boolean> {
    if (!this.running()) return false;
    const all = await Promise.all(this.cluster.nodes.map((n) => n.healthy(this.cluster.nodes.length)));
    return all.every(Boolean);
  }

  /** The operator's part: topics with every replica, the detector's state topic, the ACLs. Idempotent. */
  async ready(): Promise<void> {
    const admin = this.cluster.operator(readFileSync(this.cluster.caFile));
    await admin.connect();
    try {
      const rf = this.cluster.nodes.length;
      const partitions = 6;
      await retryKafkaStartup('the ami topics', () =>
        ensureTopics(admin, PREFIX, { partitions, replicationFactor: rf }),
      );
      const existing = await admin.listTopics();
      const internal = [
        { topic: grantTopicName(PREFIX, 'detectorState'), cleanup: 'compact' },
        { topic: grantTopicName(PREFIX, 'detectorRepartition'), cleanup: 'delete' },
      ].filter((t) => !existing.includes(t.topic));
      if (internal.length > 0)
        await admin.createTopics({
          topics: internal.map(({ topic, cleanup }) => ({
            topic,
            numPartitions: partitions,
            replicationFactor: rf,
            configEntries: [{ name: 'cleanup.policy', value: cleanup }],
          })),
          waitForLeaders: false,
        });
      const acls: AclEntry[] = [
        ...(Object.keys(PIPELINE_GRANTS) as PipelineUser[]).flatMap((u) => pipelineAcls(PREFIX, u)),
        ...registryAcls('registry'),
      ];
      await admin.createAcls({ acl: acls });
    } finally {
      await admin.disconnect();
    }
  }

  async stop(): Promise<void> {
    await this.cluster.stop(20_000);
  }

  /** What a service needs besides its own KAFKA_SASL_USERNAME/PASSWORD. */
  clientEnv(): Record<string, string> {
    return {
      KAFKA_BROKERS: this.address,
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      NODE_EXTRA_CA_CERTS: this.cluster.caFile,
    };
  }

  /** Kafka client properties (producer, consumer, admin) of the schema registry, as user `registry`. */
  registryClientProperties(): Record<string, string> {
    return {
      'security.protocol': 'SASL_SSL',
      'sasl.mechanism': 'SCRAM-SHA-512',
      'sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username="registry" password="${this.password('registry')}";`,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': this.cluster.caFile,
    };
  }
}

/** Kafka of the local stack: the single plain node (default) or the secured cluster. */
export function kafkaOfStack(s: StackSettings): KafkaComponent | KafkaClusterComponent {
  return s.KAFKA_BROKERS_COUNT > 1 ? new KafkaClusterComponent(s) : new KafkaComponent(s);
}
