import { afterAll, describe, expect, it } from 'vitest';
import type { Consumer, Kafka } from 'kafkajs';
import {
  AvroCodec,
  createKafka,
  createRegistry,
  type CommandResult,
  type MeterCommand,
  type MeterEvent,
  type MeterRead,
  valueSubject,
} from '@ami/lib';
import { loadSimulatorConfig, type SimulatorConfig } from '@ami/simulator/config';
import { Fleet } from '@ami/simulator/fleet';
import { HeadEnd } from '@ami/simulator/headendService';
import { drawPing, MEDIA, mediumOf } from '@ami/simulator/media';
import { Publisher } from '@ami/simulator/publisher';
import { runSimulation } from '@ami/simulator/run';
import { parseScenarioText } from '@ami/simulator/scenario';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';

/** Timers fire on the event loop's cached clock, a few ms off Date.now(). */
const SLACK_MS = 20;

/** A head-end on a fresh prefix, with what the test reads back from its topics. */
function setUp(env: Record<string, string>) {
  const common = testConfig();
  const cfg = loadSimulatorConfig({
    ...process.env,
    ...Object.fromEntries(Object.entries(common).map(([k, v]) => [k, String(v)])),
    HEADEND_GROUP_ID: uniqueName('headend'),
    SIM_PARTITIONS: '2',
    ...env,
  });
  const kafka = createKafka(cfg, testLogger);
  const codec = new AvroCodec(createRegistry(cfg));
  const head = new HeadEnd(kafka, cfg, codec, testLogger);
  const consumers: Consumer[] = [];
  const seen = {
    results: [] as CommandResult[],
    events: [] as MeterEvent[],
    reads: [] as MeterRead[],
    dlq: [] as string[],
  };
  const follow = async (topic: string, onValue: (v: Buffer, h: Record<string, unknown>) => Promise<void>) => {
    const c = kafka.consumer({ groupId: uniqueName('it') });
    consumers.push(c);
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({ eachMessage: async ({ message }) => onValue(message.value!, message.headers ?? {}) });
  };
  return {
    cfg,
    kafka,
    codec,
    head,
    seen,
    async followAll() {
      const t = head.topics;
      await follow(
        t.commandResults,
        async (v) => void seen.results.push(await codec.decode('CommandResult', v)),
      );
      await follow(t.events, async (v) => void seen.events.push(await codec.decode('MeterEvent', v)));
      await follow(t.reads, async (v) => void seen.reads.push(await codec.decode('MeterRead', v)));
      await follow(t.dlq, async (_v, h) => void seen.dlq.push(String(h['ami.reason'])));
    },
    async send(
      commands: MeterCommand[],
      extra: { key: string; value: Buffer }[] = [],
      topic = head.topics.commands,
    ) {
      const encode = codec.encoder('MeterCommand', await codec.register('MeterCommand', valueSubject(topic)));
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic,
        acks: -1,
        messages: [...commands.map((c) => ({ key: c.meter_id, value: encode(c) })), ...extra],
      });
      await producer.disconnect();
    },
    async tearDown() {
      await Promise.all([...consumers.map((c) => c.disconnect()), head.stop()]);
    },
  };
}

const cmd = (
  id: string,
  meter: string,
  type: MeterCommand['type'],
  power_limit_va: number | null = null,
) => ({
  command_id: id,
  meter_id: meter,
  issued_at: Date.now(),
  type,
  power_limit_va,
  issued_by: 'it',
  reason: 'test',
});

/** The first command id `<prefix>-<n>` whose draw on this medium is not lost (deterministic per seed). */
function answeredId(prefix: string, kdpm: 'L' | 'R' | 'S' | 'F', cfg: SimulatorConfig): string {
  for (let i = 0; ; i++) {
    const id = `${prefix}-${i}`;
    if (!drawPing(MEDIA[kdpm], cfg.HEADEND_SEED, id, cfg.HEADEND_LATENCY_SCALE).lost) return id;
  }
}

async function publishFleet(
  kafka: Kafka,
  cfg: SimulatorConfig,
  codec: AvroCodec,
  fleet: Fleet,
): Promise<void> {
  const publisher = new Publisher(kafka, cfg, codec, 2);
  await publisher.start();
  await publisher.publishFleet(fleet);
  await publisher.stop();
}

