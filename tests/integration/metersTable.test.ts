import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka, Producer } from 'kafkajs';
import {
  AmiError,
  AvroCodec,
  createKafka,
  createLogger,
  createRegistry,
  followMetersTable,
  isRetriable,
  UnavailableError,
  valueSubject,
  type MeterProfile,
  type MetersTable,
} from '@ami/lib';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';
import { meter } from '@ami/loader/testing/fixtures';

/**
 * `followMetersTable` (`@ami/lib`) on the real Kafka: the compacted meters
 * topic read to its end before start-up resolves, then followed; a catch-up
 * sees what was published just before it; tombstones remove; bad records are
 * reported and skipped.
 */
describe('followMetersTable: the compacted meters topic as a table', () => {
  const cfg = testConfig();
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  let encode: (p: MeterProfile) => Buffer;
  let codec: AvroCodec;
  const followers: MetersTable[] = [];
  const quiet = createLogger('test', 'silent');

  async function metersTopic(): Promise<string> {
    const topic = uniqueName('meters');
    await admin.createTopics({
      topics: [{ topic, numPartitions: 3, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      waitForLeaders: true,
    });
    return topic;
  }

  /**
   * A follower whose table is a Map, with the bad records it reported;
   * `before` runs before each record is applied (and may throw).
   */
  async function follow(topic: string, { before = () => {}, logger = testLogger } = {}) {
    const table = new Map<string, MeterProfile>();
    const bad: Array<{ reason: string; partition: number; offset: string; key: string }> = [];
    const follower = await followMetersTable({
      kafka,
      admin,
      codec,
      topic,
      groupPrefix: uniqueName('meters-table'),
      apply: (key, profile) => {
        before();
        if (profile === null) table.delete(key);
        else table.set(key, profile);
      },
      onBad: (err, partition, offset, key) =>
        bad.push({ reason: err.reason, partition, offset, key: key?.toString() ?? '' }),
      logger,
    });
    followers.push(follower);
    return { table, bad, follower };
  }

  beforeAll(async () => {
    kafka = createKafka(cfg, testLogger);
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer();
    await producer.connect();
    codec = new AvroCodec(createRegistry(cfg));
    // One subject for every topic of this file: the record and schema are the same.
    const subject = valueSubject(uniqueName('meters'));
    encode = codec.encoder('MeterProfile', await codec.register('MeterProfile', subject));
  });

  afterAll(async () => {
    for (const f of followers) await f.stop().catch(() => undefined);
    await producer?.disconnect();
    await admin?.disconnect();
  });

  it('reads the topic to its end before start-up resolves, then follows it; catch-up and tombstones', async () => {
    const topic = await metersTopic();
    const before = ['M1', 'M2', 'M3', 'M4', 'M5'].map((id) =>
      meter(id, `51100000000${id.slice(1)}`, 'R-1', 1300, 'Asia/Makassar'),
    );
    await producer.send({ topic, messages: before.map((p) => ({ key: p.meter_id, value: encode(p) })) });
    // A later profile of M1 replaces the first one.
    await producer.send({
      topic,
      messages: [{ key: 'M1', value: encode({ ...before[0]!, daya_va: 2200 }) }],
    });

    const { table, bad, follower } = await follow(topic);
    await follower.ready;
    expect([...table.keys()].sort()).toEqual(['M1', 'M2', 'M3', 'M4', 'M5']);
    expect(table.get('M1')?.daya_va).toBe(2200);

    // Published after start: followed.
    const m6 = meter('M6', '511000000006', 'R-1', 900, 'Asia/Makassar');
    await producer.send({ topic, messages: [{ key: 'M6', value: encode(m6) }] });
    await eventually(() => (table.has('M6') ? true : undefined), { what: 'M6 in the table' });
    expect(table.get('M6')).toEqual(m6);

    // A catch-up right after a send: the table holds the record when it resolves.
    const m7 = meter('M7', '511000000007', 'B-2', 6600, 'Asia/Makassar');
    await producer.send({ topic, messages: [{ key: 'M7', value: encode(m7) }] });
    await follower.catchUp(60_000);
    expect(table.get('M7')).toEqual(m7);

    // A tombstone removes the meter.
    await producer.send({ topic, messages: [{ key: 'M2', value: null }] });
    await follower.catchUp(60_000);
    expect(table.has('M2')).toBe(false);
    expect(table.size).toBe(6);

    // A record that is not a profile is reported and skipped; the table goes on.
    const [garbage] = await producer.send({
      topic,
      messages: [{ key: 'M8', value: Buffer.from('not avro') }],
    });
    const m9 = meter('M9', '511000000009', 'R-1', 1300, 'Asia/Makassar');
    await producer.send({ topic, messages: [{ key: 'M9', value: encode(m9) }] });
    // A profile every consumer refuses (validateProfile): reported and skipped, like garbage.
    const [invalid] = await producer.send({
      topic,
      messages: [{ key: 'M10', value: encode(meter('M10', '5110', 'R-1', 1300, 'Asia/Makassar')) }],
    });
    // Kept by its meter_id, whatever the key.
    const m11 = meter('M11', '511000000011', 'R-1', 1300, 'Asia/Makassar');
    await producer.send({ topic, messages: [{ key: 'other-key', value: encode(m11) }] });
    await follower.catchUp(60_000);
    expect(table.has('M8')).toBe(false);
    expect(table.has('M10')).toBe(false);
    expect(table.get('M9')).toEqual(m9);
    expect(table.get('M11')).toEqual(m11);
    expect(table.has('other-key')).toBe(false);
    expect(bad).toEqual([
      { reason: 'bad-magic-byte', partition: garbage!.partition, offset: garbage!.baseOffset, key: 'M8' },
      { reason: 'bad-idpel', partition: invalid!.partition, offset: invalid!.baseOffset, key: 'M10' },
    ]);
  });

  it('resolves start-up at once on an empty topic, then follows it', async () => {
    const topic = await metersTopic();
    const { table, follower } = await follow(topic);
    await follower.ready;
    expect(table.size).toBe(0);
    await follower.catchUp(60_000); // nothing to wait for

    const m1 = meter('M1', '511000000001', 'R-1', 1300, 'Asia/Makassar');
    await producer.send({ topic, messages: [{ key: 'M1', value: encode(m1) }] });
    await eventually(() => (table.has('M1') ? true : undefined), { what: 'M1 in the table' });
    expect(table.get('M1')).toEqual(m1);
  });

  it('retries a retriable failure in place; a catch-up not reached in time is retriable; stop rejects waits', async () => {
    const topic = await metersTopic();
    let down = true;
    let attempts = 0;
    const { table, follower } = await follow(topic, {
      before: () => {
        attempts++;
        if (down) throw new UnavailableError('schema-registry', 'down for the test');
      },
      logger: quiet, // the retry warnings are expected here
    });
    await follower.ready;

    const m1 = meter('M1', '511000000001', 'R-1', 1300, 'Asia/Makassar');
    await producer.send({ topic, messages: [{ key: 'M1', value: encode(m1) }] });
    // M1 cannot be applied while `down`: the catch-up gives up, retriable.
    const late = await follower.catchUp(300).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(late).toBeInstanceOf(UnavailableError);
    expect(isRetriable(late)).toBe(true);
    await eventually(() => (attempts >= 2 ? true : undefined), { what: 'M1 retried' });
    down = false;
    await follower.catchUp(60_000);
    expect(table.get('M1')).toEqual(m1);

    // Stopping rejects a waiting catch-up, not retriable, and a later one at once.
    down = true;
    attempts = 0;
    await producer.send({ topic, messages: [{ key: 'M2', value: null }] });
    const waiting = follower.catchUp(60_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    await eventually(() => (attempts >= 1 ? true : undefined), { what: 'the tombstone tried' });
    await follower.stop();
    const stopped = await waiting;
    expect(stopped).toBeInstanceOf(AmiError);
    expect(isRetriable(stopped)).toBe(false);
    await expect(follower.catchUp(60_000)).rejects.toSatisfy((e) => !isRetriable(e));
  });
});
