import { afterAll, describe, expect, it } from 'vitest';
import type { Consumer, Kafka } from 'kafkajs';
import {
  AvroCodec,
  createKafka,
  createRegistry,
  type MeterEvent,
  type MeterProfile,
  type MeterRead,
  type RecordName,
  type RecordTypes,
} from '@ami/lib';
import { collectTruth } from '@ami/simulator/groundTruth';
import { Publisher } from '@ami/simulator/publisher';
import { fleetFor, runSimulation, startFor } from '@ami/simulator/run';
import { loadScenario } from '@ami/simulator/scenario';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';

/** Publish a small scenario to the real broker and read it back, decoded through the real registry. */

async function consumeAll<N extends RecordName>(
  kafka: Kafka,
  codec: AvroCodec,
  topic: string,
  name: N,
  sink: RecordTypes[N][],
  keys: string[],
): Promise<Consumer> {
  const c = kafka.consumer({ groupId: uniqueName('g') });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await c.run({
    eachMessage: async ({ message }) => {
      sink.push(await codec.decode(name, message.value!));
      keys.push(message.key!.toString());
    },
  });
  return c;
}

describe('simulator publishes to Kafka', () => {
  const cfg = testConfig();
  const kafka = createKafka(cfg, testLogger);
  const codec = new AvroCodec(createRegistry(cfg));
  const consumers: Consumer[] = [];
  afterAll(async () => {
    for (const c of consumers) await c.disconnect();
  });

  it('meters first (key meter_id), then reads and events keyed by gardu_id, decoded equal to what was simulated', async () => {
    const scenario = loadScenario('demo');
    const fleet = fleetFor(scenario);
    const publisher = new Publisher(kafka, cfg, codec, 3);
    await publisher.start();
    await publisher.publishFleet(fleet);
    const sent = { reads: [] as MeterRead[], events: [] as MeterEvent[] };
    const { lines, sink } = collectTruth();
    const stats = await runSimulation(
      { fleet, scenario, startMs: startFor(scenario, undefined), speed: { mode: 'max' }, truth: sink },
      async (b) => {
        sent.reads.push(...b.reads);
        sent.events.push(...b.events);
        await publisher.publishBatch(b);
      },
    );
    await publisher.stop();
    expect(stats.reads).toBeGreaterThan(1000);
    expect(lines.some((l) => l.kind === 'interruption')).toBe(true);

    const got = { meters: [] as MeterProfile[], reads: [] as MeterRead[], events: [] as MeterEvent[] };
    const keys = { meters: [] as string[], reads: [] as string[], events: [] as string[] };
    consumers.push(
      await consumeAll(kafka, codec, publisher.topics.meters, 'MeterProfile', got.meters, keys.meters),
    );
    consumers.push(
      await consumeAll(kafka, codec, publisher.topics.reads, 'MeterRead', got.reads, keys.reads),
    );
    consumers.push(
      await consumeAll(kafka, codec, publisher.topics.events, 'MeterEvent', got.events, keys.events),
    );
    await eventually(
      () =>
        got.meters.length === fleet.size &&
        got.reads.length === sent.reads.length &&
        got.events.length === sent.events.length
          ? true
          : undefined,
      { timeoutMs: 60_000, what: 'all records consumed back' },
    );

    expect(keys.meters).toEqual(got.meters.map((m) => m.meter_id));
    expect(keys.reads).toEqual(got.reads.map((r) => r.gardu_id));
    expect(keys.events).toEqual(got.events.map((e) => e.gardu_id));
    const sortBy = <T>(rows: T[], k: (r: T) => string) =>
      [...rows].sort((a, b) => (k(a) < k(b) ? -1 : k(a) > k(b) ? 1 : 0));
    expect(sortBy(got.meters, (m) => m.meter_id)).toEqual([...fleet.profiles()]);
    const readKey = (r: MeterRead) => `${r.meter_id}@${r.read_at}`;
    // voltage is an Avro float: compare with float32 rounding
    const f32 = (r: MeterRead) => ({ ...r, voltage_v: Math.fround(r.voltage_v) });
    expect(sortBy(got.reads, readKey).map(f32)).toEqual(sortBy(sent.reads, readKey).map(f32));
    expect(sortBy(got.events, (e) => e.event_id)).toEqual(sortBy(sent.events, (e) => e.event_id));
    // every meter's reads arrive in order (one gardu = one partition)
    const last = new Map<string, number>();
    for (const r of got.reads) {
      expect(r.read_at).toBeGreaterThan(last.get(r.meter_id) ?? 0);
      last.set(r.meter_id, r.read_at);
    }
  });
});
