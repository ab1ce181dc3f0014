import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs, { type Admin, type AclEntry } from 'kafkajs';
import {
  KafkaComponent,
  SecureKafkaBroker,
  SecureKafkaCluster,
  freePorts,
  generatePassword,
  loadStackSettings,
  type ScramUser,
} from '@ami/stack';
import { eventually } from './fixtures.js';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

/** A secured test broker (SASL_PLAINTEXT and SASL_SSL, SCRAM-SHA-512) in a temporary folder, on free ports. */
export interface TestSecureBroker {
  broker: SecureKafkaBroker;
  /** Stops the broker (SIGTERM, SIGKILL after 5 s) and removes its folder. */
  stop(): Promise<void>;
}

/**
 * Starts a SecureKafkaBroker from the local stack's jars, never touching the
 * stack's broker, and waits until it is healthy. If the test process dies
 * before `stop`, the broker is killed on exit.
 */
export async function startSecureBroker(o: {
  admin: ScramUser;
  formatUsers?: ScramUser[];
}): Promise<TestSecureBroker> {
  const home = mkdtempSync(join(tmpdir(), 'ami-secure-kafka-'));
  const killOnExit = () => {
    try {
      const pid = Number(readFileSync(join(home, 'kafka.pid'), 'utf8'));
      if (pid > 0) process.kill(-pid, 'SIGKILL');
    } catch {
      /* not started or gone */
    }
  };
  process.once('exit', killOnExit);
  const [port, controllerPort, tlsPort] = (await freePorts(3)) as [number, number, number];
  const broker = new SecureKafkaBroker({
    home,
    libs: await kafkaJars(),
    port,
    controllerPort,
    tlsPort,
    admin: o.admin,
    formatUsers: o.formatUsers,
  });
  const stop = async () => {
    await broker.stop(5_000);
    process.removeListener('exit', killOnExit);
    rmSync(home, { recursive: true, force: true });
  };
  try {
    await broker.start();
    await broker.waitHealthy(90_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { broker, stop };
}

/** The local stack's Kafka jars (the release the stack installs), fetched if missing. */
async function kafkaJars(): Promise<string> {
  const kafka = new KafkaComponent(loadStackSettings());
  await kafka.install();
  return kafka.libs;
}

/** A secured KRaft cluster (SASL_SSL and SASL_PLAINTEXT, SCRAM-SHA-512, RF = nodes) in a temporary folder. */
export interface TestSecureCluster {
  cluster: SecureKafkaCluster;
  /** The CA of the brokers' certificates (NODE_EXTRA_CA_CERTS for the services: `cluster.caFile`). */
  ca: Buffer;
  /** Stops every node and removes the folder. */
  stop(): Promise<void>;
}

/**
 * Starts a SecureKafkaCluster of `nodes` brokers on free ports and waits until
 * every broker is registered. Nodes left running by a test process that dies
 * are killed on exit.
 */
export async function startSecureCluster(o: {
  admin: ScramUser;
  formatUsers?: ScramUser[];
  nodes?: number;
  fullJit?: boolean;
}): Promise<TestSecureCluster> {
  const home = mkdtempSync(join(tmpdir(), 'ami-kafka-cluster-'));
  const n = o.nodes ?? 3;
  const killOnExit = () => {
    for (let id = 1; id <= n; id++) {
      try {
        const pid = Number(readFileSync(join(home, `node-${id}`, 'kafka.pid'), 'utf8'));
        if (pid > 0) process.kill(-pid, 'SIGKILL');
      } catch {
        /* not started or gone */
      }
    }
  };
  process.once('exit', killOnExit);
  const ports = await freePorts(3 * n);
  const cluster = new SecureKafkaCluster({
    home,
    libs: await kafkaJars(),
    nodes: Array.from({ length: n }, (_, i) => ({
      port: ports[3 * i]!,
      controllerPort: ports[3 * i + 1]!,
      tlsPort: ports[3 * i + 2]!,
    })),
    admin: o.admin,
    formatUsers: o.formatUsers,
    fullJit: o.fullJit,
  });
  const stop = async () => {
    await cluster.stop(5_000);
    process.removeListener('exit', killOnExit);
    rmSync(home, { recursive: true, force: true });
  };
  try {
    await cluster.start();
    await cluster.waitHealthy(150_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { cluster, ca: readFileSync(cluster.caFile), stop };
}

/**
 * Creates `acls` as the operator and waits until they are in force: the
 * broker answers DescribeAcls from its authorizer, so once it lists them all
 * they apply.
 */
export async function createAclsInForce(operator: Admin, acls: AclEntry[]): Promise<void> {
  await operator.createAcls({ acl: acls });
  await eventually(
    async () => {
      const { resources } = await operator.describeAcls({
        resourceType: AclResourceTypes.ANY,
        resourcePatternType: ResourcePatternTypes.ANY,
        operation: AclOperationTypes.ANY,
        permissionType: AclPermissionTypes.ANY,
      });
      return resources.reduce((sum, r) => sum + r.acls.length, 0) >= acls.length ? true : undefined;
    },
    { what: 'ACLs in force' },
  );
}

/** SCRAM users with passwords generated for this run only (never written anywhere but the broker's folder). */
export function scramUsers<N extends string>(...names: N[]): Record<N, ScramUser> {
  const users = {} as Record<N, ScramUser>;
  for (const name of names) users[name] = { name, password: generatePassword() };
  return users;
}