/** The head-end against the real broker and registry: it answers every command, accepted or refused. */
describe('head-end answers ami.commands', () => {
  // Media 20x faster than the table; the button 3 s after ENABLE_RECONNECT (after any ping's answer).
  const h = setUp({ HEADEND_BUTTON_DELAY_MS: '3000', HEADEND_LATENCY_SCALE: '0.05' });
  afterAll(() => h.tearDown());

  it('acts as the meters would and refuses with a recorded reason', async () => {
    const { cfg, kafka, codec, head, seen } = h;
    const fleet = new Fleet({
      meters: 40,
      seed: 'headend',
      regions: ['BALI'],
      garduSize: { min: 10, max: 20 },
    });
    await publishFleet(kafka, cfg, codec, fleet);
    const m = [...Array(fleet.size).keys()].find((i) => fleet.isAmi(i) && fleet.productOf(i).dayaVa >= 900)!;
    const ami = fleet.meterId(m);
    const amr = [...Array(fleet.size).keys()].find((i) => !fleet.isAmi(i));
    await head.start();

    const read = answeredId('c5', mediumOf(fleet.kdpmOf(m))!.kdpm, cfg);
    const commands = [
      cmd('c1', ami, 'DISCONNECT'),
      cmd('c2', ami, 'ENABLE_RECONNECT'),
      cmd('c3', ami, 'SET_POWER_LIMIT', 450),
      cmd('c4', ami, 'SET_POWER_LIMIT', 99_999),
      cmd(read, ami, 'READ_NOW'),
      cmd('c6', 'M99999999', 'DISCONNECT'),
      ...(amr !== undefined ? [cmd('c7', fleet.meterId(amr), 'DISCONNECT')] : []),
    ];
    await h.send(commands, [{ key: 'junk', value: Buffer.from('not avro') }]);
    await h.followAll();

    await eventually(
      () =>
        seen.results.length >= commands.length &&
        seen.events.some((e) => e.type === 'RELAY_CLOSED') &&
        seen.dlq.length === 1
          ? true
          : undefined,
      { timeoutMs: 60_000, what: 'results, button press and dead letter' },
    );

    const byId = new Map(seen.results.map((r) => [r.command_id, r]));
    expect(byId.get('c1')).toMatchObject({ status: 'ACCEPTED', event_id: 'c1:RELAY_OPENED' });
    expect(byId.get('c2')).toMatchObject({ status: 'ACCEPTED', event_id: 'c2:RECONNECT_ENABLED' });
    expect(byId.get('c3')).toMatchObject({ status: 'ACCEPTED', answered_in_ms: null });
    expect(byId.get('c4')?.reason).toMatch(/^INVALID_POWER_LIMIT/);
    expect(byId.get(read)).toMatchObject({ status: 'ACCEPTED', relay: 'OPEN' });
    expect(byId.get('c6')?.reason).toMatch(/^UNKNOWN_METER/);
    if (amr !== undefined) expect(byId.get('c7')?.reason).toMatch(/^AMR_METER/);

    const seq = seen.events.filter((e) => e.meter_id === ami).map((e) => `${e.type}/${e.cause}/${e.relay}`);
    expect(seq).toEqual([
      'RELAY_OPENED/REMOTE_DISCONNECT/OPEN',
      'RECONNECT_ENABLED/REMOTE_CONNECT/OPEN',
      'POWER_LIMIT_CHANGED/NONE/OPEN',
      'RELAY_CLOSED/BUTTON/CLOSED',
    ]);
    expect(seen.reads).toEqual([
      expect.objectContaining({ meter_id: ami, kind: 'ON_DEMAND', relay: 'OPEN', power_limit_va: 450 }),
    ]);
    expect(seen.dlq).toEqual(['bad-magic-byte']);
  });
});

/**
 * Machine pings on `<prefix>.pings` (services/detector): READ_NOW is answered as on the commands
 * topic; a control command there (a forged DISCONNECT, whatever its issued_by) is refused
 * NOT_A_PING and the meter never hears it.
 */
