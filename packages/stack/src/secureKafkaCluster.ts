import { join } from 'node:path';
import kafkajs, { type Admin } from 'kafkajs';
import { newKraftClusterId } from './kafka.js';
import { SecureKafkaBroker, type ScramUser } from './secureKafka.js';
import { ValidationError } from '@ami/lib';

export interface SecureKafkaNodePorts {
  /** SASL_PLAINTEXT (loopback tools, `upsertScramUser`). */
  port: number;
  controllerPort: number;
  /** SASL_SSL: clients and replication between the brokers. */
  tlsPort: number;
}

export interface SecureKafkaClusterOptions {
  /** A folder of its own; each node gets `node-<id>`, the shared CA `tls`. */
  home: string;
  libs: string;
  host?: string;
  /** One entry per node (ids 1..n); every node is broker and controller. */
  nodes: SecureKafkaNodePorts[];
  admin: ScramUser;
  formatUsers?: ScramUser[];
  heap?: string;
  fullJit?: boolean;
}

/**
 * A KRaft cluster of SecureKafkaBrokers (each broker and controller, one
 * quorum), secured like the single test broker: SASL/SCRAM-SHA-512 over TLS
 * for clients and between the brokers, ACLs with deny by default, replication
 * factor = the number of nodes (3: `min.insync.replicas=2`, so one node may be
 * down without stopping `acks=all` producers or transactions).
 */
export class SecureKafkaCluster {
  readonly nodes: SecureKafkaBroker[];

  constructor(private readonly o: SecureKafkaClusterOptions) {
    const clusterId = newKraftClusterId();
    const quorum = o.nodes.map((n, i) => ({ nodeId: i + 1, controllerPort: n.controllerPort }));
    this.nodes = o.nodes.map(
      (n, i) =>
        new SecureKafkaBroker({
          ...n,
          home: join(o.home, `node-${i + 1}`),
          libs: o.libs,
          host: o.host,
          admin: o.admin,
          formatUsers: o.formatUsers,
          heap: o.heap,
          fullJit: o.fullJit,
          tlsDir: join(o.home, 'tls'),
          nodeId: i + 1,
          quorum,
          clusterId,
          replicationFactor: o.nodes.length,
        }),
    );
  }

  node(nodeId: number): SecureKafkaBroker {
    const n = this.nodes[nodeId - 1];
    if (!n) throw new ValidationError(`no node ${nodeId} in a cluster of ${this.nodes.length}`);
    return n;
  }

  /** The CA every node's certificate is signed by. */
  get caFile(): string {
    return this.nodes[0]!.caFile;
  }

  /** Bootstrap list of every node's SASL_SSL (or SASL_PLAINTEXT) listener. */
  bootstrap({ tls = true } = {}): string {
    return this.nodes.map((n) => (tls ? n.tlsAddress! : n.address)).join(',');
  }

  /** The environment a service needs to reach the cluster as `user` (SASL_SSL unless `tls: false`). */
  clientEnv(user: ScramUser, { tls = true } = {}): Record<string, string> {
    return { ...this.nodes[0]!.clientEnv(user, { tls }), KAFKA_BROKERS: this.bootstrap({ tls }) };
  }

  /** Formats what is not formatted yet and starts every node that is not running (returns at once). */
  async start(): Promise<void> {
    // The CA is made by the first node; the others find it.
    await this.nodes[0]!.start();
    await Promise.all(this.nodes.slice(1).map((n) => n.start()));
  }

  /** Until every running node answers and the cluster counts `brokers` (default all) registered brokers. */
  async waitHealthy(timeoutMs = 120_000, brokers = this.nodes.length): Promise<void> {
    await Promise.all(this.nodes.filter((n) => n.running()).map((n) => n.waitHealthy(timeoutMs, brokers)));
  }

  /** A kafkajs admin client as the super user, over SASL_SSL with the cluster's CA. */
  operator(ca: Buffer, logLevel = kafkajs.logLevel.NOTHING): Admin {
    return new kafkajs.Kafka({
      brokers: this.bootstrap().split(','),
      ssl: { ca },
      sasl: { mechanism: 'scram-sha-512', username: this.o.admin.name, password: this.o.admin.password },
      logLevel,
    }).admin();
  }

  async stop(graceMs = 10_000): Promise<void> {
    // Together: a node stopped last would wait for a quorum that is gone.
    await Promise.all(this.nodes.map((n) => n.stop(graceMs)));
  }
}
