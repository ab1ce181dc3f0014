import { afterEach, describe, expect, it } from 'vitest';
import { partitionForKey, type MeterProfile, type Outage, type RunningChild } from '@ami/lib';
import { startAmi } from '@ami/cli/children';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';
import { loadDetectorConfig } from '@ami/detector/config';
import { startDetector, type DetectorHandle } from '@ami/detector/processor';
import { DetectorHarness, simulate } from '../support/detectorHarness.js';

/**
 * Issue 23, goal 1: 3 detector instances give the same outages (ids, scopes, parents, counts) as 1,
 * on the scenarios with FEEDER outages, when the simulator places reads and events by Kafka's
 * default partitioner (`--place-by key`): the gardu of one feeder land on different partitions,
 * hence instances, and go through the repartition topic (services/detector/README.md, "Scaling out").
 * The reference is one instance with DETECTOR_REPARTITION=false (one instance sees every gardu).
 */
const FEEDER_SCENARIOS = ['feeder-outage', 'momentaries', 'regional-blackout'];
const PLACE_BY_KEY = ['--place-by', 'key'];

interface Run {
  outages: Outage[];
  momentary: Outage[];
  profiles: MeterProfile[];
  done: number;
}

/** The latest record of each outage, by id, with what must agree: scope, parent, counts, times. */
function outcome(records: Outage[]): Record<string, string> {
  const latest = new Map<string, Outage>();
  const statuses = new Map<string, Set<string>>();
  for (const o of records) {
    latest.set(o.outage_id, o);
    (statuses.get(o.outage_id) ?? statuses.set(o.outage_id, new Set()).get(o.outage_id)!).add(o.status);
  }
  const out: Record<string, string> = {};
  for (const [id, o] of [...latest].sort(([a], [b]) => a.localeCompare(b)))
    out[id] = JSON.stringify({
      scope: o.scope,
      status: o.status,
      seen: [...statuses.get(id)!].sort(),
      parent: o.parent_outage_id,
      gardu: o.gardu_id,
      feeder: o.feeder_id,
      meters: o.meter_ids,
      started: o.started_at,
      confirmed: o.confirmed_at,
      restored: o.restored_at,
      affected: o.customers_affected,
      total: o.customers_total,
      gasps: o.last_gasps,
      tusbung: o.tusbung_excluded,
      interrupted: o.customers_interrupted,
      seconds: o.customer_interruption_s,
    });
  return out;
}

const harnesses: DetectorHarness[] = [];
const handles: DetectorHandle[] = [];
const children: RunningChild[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) await c.stop('SIGKILL').catch(() => undefined);
  for (const d of handles.splice(0)) await d.stop().catch(() => undefined);
  for (const h of harnesses.splice(0)) await h.stop().catch(() => undefined);
});

type Prepared = { env: Record<string, string>; h: DetectorHarness; scenario: string } & Run;

/** A fresh prefix for `scenario`, collecting what detectors publish there (nothing simulated yet). */
async function prepare(scenario: string): Promise<Prepared> {
  const prefix = testConfig().AMI_TOPIC_PREFIX;
  const env = {
    ...(process.env as Record<string, string>),
    AMI_TOPIC_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    DETECTOR_GROUP_ID: uniqueName('ami-detector'),
    // The scenarios are replayed from a backlog: no head-end answers pings here.
    DETECTOR_PINGS: 'false',
  };
  const h = new DetectorHarness(loadDetectorConfig(env));
  harnesses.push(h);
  await h.start(6);
  return {
    env,
    h,
    scenario,
    outages: await h.collect('Outage', h.topics.outages),
    momentary: await h.collect('Outage', h.topics.momentary),
    profiles: await h.collect('MeterProfile', h.topics.meters),
    done: Number.POSITIVE_INFINITY,
  };
}

/** The scenario's traffic, placed by the gardu key (the default partitioner) unless `placeBy` says otherwise. */
async function simulateInto(run: Prepared, placeBy = PLACE_BY_KEY): Promise<void> {
  const { summary } = await simulate(run.env.AMI_TOPIC_PREFIX!, run.scenario, placeBy);
  run.done = summary.end - 15 * 60_000;
}

/**
 * Waits until the detectors' group is stable with `members` members: the traffic simulated after
 * this is split between them from its first record (a first instance alone would take it all).
 */
async function groupOf(run: Prepared, members: number, timeoutMs = 120_000): Promise<void> {
  const admin = run.h.kafka.admin();
  await admin.connect();
  try {
    await eventually(
      async () => {
        const { groups } = await admin.describeGroups([run.env.DETECTOR_GROUP_ID!]);
        return groups[0]?.state === 'Stable' && groups[0].members.length === members ? true : undefined;
      },
      { what: `${members} detectors in the group`, timeoutMs, intervalMs: 500 },
    );
  } finally {
    await admin.disconnect();
  }
}

const exit = (code: number) => {
  throw new Error(`detector exit ${code}`);
};