describe('head-end answers ami.pings, READ_NOW only', () => {
  const h = setUp({ HEADEND_LATENCY_SCALE: '0.05' });
  afterAll(() => h.tearDown());

  it('answers a ping and refuses a DISCONNECT sent as a ping, leaving the relay closed', async () => {
    const { cfg, kafka, codec, head, seen } = h;
    const fleet = new Fleet({
      meters: 20,
      seed: 'pings-topic',
      regions: ['BALI'],
      garduSize: { min: 10, max: 20 },
    });
    await publishFleet(kafka, cfg, codec, fleet);
    const m = [...Array(fleet.size).keys()].find((i) => fleet.isAmi(i))!;
    const ami = fleet.meterId(m);
    await head.start();
    const ping = answeredId('p', mediumOf(fleet.kdpmOf(m))!.kdpm, cfg);
    const forged = [
      { ...cmd('forged-disconnect', ami, 'DISCONNECT'), issued_by: 'detector' },
      { ...cmd('forged-limit', ami, 'SET_POWER_LIMIT', 450), issued_by: 'detector' },
    ];
    await h.send(
      [...forged, { ...cmd(ping, ami, 'READ_NOW'), issued_by: 'detector' }],
      [],
      head.topics.pings,
    );
    await h.followAll();

    await eventually(() => (seen.results.length >= 3 && seen.reads.length >= 1 ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the results of the pings topic and the ping read',
    });
    const byId = new Map(seen.results.map((r) => [r.command_id, r]));
    for (const f of forged) {
      expect(byId.get(f.command_id)).toMatchObject({ status: 'REFUSED', event_id: null });
      expect(byId.get(f.command_id)?.reason).toMatch(new RegExp(`^NOT_A_PING: .*${f.type} from "detector"`));
    }
    // The ping after the forged commands is answered with the relay still closed; nothing happened to the meter.
    expect(byId.get(ping)).toMatchObject({ status: 'ACCEPTED', relay: 'CLOSED' });
    expect(seen.reads).toEqual([
      expect.objectContaining({
        meter_id: ami,
        kind: 'ON_DEMAND',
        relay: 'CLOSED',
        power_limit_va: fleet.productOf(m).dayaVa,
      }),
    ]);
    expect(seen.events).toEqual([]);
    expect(seen.results).toHaveLength(3);
  });
});

/**
 * Pings through the media against the simulated physical world: the
 * simulation darkens one gardu (its supply change reaches the head-end on
 * `<prefix>.sim.supply`), PLC concentrators serve 2 pings at a time with a
 * queue of 3, media run 20x faster than the table.
 */
