import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import {
  Connection,
  createKafka,
  createLogger,
  ensureTopics,
  indexRecords,
  isRetriable,
  KafkaProtocolError,
  loadCommonConfig,
  openSession,
  ProducerFencedError,
  READ_COMMITTED,
  RecordBatchBuilder,
  recordMessage,
  SaslAuthenticationError,
  TlsCertificateError,
  topicNames,
  TransactionalProducer,
  WireFetcher,
  wireClientOptions,
  WireProducer,
  type BrokerConnectionsOptions,
  type FetchedPartition,
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

/**
 * The wire client (packages/lib/src/kafkaWire), the services' data path, on a
 * broker secured as production is: SASL/SCRAM-SHA-512 over TLS (SASL_SSL,
 * certificate checked against the broker's CA) and over plain TCP, with
 * ACLs per service (pipelineAcls). The local stack's broker is not touched.
 */
describe('the wire client with SASL/SCRAM, TLS and ACLs', () => {
  const prefix = uniqueName('wsec');
  const topics = topicNames(prefix);
  const { admin, ...users } = scramUsers('admin', 'simulator', 'detector', 'loader');
  const logger = createLogger('kafka-wire-security-test', process.env.LOG_LEVEL ?? 'silent');
  let secure: TestSecureBroker | undefined;
  let broker: SecureKafkaBroker | undefined;
  let operator: Admin | undefined;
  let ca: Buffer;
  const closers: Array<() => Promise<void> | void> = [];

  /** The wire options a service builds from its environment, with the test CA (NODE_EXTRA_CA_CERTS in production). */
  function wireAs(user: ScramUser, tls: boolean, clientId: string): BrokerConnectionsOptions {
    const cfg = loadCommonConfig({ ...broker!.clientEnv(user, { tls }), LOG_LEVEL: 'silent' });
    const o = wireClientOptions(cfg, clientId);
    return tls ? { ...o, ssl: { ca } } : o;
  }
  function track<T extends { close(): Promise<void> | void }>(c: T): T {
    closers.push(() => c.close());
    return c;
  }

  async function produceReads(producer: WireProducer, n: number): Promise<void> {
    const sends: Array<Promise<void>> = [];
    for (let p = 0; p < producer.partitionCount(topics.reads); p++) {
      const b = new RecordBatchBuilder(4096);
      for (let i = 0; i < n; i++) {
        const v = Buffer.from(`read-${p}-${i}`);
        b.add(Buffer.from(`gardu-${p}`), v, v.length);
      }
      sends.push(producer.send(topics.reads, p, b));
    }
    await Promise.all(sends);
  }

  /** Every record of topic/partition from offset 0, as key=value strings. */
  async function readAll(f: WireFetcher, topic: string, partition: number): Promise<string[]> {
    const out: string[] = [];
    let offset = 0;
    for (let round = 0; round < 20; round++) {
      const [p] = (await f.fetch([{ topic, partition, offset }])) as [FetchedPartition];
      expect(p.errorCode).toBe(0);
      if (!p.records || p.records.length === 0) break;
      const ix = indexRecords(p.records, offset, p.aborted);
      for (let i = 0; i < ix.count; i++) {
        const m = recordMessage(ix, i);
        out.push(`${m.key?.toString()}=${m.value?.toString()}`);
      }
      offset = ix.nextOffset;
      if (offset >= p.highWatermark) break;
    }
    return out;
  }

  beforeAll(async () => {
    secure = await startSecureBroker({ admin, formatUsers: Object.values(users) });
    broker = secure.broker;
    ca = readFileSync(broker.caFile);
    operator = createKafka(
      loadCommonConfig({ ...broker.clientEnv(admin), LOG_LEVEL: 'silent' }),
      logger,
    ).admin();
    await operator.connect();
    await ensureTopics(operator, prefix, { partitions: 3 });
    await createAclsInForce(
      operator,
      (Object.keys(users) as PipelineUser[]).flatMap((u) => pipelineAcls(prefix, u)),
    );
  }, 150_000);

  afterAll(async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
    await operator?.disconnect().catch(() => undefined);
    await secure?.stop();
  }, 30_000);

  it.each([
    ['SASL_SSL', true],
    ['SASL_PLAINTEXT', false],
  ] as const)(
    'the simulator produces reads and the loader fetches them raw (%s, SCRAM-SHA-512)',
    async (_name, tls) => {
      const producer = track(new WireProducer(wireAs(users.simulator, tls, 'wire-sec-simulator')));
      await producer.connect([topics.reads]);
      const fetcher = track(
        new WireFetcher({
          ...wireAs(users.loader, tls, 'wire-sec-loader'),
          maxWaitMs: 100,
          isolation: READ_COMMITTED,
        }),
      );
      // The other case of this test wrote to the same topic.
      const before = await Promise.all([0, 1, 2].map((p) => readAll(fetcher, topics.reads, p)));
      await produceReads(producer, 50);
      for (const p of [0, 1, 2]) {
        const all = await readAll(fetcher, topics.reads, p);
        expect(all.slice(before[p]!.length)).toEqual(
          Array.from({ length: 50 }, (_, i) => `gardu-${p}=read-${p}-${i}`),
        );
      }
    },
    60_000,
  );

  it('the detector commits outages and its group offsets in one transaction; a member the group does not know is fenced', async () => {
    const groupId = uniqueName('ami-detector');
    const producer = track(
      new TransactionalProducer({
        ...wireAs(users.detector, true, 'wire-sec-detector'),
        transactionalId: uniqueName('ami-detector'),
        retryForMs: 20_000,
      }),
    );
    await producer.connect([topics.outages]);
    const tx = producer.begin();
    for (const i of [1, 2, 3]) tx.add(topics.outages, `outage-${i}`, `open-${i}`);
    await tx.commit({
      groupId,
      topics: [{ topic: topics.reads, partitions: [{ partition: 0, offset: 7 }] }],
    });
    // Visible once the coordinator has written the commit markers.
    const committedOffset = async () =>
      (await operator!.fetchOffsets({ groupId, topics: [topics.reads] }))[0]!.partitions.find(
        (p) => p.partition === 0,
      )?.offset;
    await eventually(async () => ((await committedOffset()) === '7' ? true : undefined), {
      timeoutMs: 15_000,
      what: 'the transaction’s offset committed',
    });

    // KIP-447: offsets from a member of a generation the group never had are refused, the whole transaction with them.
    const zombie = producer.begin();
    zombie.add(topics.outages, 'outage-zombie', 'open-zombie');
    const err = await zombie
      .commit({
        groupId,
        member: { generationId: 42, memberId: 'detector-zombie' },
        topics: [{ topic: topics.reads, partitions: [{ partition: 0, offset: 99 }] }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProducerFencedError);
    expect(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID']).toContain((err as ProducerFencedError).type);
    expect(await committedOffset()).toBe('7');

    const fetcher = track(
      new WireFetcher({
        ...wireAs(users.loader, true, 'wire-sec-loader'),
        maxWaitMs: 100,
        isolation: READ_COMMITTED,
      }),
    );
    const outages = (await Promise.all([0, 1, 2].map((p) => readAll(fetcher, topics.outages, p)))).flat();
    expect(outages.sort()).toEqual(['outage-1=open-1', 'outage-2=open-2', 'outage-3=open-3']);
  }, 90_000);

  it('stops at once on a wrong password, an unknown user and a mechanism the listener does not enable', async () => {
    for (const [user, mechanism, type] of [
      [{ name: 'simulator', password: generatePassword() }, 'scram-sha-512', 'SASL_AUTHENTICATION_FAILED'],
      [{ name: 'nobody', password: generatePassword() }, 'scram-sha-512', 'SASL_AUTHENTICATION_FAILED'],
      [users.simulator, 'scram-sha-256', 'UNSUPPORTED_SASL_MECHANISM'],
    ] as const) {
      const o = wireAs(user, true, 'wire-sec-bad');
      const producer = track(new WireProducer({ ...o, sasl: { ...o.sasl!, mechanism } }));
      const err = await producer.connect([topics.reads]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SaslAuthenticationError);
      expect((err as SaslAuthenticationError).type).toBe(type);
      expect(isRetriable(err)).toBe(false);
      expect((err as Error).message).not.toContain(user.password);
    }
  }, 60_000);

  it('negotiates TLS 1.3 with AES-128-GCM, the broker’s first choice, from a client with Node’s defaults', async () => {
    const o = wireAs(users.simulator, true, 'wire-sec-cipher');
    const [host, port] = broker!.tlsAddress!.split(':') as [string, string];
    const conn = await Connection.open(host, Number(port), o.ssl, o.clientId);
    try {
      await openSession(conn, o.sasl);
      expect(conn.tlsSession).toEqual({ protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' });
    } finally {
      conn.close();
    }
  }, 30_000);

  it('refuses a broker certificate not signed by a trusted CA', async () => {
    const o = wireAs(users.simulator, true, 'wire-sec-untrusted');
    const producer = track(new WireProducer({ ...o, ssl: true })); // Node's CAs only
    const err = await producer.connect([topics.reads]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TlsCertificateError);
    expect(isRetriable(err)).toBe(false);
  }, 30_000);

  it('names a fetch the user may not make: the simulator may not read reads', async () => {
    const fetcher = track(
      new WireFetcher({ ...wireAs(users.simulator, true, 'wire-sec-sim-fetch'), maxWaitMs: 100 }),
    );
    const err = await fetcher
      .fetch([{ topic: topics.reads, partition: 0, offset: 0 }])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KafkaProtocolError);
    expect((err as KafkaProtocolError).type).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(isRetriable(err)).toBe(false);
  }, 30_000);

  it('names an authorization failure and does not retry it: the simulator may not write outages', async () => {
    const producer = track(new WireProducer(wireAs(users.simulator, true, 'wire-sec-simulator')));
    await producer.connect([topics.reads, topics.outages]);
    const b = new RecordBatchBuilder(1024);
    b.add(Buffer.from('gardu-1'), Buffer.from('x'), 1);
    const err = await producer.send(topics.outages, 0, b).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KafkaProtocolError);
    expect((err as KafkaProtocolError).type).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(isRetriable(err)).toBe(false);
  }, 30_000);
});
