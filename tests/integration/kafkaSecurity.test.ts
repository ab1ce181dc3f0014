import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import {
  createKafka,
  createLogger,
  ensureTopics,
  loadCommonConfig,
  topicNames,
  type CommonConfig,
} from '@ami/lib';
import {
  generatePassword,
  pipelineAcls,
  type PipelineUser,
  type ScramUser,
  type SecureKafkaBroker,
} from '@ami/stack';
import { eventually, uniqueName } from '../support/fixtures.js';
import {
  createAclsInForce,
  scramUsers,
  startSecureBroker,
  type TestSecureBroker,
} from '../support/secureBroker.js';

const execFileAsync = promisify(execFile);

/** The Kafka error code name of a kafkajs failure (kafkajs wraps it in retrier and aggregate errors). */
async function denial(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return codeOf(err) ?? String(err);
  }
  return undefined;
}

/**
 * Runs tests/support/kafkaClient.ts (kafkajs) or wireClient.ts (the wire
 * client, the services' data path), env-only configuration, in a child process.
 */
async function runClient(
  topic: string,
  env: NodeJS.ProcessEnv,
  client: 'kafkaClient' | 'wireClient' = 'kafkaClient',
): Promise<Record<string, unknown>> {
  const { stdout } = await execFileAsync(
    fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url)),
    [fileURLToPath(new URL(`../support/${client}.ts`, import.meta.url)), topic],
    { env, timeout: 90_000 },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { type?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.type === 'string') return e.type;
  if (Array.isArray(e.errors)) for (const inner of e.errors) if (codeOf(inner)) return codeOf(inner);
  return codeOf(e.cause);
}

/**
 * Kafka security: the services' own client path (loadCommonConfig + createKafka
 * with KAFKA_SASL_* variables) against a broker of its own that requires
 * SASL/SCRAM-SHA-512 and authorizes every request (StandardAuthorizer, deny by
 * default, ACLs from pipelineAcls). The local stack's broker is not touched.
 */
