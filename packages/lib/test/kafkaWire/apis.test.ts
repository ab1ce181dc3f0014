import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, isRetriable } from '../../src/errors.js';
import {
  APIS,
  chooseVersion,
  KAFKA_ERRORS,
  KafkaProtocolError,
  RecordBatchBuilder,
  SaslAuthenticationError,
  TransactionalProducer,
  UnsupportedVersionError,
  WireProducer,
  type WireProducerOptions,
} from '../../src/kafkaWire/index.js';
import { decodeApiVersionsResponse } from '../../src/kafkaWire/messages/apiVersions.js';
import { decodeMetadataResponse } from '../../src/kafkaWire/messages/metadata.js';
import { FAKE_VERSIONS, fakeBroker, type FakeBrokerOptions } from '../support/fakeBroker.js';

/** Response bodies captured from the local stack's Kafka 3.9.1. */
const captured = JSON.parse(
  readFileSync(new URL('../fixtures/kafka-3.9.1-responses.json', import.meta.url), 'utf8'),
) as Record<string, string>;
const hex = (name: string) => Buffer.from(captured[name]!, 'hex');

function batchOf(n: number): RecordBatchBuilder {
  const b = new RecordBatchBuilder(1024);
  for (let i = 0; i < n; i++) b.add(Buffer.from('k'), Buffer.from(`v${i}`), 2);
  return b;
}