async function runInProcess(
  run: Prepared,
  instances: number,
  over: Record<string, string> = {},
  placeBy = PLACE_BY_KEY,
): Promise<DetectorHandle[]> {
  // One after another: the schema registry refuses registrations of one subject at once.
  const started: DetectorHandle[] = [];
  for (let i = 0; i < instances; i++) {
    const d = await startDetector(
      loadDetectorConfig({ ...run.env, DETECTOR_INSTANCE_ID: uniqueName(`i${i}`), ...over }),
      testLogger,
      exit,
    );
    started.push(d);
    handles.push(d);
  }
  await groupOf(run, instances);
  await simulateInto(run, placeBy);
  for (const d of started)
    await eventually(() => (d.watermark() >= run.done ? true : undefined), {
      what: 'every instance at the end of the scenario',
      timeoutMs: 420_000,
      intervalMs: 500,
    });
  const outages = started.reduce((n, d) => n + d.stats.outages, 0);
  const momentary = started.reduce((n, d) => n + d.stats.momentary, 0);
  await eventually(
    () => (run.outages.length >= outages && run.momentary.length >= momentary ? true : undefined),
    { what: 'every record read back' },
  );
  return started;
}

/** The input partitions the gardu of each feeder land on by their key (the default partitioner). */
function spreadOfFeeders(profiles: MeterProfile[], partitions = 6): Map<string, Set<number>> {
  const spread = new Map<string, Set<number>>();
  for (const p of profiles) {
    const set = spread.get(p.feeder_id) ?? spread.set(p.feeder_id, new Set()).get(p.feeder_id)!;
    set.add(partitionForKey(Buffer.from(p.gardu_id), partitions));
  }
  return spread;
}

describe('detector scale-out: 3 instances, input placed by the default key partitioner', () => {
  it.each(FEEDER_SCENARIOS)(
    '%s: the same outages as one instance',
    async (scenario) => {
      const one = await prepare(scenario);
      const [single] = await runInProcess(one, 1, { DETECTOR_REPARTITION: 'false' });
      const three = await prepare(scenario);
      const instances = await runInProcess(three, 3);

      // FEEDER records (sustained or momentary) whose feeder has gardu on several partitions (instances).
      const feeders = [...one.outages, ...one.momentary].filter((r) => r.scope === 'FEEDER');
      expect(feeders.length).toBeGreaterThan(0);
      const spread = spreadOfFeeders(three.profiles);
      for (const o of feeders) expect(spread.get(o.feeder_id)!.size).toBeGreaterThan(1);

      expect(outcome(three.outages)).toEqual(outcome(one.outages));
      expect(outcome(three.momentary)).toEqual(outcome(one.momentary));
      expect(instances.map((d) => d.stats.dlq.late ?? 0)).toEqual([0, 0, 0]);
      expect(single!.stats.dlq.late ?? 0).toBe(0);
      // They went through the repartition topic (most gardu are not on their feeder's partition).
      const forwarded = instances.reduce((n, d) => n + d.stats.forwarded, 0);
      expect(forwarded).toBeGreaterThan(instances.reduce((n, d) => n + d.stats.consumed, 0) / 2);
    },
    900_000,
  );

  it('feeder-outage placed by feeder (the simulator by default): 3 instances forward nothing, the same outages', async () => {
    const one = await prepare('feeder-outage');
    await runInProcess(one, 1, { DETECTOR_REPARTITION: 'false' });
    const three = await prepare('feeder-outage');
    const instances = await runInProcess(three, 3, {}, ['--place-by', 'feeder']);
    expect(instances.map((d) => d.stats.forwarded)).toEqual([0, 0, 0]);
    expect(three.outages.some((o) => o.scope === 'FEEDER')).toBe(true);
    expect(outcome(three.outages)).toEqual(outcome(one.outages));
    expect(outcome(three.momentary)).toEqual(outcome(one.momentary));
  }, 900_000);

  it('regional-blackout with one of 3 instances SIGKILLed mid-storm: the same outages as one instance', async () => {
    const scenario = 'regional-blackout';
    const one = await prepare(scenario);
    await runInProcess(one, 1, { DETECTOR_REPARTITION: 'false' });
    const want = outcome(one.outages);
    const wantMomentary = outcome(one.momentary);

    const three = await prepare(scenario);
    // One after another (the schema registry refuses registrations of one subject at once), each in
    // the group before the next starts: three processes on a loaded 2-core machine take a while.
    for (let i = 0; i < 3; i++) {
      children.push(
        startAmi(`detector-${i}`, ['detector', 'run'], {
          env: { ...three.env, DETECTOR_INSTANCE_ID: uniqueName(`k${i}`) },
          onLine: (line, stream) => stream === 'stderr' && process.stderr.write(`${line}\n`),
        }),
      );
      await groupOf(three, i + 1, 180_000);
    }
    await simulateInto(three);
    // Mid-storm: the blackout's first outages are out, most of its records are not.
    await eventually(() => (three.outages.length > 0 ? true : undefined), {
      what: 'the first outage of the storm',
      timeoutMs: 300_000,
    });
    expect(three.outages.length).toBeLessThan(one.outages.length);
    await children[0]!.stop('SIGKILL');
    // The survivors take its partitions over (after the session timeout) and rebuild their state.
    await eventually(
      () =>
        JSON.stringify(outcome(three.outages)) === JSON.stringify(want) &&
        JSON.stringify(outcome(three.momentary)) === JSON.stringify(wantMomentary)
          ? true
          : undefined,
      { what: 'the reference outages', timeoutMs: 420_000, intervalMs: 1000 },
    ).catch(() => undefined);
    expect(outcome(three.outages)).toEqual(want);
    expect(outcome(three.momentary)).toEqual(wantMomentary);
    const opens = three.outages.filter((o) => o.status === 'OPEN').map((o) => o.outage_id);
    expect(new Set(opens).size).toBe(opens.length);
  }, 1_200_000);
});
