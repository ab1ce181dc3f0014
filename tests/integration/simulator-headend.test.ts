import { afterAll, describe, expect, it } from 'vitest';
import type { Consumer } from 'kafkajs';
import {
  AvroCodec,
  createKafka,
  createRegistry,
  type CommandResult,
  type MeterCommand,
  type MeterEvent,
  type MeterRead,
} from '@ami/lib';
import { loadSimulatorConfig } from '../../services/simulator/src/config.js';
import { Fleet } from '../../services/simulator/src/fleet.js';
import { HeadEnd } from '../../services/simulator/src/headendService.js';
import { Publisher } from '../../services/simulator/src/publisher.js';
import { subjectOf } from '../../services/simulator/src/schemas.js';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';

/** The head-end against the real broker and registry: it answers every command, accepted or refused. */
describe('head-end answers ami.commands', () => {
  const common = testConfig();
  const cfg = loadSimulatorConfig({
    ...process.env,
    ...Object.fromEntries(Object.entries(common).map(([k, v]) => [k, String(v)])),
    HEADEND_GROUP_ID: uniqueName('headend'),
    HEADEND_BUTTON_DELAY_MS: '300',
    SIM_PARTITIONS: '2',
  });
  const kafka = createKafka(cfg, testLogger);
  const codec = new AvroCodec(createRegistry(cfg));
  const head = new HeadEnd(kafka, cfg, codec, testLogger);
  const consumers: Consumer[] = [];
  afterAll(async () => {
    for (const c of consumers) await c.disconnect();
    await head.stop();
  });

  it('acts as the meters would and refuses with a recorded reason', async () => {
    const fleet = new Fleet({
      meters: 40,
      seed: 'headend',
      regions: ['BALI'],
      garduSize: { min: 10, max: 20 },
    });
    const publisher = new Publisher(kafka, cfg, codec, 2);
    await publisher.start();
    await publisher.publishFleet(fleet);
    await publisher.stop();
    const ami = fleet.meterId(
      [...Array(fleet.size).keys()].find((m) => fleet.isAmi(m) && fleet.productOf(m).dayaVa >= 900)!,
    );
    const amr = [...Array(fleet.size).keys()].find((m) => !fleet.isAmi(m));

    await head.start();

    const issued = Date.now();
    const cmd = (
      id: string,
      meter: string,
      type: MeterCommand['type'],
      power_limit_va: number | null = null,
    ): MeterCommand => ({
      command_id: id,
      meter_id: meter,
      issued_at: issued,
      type,
      power_limit_va,
      issued_by: 'it',
      reason: 'test',
    });
    const commands = [
      cmd('c1', ami, 'DISCONNECT'),
      cmd('c2', ami, 'ENABLE_RECONNECT'),
      cmd('c3', ami, 'SET_POWER_LIMIT', 450),
      cmd('c4', ami, 'SET_POWER_LIMIT', 99_999),
      cmd('c5', ami, 'READ_NOW'),
      cmd('c6', 'M99999999', 'DISCONNECT'),
      ...(amr !== undefined ? [cmd('c7', fleet.meterId(amr), 'DISCONNECT')] : []),
    ];
    const encode = codec.encoder(
      'MeterCommand',
      await codec.register('MeterCommand', subjectOf(cfg.AMI_TOPIC_PREFIX, 'MeterCommand')),
    );
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: head.topics.commands,
      acks: -1,
      messages: commands.map((c) => ({ key: c.meter_id, value: encode(c) })),
    });
    await producer.send({
      topic: head.topics.commands,
      acks: -1,
      messages: [{ key: 'junk', value: Buffer.from('not avro') }],
    });
    await producer.disconnect();

    const results: CommandResult[] = [];
    const events: MeterEvent[] = [];
    const reads: MeterRead[] = [];
    const dlq: string[] = [];
    const follow = async (
      topic: string,
      onValue: (v: Buffer, headers: Record<string, unknown>) => Promise<void>,
    ) => {
      const c = kafka.consumer({ groupId: uniqueName('it') });
      consumers.push(c);
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      await c.run({ eachMessage: async ({ message }) => onValue(message.value!, message.headers ?? {}) });
    };
    const topics = head.topics;
    await follow(
      topics.commandResults,
      async (v) => void results.push(await codec.decode('CommandResult', v)),
    );
    await follow(topics.events, async (v) => void events.push(await codec.decode('MeterEvent', v)));
    await follow(topics.reads, async (v) => void reads.push(await codec.decode('MeterRead', v)));
    await follow(topics.dlq, async (_v, h) => void dlq.push(String(h['ami.reason'])));

    await eventually(
      () =>
        results.length >= commands.length && events.some((e) => e.type === 'RELAY_CLOSED') && dlq.length === 1
          ? true
          : undefined,
      { timeoutMs: 60_000, what: 'results, button press and dead letter' },
    );

    const byId = new Map(results.map((r) => [r.command_id, r]));
    expect(byId.get('c1')).toMatchObject({ status: 'ACCEPTED', event_id: 'c1:RELAY_OPENED' });
    expect(byId.get('c2')).toMatchObject({ status: 'ACCEPTED', event_id: 'c2:RECONNECT_ENABLED' });
    expect(byId.get('c3')).toMatchObject({ status: 'ACCEPTED' });
    expect(byId.get('c4')?.reason).toMatch(/^INVALID_POWER_LIMIT/);
    expect(byId.get('c5')).toMatchObject({ status: 'ACCEPTED' });
    expect(byId.get('c6')?.reason).toMatch(/^UNKNOWN_METER/);
    if (amr !== undefined) expect(byId.get('c7')?.reason).toMatch(/^AMR_METER/);

    const seq = events.filter((e) => e.meter_id === ami).map((e) => `${e.type}/${e.cause}/${e.relay}`);
    expect(seq).toEqual([
      'RELAY_OPENED/REMOTE_DISCONNECT/OPEN',
      'RECONNECT_ENABLED/REMOTE_CONNECT/OPEN',
      'POWER_LIMIT_CHANGED/NONE/OPEN',
      'RELAY_CLOSED/BUTTON/CLOSED',
    ]);
    expect(reads).toEqual([
      expect.objectContaining({ meter_id: ami, kind: 'ON_DEMAND', relay: 'OPEN', power_limit_va: 450 }),
    ]);
    expect(dlq).toEqual(['bad-magic-byte']);
  });
});