describe('Kafka with SASL/SCRAM and ACLs', () => {
  const prefix = uniqueName('sec');
  const topics = topicNames(prefix);
  // Generated for this run only; never written anywhere but the broker's temporary folder.
  const { admin, ...users } = scramUsers('admin', 'simulator', 'dashboard', 'detector');
  const logger = createLogger('kafka-security-test', process.env.LOG_LEVEL ?? 'silent');
  let secure: TestSecureBroker | undefined;
  let broker: SecureKafkaBroker | undefined;
  const clients: (Admin | Producer | Consumer)[] = [];

  function config(user: ScramUser): CommonConfig {
    return loadCommonConfig({
      ...broker!.clientEnv(user),
      KAFKA_CLIENT_ID: `security-test-${user.name}`,
      AMI_TOPIC_PREFIX: prefix,
      LOG_LEVEL: 'silent',
    });
  }
  function kafkaAs(user: ScramUser): Kafka {
    return createKafka(config(user), logger);
  }
  function track<T extends Admin | Producer | Consumer>(c: T): T {
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    // One user at format time (--add-scram), the others added on the running cluster below.
    secure = await startSecureBroker({ admin, formatUsers: [users.detector] });
    broker = secure.broker;
    const adminClient = track(kafkaAs(admin).admin());
    const acls = (['simulator', 'dashboard', 'detector'] as PipelineUser[]).flatMap((u) =>
      pipelineAcls(prefix, u),
    );
    await Promise.all([
      // Users on the running cluster, as an operator adds them (kafka-configs).
      broker.upsertScramUser(users.simulator),
      broker.upsertScramUser(users.dashboard),
      (async () => {
        // The operator (super user) creates the topics and the ACLs; services create nothing.
        await adminClient.connect();
        await ensureTopics(adminClient, prefix, { partitions: 3 });
        await createAclsInForce(adminClient, acls);
      })(),
    ]);
    // Users added with kafka-configs reach the broker through the metadata log: wait until they can log in.
    for (const user of [users.simulator, users.dashboard]) {
      await eventually(
        async () => {
          const a = kafkaAs(user).admin();
          await a.connect();
          await a.disconnect();
          return true;
        },
        { what: `${user.name} can authenticate` },
      );
    }
  }, 150_000);

  afterAll(async () => {
    for (const c of clients.reverse()) await c.disconnect().catch(() => undefined);
    await secure?.stop();
  }, 30_000);

  it('refuses a wrong password and an unknown user', async () => {
    for (const user of [
      { name: 'simulator', password: generatePassword() },
      { name: 'nobody', password: generatePassword() },
    ]) {
      const a = kafkaAs(user).admin();
      const err = await a.connect().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      await a.disconnect().catch(() => undefined);
      expect(err?.name).toBe('KafkaJSSASLAuthenticationError');
      expect(err?.message).not.toContain(user.password);
    }
  });

  it('speaks TLS (SASL_SSL) when KAFKA_SSL=true and the CA is trusted, and refuses an untrusted certificate', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...broker!.clientEnv(users.simulator, { tls: true }),
      AMI_TOPIC_PREFIX: prefix,
      LOG_LEVEL: 'silent',
    };
    delete env.NODE_EXTRA_CA_CERTS;
    const trusted = await runClient(topics.reads, { ...env, NODE_EXTRA_CA_CERTS: broker!.caFile });
    expect(trusted).toEqual({ ok: true, errorCode: 0 });
    const untrusted = await runClient(topics.reads, env);
    expect(untrusted.ok).toBe(false);
    expect(JSON.stringify(untrusted)).toMatch(/certificate/i);
    // The services' data path (the wire client), from the same variables.
    expect(
      await runClient(topics.reads, { ...env, NODE_EXTRA_CA_CERTS: broker!.caFile }, 'wireClient'),
    ).toEqual({
      ok: true,
    });
    const wireUntrusted = await runClient(topics.reads, env, 'wireClient');
    expect(wireUntrusted).toMatchObject({ ok: false, retriable: false });
    expect(String(wireUntrusted.error)).toMatch(/^TlsCertificateError: .*certificate/i);
  });

  it('lets the simulator write reads, events and meters but not outages', async () => {
    const kafka = kafkaAs(users.simulator);
    // What the simulator does at start-up: check the topics exist (the operator created them).
    const a = track(kafka.admin());
    await a.connect();
    await ensureTopics(a, prefix, { partitions: 3 });
    // The simulator's producer settings (services/simulator/src/publisher.ts).
    const producer = track(
      kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false }),
    );
    await producer.connect();
    for (const topic of [topics.reads, topics.events, topics.meters]) {
      const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: 'gardu-1', value: 'x' }] });
      expect(meta!.errorCode).toBe(0);
    }
    for (const topic of [topics.outages, topics.commands]) {
      expect(
        await denial(producer.send({ topic, acks: -1, messages: [{ key: 'gardu-1', value: 'x' }] })),
      ).toBe('TOPIC_AUTHORIZATION_FAILED');
    }
    // Nor may it create topics.
    expect(await denial(a.createTopics({ topics: [{ topic: `${prefix}.rogue`, numPartitions: 1 }] }))).toBe(
      'TOPIC_AUTHORIZATION_FAILED',
    );
    expect(await a.listTopics()).not.toContain(`${prefix}.rogue`);
  });

  it('lets the detector write outages and the dashboard read them, in its own group only', async () => {
    const detector = track(
      kafkaAs(users.detector).producer({
        transactionalId: uniqueName('ami-detector'),
        idempotent: true,
        maxInFlightRequests: 1,
      }),
    );
    await detector.connect();
    const tx = await detector.transaction();
    await tx.send({
      topic: topics.outages,
      messages: [1, 2, 3].map((i) => ({ key: `outage-${i}`, value: `open-${i}` })),
    });
    await tx.commit();

    const dashboardKafka = kafkaAs(users.dashboard);
    const consumer = track(dashboardKafka.consumer({ groupId: uniqueName('ami-web') }));
    const seen: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: topics.outages, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) seen.push(m.key!.toString());
      },
    });
    await eventually(() => (seen.length >= 3 ? true : undefined), {
      what: 'three outages read by the dashboard',
    });
    expect([...seen].sort()).toEqual(['outage-1', 'outage-2', 'outage-3']);
  });

  it('lets the detector send pings but never commands: its credential cannot cut supply', async () => {
    const producer = track(
      kafkaAs(users.detector).producer({
        transactionalId: uniqueName('ami-detector'),
        idempotent: true,
        maxInFlightRequests: 1,
      }),
    );
    await producer.connect();
    const tx = await producer.transaction();
    await tx.send({ topic: topics.pings, messages: [{ key: 'M1', value: 'read-now' }] });
    await tx.commit();
    // Where DISCONNECT travels: only the audited command API's principal may write it.
    const forged = await producer.transaction();
    expect(
      await denial(forged.send({ topic: topics.commands, messages: [{ key: 'M1', value: 'disconnect' }] })),
    ).toBe('TOPIC_AUTHORIZATION_FAILED');
    await forged.abort().catch(() => undefined);
  });

  it('lets the dashboard write nothing and read nothing else', async () => {
    const kafka = kafkaAs(users.dashboard);
    const producer = track(kafka.producer({ allowAutoTopicCreation: false }));
    await producer.connect();
    for (const topic of [topics.outages, topics.meterStatus, topics.reads, topics.commands, topics.dlq]) {
      expect(await denial(producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'v' }] }))).toBe(
        'TOPIC_AUTHORIZATION_FAILED',
      );
    }

    // A topic it may not read.
    const reads = track(kafka.consumer({ groupId: uniqueName('ami-web') }));
    await reads.connect();
    expect(await denial(reads.subscribe({ topic: topics.reads, fromBeginning: true }))).toBe(
      'TOPIC_AUTHORIZATION_FAILED',
    );

    // A topic it may read, but in another service's consumer group. kafkajs reports the broker's
    // GROUP_AUTHORIZATION_FAILED to FindCoordinator as "group coordinator not found", so the
    // broker's authorizer log is the witness of why.
    const group = uniqueName('ami-loader');
    const foreign = track(kafka.consumer({ groupId: group, retry: { retries: 0 } }));
    await foreign.connect();
    await foreign.subscribe({ topic: topics.outages, fromBeginning: true });
    const crashed = new Promise<unknown>((resolve) => {
      foreign.on(foreign.events.CRASH, (e) => resolve(e.payload.error));
    });
    const failure = await foreign.run({ eachBatch: async () => undefined }).then(
      () => crashed,
      (err: unknown) => err,
    );
    expect((failure as Error).name).toBe('KafkaJSGroupCoordinatorNotFound');
    await eventually(
      () =>
        broker!.log().includes(`Principal = User:dashboard is Denied operation = DESCRIBE`) &&
        broker!.log().includes(`resource = Group:LITERAL:${group}`)
          ? true
          : undefined,
      { timeoutMs: 10_000, what: `the broker's denial of group ${group}` },
    );
  });
});