describe('head-end pings: latency, darkness, concentrator capacity', () => {
  const h = setUp({
    HEADEND_LATENCY_SCALE: '0.05',
    HEADEND_CONCENTRATOR_IN_FLIGHT: '2',
    HEADEND_CONCENTRATOR_QUEUE: '3',
  });
  afterAll(() => h.tearDown());

  it('a powered PLC meter answers; a dark one never does; the concentrator refuses the 6th; one result each', async () => {
    const { cfg, kafka, codec, head, seen } = h;
    const fleet = new Fleet({
      meters: 80,
      seed: 'pings',
      regions: ['BALI'],
      garduSize: { min: 20, max: 30 },
    });
    const plcOf = (g: number) => {
      const { first, end } = fleet.metersOfGardu(g);
      return [...Array(end - first).keys()].map((k) => first + k).filter((m) => fleet.kdpmOf(m) === 'L');
    };
    const [darkG, litG] = [...Array(fleet.garduTotal).keys()].filter((g) => plcOf(g).length > 0);
    expect(litG).toBeDefined();
    const darkMeter = fleet.meterId(plcOf(darkG!)[0]!);
    const litMeter = fleet.meterId(plcOf(litG!)[0]!);

    // The simulation: started 10 minutes ago, the gardu dark from 5 minutes ago for two hours.
    const start = Date.now() - 10 * 60_000;
    const scenario = parseScenarioText(`
name: headend-pings
duration: 15m
actions:
  - { type: outage, scope: GARDU, target: { gardu_id: ${fleet.garduIds[darkG!]} }, at: 5m, duration: 2h }
`);
    const publisher = new Publisher(kafka, cfg, codec, 2);
    await publisher.start();
    await publisher.publishFleet(fleet);
    await runSimulation({ fleet, scenario, startMs: start, speed: { mode: 'max' } }, (b) =>
      publisher.publishBatch(b),
    );
    await publisher.stop();
    await head.start();
    expect(head.supply.darkAt(head.profiles.get(darkMeter)!, Date.now())).toMatchObject({
      scope: 'GARDU',
      unit_id: fleet.garduIds[darkG!],
    });

    const lit = answeredId('lit', 'L', cfg);
    // Six concurrent pings to the dark gardu's concentrator (same key: one partition, one batch):
    // 2 in flight, 3 queued, the 6th refused; each in flight holds its slot for the whole time-out.
    const darkPings = [0, 1, 2, 3, 4, 5].map((i) => cmd(`dark-${i}`, darkMeter, 'READ_NOW'));
    const commands = [
      cmd(lit, litMeter, 'READ_NOW'),
      ...darkPings,
      cmd('dark-disconnect', darkMeter, 'DISCONNECT'),
    ];
    const sentAt = Date.now();
    await h.send(commands);
    await h.followAll();
    await eventually(
      () =>
        commands.every((c) => seen.results.some((r) => r.command_id === c.command_id)) ? true : undefined,
      {
        timeoutMs: 40_000,
        what: 'a result for every command',
      },
    );
    const byId = new Map(seen.results.map((r) => [r.command_id, r]));

    // The powered PLC meter answered within its medium's latency, the read in the result and on ami.reads.
    const draw = drawPing(MEDIA.L, cfg.HEADEND_SEED, lit, cfg.HEADEND_LATENCY_SCALE);
    const answer = byId.get(lit)!;
    expect(answer).toMatchObject({ status: 'ACCEPTED', reason: null, relay: 'CLOSED', voltage_v: 220 });
    // Timers run on the event loop's clock, which may lag Date.now() by a few ms: hence the slack.
    expect(answer.answered_in_ms!).toBeGreaterThanOrEqual(draw.latencyMs - SLACK_MS);
    expect(answer.answered_in_ms!).toBeLessThan(draw.timeoutMs);
    expect(answer.energy_import_wh!).toBeGreaterThan(0);
    await eventually(() => seen.reads.find((r) => r.meter_id === litMeter && r.kind === 'ON_DEMAND'), {
      what: 'the on-demand read',
    });
    expect(seen.reads.find((r) => r.meter_id === litMeter && r.kind === 'ON_DEMAND')).toMatchObject({
      read_at: answer.read_at,
      energy_import_wh: answer.energy_import_wh,
    });

    // The dark meter never answered: NO_ANSWER after the time-out, the 6th ping refused at once.
    const timeout = Math.round(MEDIA.L.timeoutMs * cfg.HEADEND_LATENCY_SCALE);
    for (const p of darkPings.slice(0, 5)) {
      const r = byId.get(p.command_id)!;
      expect(r.status).toBe('REFUSED');
      expect(r.reason).toMatch(
        /^NO_ANSWER: meter \S+ did not answer within 2 s over PLC through the data concentrator DCU-/,
      );
      expect(r.decided_at - sentAt).toBeGreaterThanOrEqual(timeout - SLACK_MS);
      expect(r.read_at ?? null).toBeNull();
    }
    expect(byId.get('dark-5')?.reason).toMatch(
      /^CONCENTRATOR_BUSY: concentrator DCU-\S+ has 2 pings in flight and 3 queued/,
    );
    // Queued pings waited for a slot: they timed out one time-out after the first two.
    expect(byId.get('dark-4')!.decided_at - byId.get('dark-0')!.decided_at).toBeGreaterThanOrEqual(
      timeout - SLACK_MS,
    );
    // A DISCONNECT cannot reach a dark meter: NO_ANSWER, and no relay event.
    expect(byId.get('dark-disconnect')?.reason).toMatch(
      /^NO_ANSWER: meter \S+ did not answer the DISCONNECT/,
    );
    expect(seen.events.filter((e) => e.event_id.startsWith('dark-'))).toEqual([]);
    expect(seen.reads.filter((r) => r.meter_id === darkMeter && r.kind === 'ON_DEMAND')).toEqual([]);

    // Exactly one result per command, nothing left waiting.
    expect(head.exchanges.waiting).toBe(0);
    const counts = new Map<string, number>();
    for (const r of seen.results) counts.set(r.command_id, (counts.get(r.command_id) ?? 0) + 1);
    expect(commands.map((c) => counts.get(c.command_id))).toEqual(commands.map(() => 1));
    expect(counts.size).toBe(commands.length);
  }, 60_000);
});