describe('choosing versions from the broker', () => {
  it('decodes the ApiVersions answers of a real Kafka 3.9.1 and picks the highest version both implement', () => {
    const v3 = decodeApiVersionsResponse(hex('apiVersionsV3'), 3);
    const v0 = decodeApiVersionsResponse(hex('apiVersionsV0'), 0);
    expect(v3.code).toBe(0);
    expect(v3.versions).toEqual(v0.versions);
    expect(v3.versions.get(APIS.produce.key)).toEqual([0, 11]);
    expect(v3.versions.get(APIS.fetch.key)).toEqual([0, 17]);
    const chosen = Object.fromEntries(
      Object.entries(APIS).map(([name, spec]) => [name, chooseVersion(spec, v3.versions)]),
    );
    expect(chosen).toEqual({
      produce: 8,
      fetch: 11,
      metadata: 1,
      findCoordinator: 2,
      saslHandshake: 1,
      apiVersions: 3,
      initProducerId: 1,
      addPartitionsToTxn: 2,
      addOffsetsToTxn: 2,
      endTxn: 2,
      txnOffsetCommit: 3,
      saslAuthenticate: 2,
    });
  });

  it('decodes a real Metadata v1 answer with a topic error', () => {
    const m = decodeMetadataResponse(hex('metadataV1'), 1);
    expect(m.brokers.get(1)).toEqual({ host: '127.0.0.1', port: 9092 });
    expect([...m.topics.values()]).toEqual([{ code: 3, leaders: [] }]);
  });

  it('stays within a Kafka 4.x range (Produce from 3, Fetch from 4) and refuses a range it cannot meet', () => {
    const kafka4 = new Map<number, [number, number]>([
      [APIS.produce.key, [3, 12]],
      [APIS.fetch.key, [4, 17]],
    ]);
    expect(chooseVersion(APIS.produce, kafka4)).toBe(8);
    expect(chooseVersion(APIS.fetch, kafka4)).toBe(11);
    const future = new Map<number, [number, number]>([[APIS.produce.key, [9, 13]]]);
    const err = (() => {
      try {
        chooseVersion(APIS.produce, future);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UnsupportedVersionError);
    expect((err as UnsupportedVersionError).type).toBe('UNSUPPORTED_VERSION');
    expect((err as UnsupportedVersionError).retriable).toBe(false);
    expect((err as Error).message).toContain('Produce');
    expect((err as Error).message).toContain('9-13');
    expect(() => chooseVersion(APIS.produce, new Map())).toThrow(UnsupportedVersionError);
  });
});

describe('the wire client against a broker', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  async function producerOn(broker: FakeBrokerOptions, options: Partial<WireProducerOptions> = {}) {
    const fake = await fakeBroker(broker);
    cleanup.push(fake.close);
    const producer = new WireProducer({
      brokers: [`127.0.0.1:${fake.port}`],
      ssl: false,
      clientId: 'test',
      ...options,
    });
    cleanup.push(() => producer.close());
    return { fake, producer };
  }

  it('asks ApiVersions v3 first, and again at the broker’s own range when it only knows older ones', async () => {
    const old = FAKE_VERSIONS.map(([k, min, max]): [number, number, number] =>
      k === 18 ? [k, 0, 2] : [k, min, max],
    );
    const { fake, producer } = await producerOn({ versions: old });
    await producer.connect(['t']);
    await producer.send('t', 0, batchOf(3));
    // Per connection (the bootstrap address, then broker 1 from Metadata): v3, then v2.
    expect(fake.apiVersionCalls).toEqual([3, 2, 3, 2]);
    // Produce at the highest version both sides implement.
    expect(
      fake.calls.filter((c) => c.api === 'Produce').map((c) => c.api === 'Produce' && c.version),
    ).toEqual([8]);
  });

  it('fails at once with UNSUPPORTED_VERSION, sending nothing, when the broker accepts no version it implements', async () => {
    const tooOld = FAKE_VERSIONS.map(([k, min, max]): [number, number, number] =>
      k === 0 ? [k, 0, 2] : [k, min, max],
    );
    const { fake, producer } = await producerOn({ versions: tooOld });
    await producer.connect(['t']);
    const err = await producer.send('t', 0, batchOf(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedVersionError);
    expect(isRetriable(err)).toBe(false);
    expect(fake.calls.filter((c) => c.api === 'Produce')).toEqual([]);
  });

  it.each([
    [29, 'TOPIC_AUTHORIZATION_FAILED'],
    [10, 'MESSAGE_TOO_LARGE'],
  ])('stops on a Produce answered %i (%s), named, without retrying', async (code, type) => {
    const { fake, producer } = await producerOn({ errors: { Produce: [code] } });
    await producer.connect(['t']);
    const err = await producer.send('t', 0, batchOf(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KafkaProtocolError);
    expect((err as KafkaProtocolError).type).toBe(type);
    expect((err as KafkaProtocolError).message).toContain(type);
    expect(isRetriable(err)).toBe(false);
    expect(fake.calls.filter((c) => c.api === 'Produce')).toHaveLength(1);
  });

  it('stops on a topic it may not describe (Metadata TOPIC_AUTHORIZATION_FAILED) instead of waiting for it', async () => {
    const { producer } = await producerOn({ topicErrors: { t: 29 } });
    const err = await producer.connect(['t']).catch((e: unknown) => e);
    expect((err as KafkaProtocolError).type).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(isRetriable(err)).toBe(false);
  });

  it('stops on TRANSACTIONAL_ID_AUTHORIZATION_FAILED at InitProducerId', async () => {
    const fake = await fakeBroker({ errors: { InitProducerId: [53] } });
    cleanup.push(fake.close);
    const producer = new TransactionalProducer({
      brokers: [`127.0.0.1:${fake.port}`],
      ssl: false,
      clientId: 'test',
      transactionalId: 'tx-auth',
      retryForMs: 5_000,
    });
    cleanup.push(() => producer.close());
    const err = await producer.connect(['t']).catch((e: unknown) => e);
    expect((err as KafkaProtocolError).type).toBe('TRANSACTIONAL_ID_AUTHORIZATION_FAILED');
    expect(isRetriable(err)).toBe(false);
    expect(fake.calls.filter((c) => c.api === 'InitProducerId')).toHaveLength(1);
  });

  it('refuses SASL PLAIN over plain TCP before sending the password', async () => {
    const { fake, producer } = await producerOn(
      {},
      { sasl: { mechanism: 'plain', username: 'u', password: 'secret-pw' } },
    );
    const err = await producer.connect(['t']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(fake.calls).toEqual([]);
  });

  it('a mechanism the broker does not enable is a SASL error with the broker’s list, not retried', async () => {
    const { fake, producer } = await producerOn(
      {},
      { sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'secret-pw' } },
    );
    const err = await producer.connect(['t']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SaslAuthenticationError);
    expect((err as SaslAuthenticationError).type).toBe('UNSUPPORTED_SASL_MECHANISM');
    expect((err as Error).message).toContain('SCRAM-SHA-512');
    expect((err as Error).message).not.toContain('secret-pw');
    expect(isRetriable(err)).toBe(false);
    expect(fake.calls).toEqual([{ api: 'SaslHandshake', mechanism: 'SCRAM-SHA-256' }]);
  });
});

describe('metadata refresh', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  it('follows a leader that moved to another broker (NOT_LEADER_OR_FOLLOWER, then new Metadata)', async () => {
    const b = await fakeBroker();
    let moved = false;
    const a = await fakeBroker({
      leader: () => (moved ? { nodeId: 2, port: b.port } : { nodeId: 1, port: a.port }),
      fault: (call) => {
        if (call.api !== 'Produce') return undefined;
        moved = true; // the partition leaves this broker
        return 6;
      },
    });
    cleanup.push(a.close, b.close);
    const producer = new WireProducer({ brokers: [`127.0.0.1:${a.port}`], ssl: false, clientId: 'test' });
    cleanup.push(() => producer.close());
    await producer.connect(['t']);
    await producer.send('t', 1, batchOf(4));
    expect(a.batches).toEqual([]);
    expect(b.batches.map((x) => [x.topic, x.partition, x.batch.readInt32BE(57)])).toEqual([['t', 1, 4]]);
  });

  it('reloads leaders once they are older than metadataMaxAgeMs, without an error', async () => {
    const fake = await fakeBroker();
    cleanup.push(fake.close);
    const producer = new WireProducer({
      brokers: [`127.0.0.1:${fake.port}`],
      ssl: false,
      clientId: 'test',
      metadataMaxAgeMs: 0,
    });
    cleanup.push(() => producer.close());
    await producer.connect(['t']);
    const before = fake.metadataCalls.n;
    // The reload runs in the background once the leaders are older than 0 ms (a later millisecond
    // than their load): sends go on meanwhile; polled with a deadline, not timed.
    const deadline = Date.now() + 5_000;
    while (fake.metadataCalls.n === before && Date.now() < deadline) {
      await producer.send('t', 0, batchOf(1));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(fake.metadataCalls.n).toBeGreaterThan(before);
    const fresh = await fakeBroker();
    cleanup.push(fresh.close);
    const steady = new WireProducer({ brokers: [`127.0.0.1:${fresh.port}`], ssl: false, clientId: 'test' });
    cleanup.push(() => steady.close());
    await steady.connect(['t']);
    const at = fresh.metadataCalls.n;
    for (let i = 0; i < 3; i++) await steady.send('t', 0, batchOf(1));
    expect(fresh.metadataCalls.n).toBe(at); // default age: 5 min
  });
});

describe('Kafka error codes', () => {
  it('names codes and marks authorization, SASL and version refusals as not retriable, leader moves as retriable', () => {
    for (const code of [29, 30, 31, 53, 58, 35])
      expect(new KafkaProtocolError('x', code).retriable, KAFKA_ERRORS[code]!.name).toBe(false);
    for (const code of [6, 5, 7, 13, 14, 15, 16, 19, 51, 74])
      expect(new KafkaProtocolError('x', code).retriable, KAFKA_ERRORS[code]!.name).toBe(true);
    expect(new KafkaProtocolError('Produce', 30).type).toBe('GROUP_AUTHORIZATION_FAILED');
    const unknown = new KafkaProtocolError('Produce', 999);
    expect(unknown.type).toBe('UNKNOWN_ERROR_999');
    expect(unknown.retriable).toBe(false);
  });
});
