import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka, topicNames, type MeterStatus } from '@ami/lib';
import { eventually, testLogger, uniqueName } from '../support/fixtures.js';
import { loadDetectorConfig } from '@ami/detector/config';
import { startDetector, type DetectorHandle } from '@ami/detector/processor';
import { registerSchemas } from '@ami/simulator/schemas';
import { DetectorHarness, ev, profile } from '../support/detectorHarness.js';

/**
 * Start-up on a fresh prefix and two pipelines on one cluster (issue 19, defects 3 and 6).
 * Group and transactional ids are left to their defaults: they must follow the topic prefix.
 */
const T0 = Date.UTC(2026, 0, 5, 2, 0, 0);
const exits: Array<{ who: string; code: number }> = [];
const stoppers: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
});

function detectorEnv(prefix: string): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    AMI_TOPIC_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    // The same host for both pipelines: the default instance id is the host name.
    DETECTOR_INSTANCE_ID: 'shared-host',
    DETECTOR_PARTITIONS: '2',
    IDLE_ADVANCE_MS: '0',
    ALLOWED_LATENESS_MS: '1000',
  };
  delete env.DETECTOR_GROUP_ID;
  return env;
}

async function detectorOn(prefix: string): Promise<DetectorHandle> {
  const d = await startDetector(loadDetectorConfig(detectorEnv(prefix)), testLogger, (code) => {
    exits.push({ who: prefix, code });
  });
  stoppers.push(() => d.stop());
  return d;
}

describe('start-up on a new prefix', () => {
  it('`ami detector run` and `ami loader run` started together right after the schemas are registered both run', async () => {
    const prefix = uniqueName('t');
    const cfg = loadDetectorConfig(detectorEnv(prefix));
    await registerSchemas(cfg);
    const env: Record<string, string | undefined> = {
      ...detectorEnv(prefix),
      LOG_LEVEL: 'info',
      LOADER_BILLING_REFRESH_S: '0',
    };
    delete env.LOADER_GROUP_ID;
    const detector = service(['detector', 'run'], env);
    const loader = service(['loader', 'run'], env);
    stoppers.push(detector.stop, loader.stop);
    await eventually(
      () => {
        for (const s of [detector, loader])
          if (s.exited !== undefined) throw new Error(`exited ${s.exited}: ${s.output().slice(-2000)}`);
        return detector.output().includes('"msg":"detector running"') &&
          loader.output().includes('"msg":"loader running"')
          ? true
          : undefined;
      },
      { timeoutMs: 90_000, what: 'detector and loader running' },
    ).catch((err: Error) => {
      // The message of a service that died, not only the timeout.
      throw new Error(
        `${err.message}\ndetector: ${detector.output().slice(-1500)}\nloader: ${loader.output().slice(-1500)}`,
      );
    });
    // Every topic the two created or use has a leader for each partition.
    const admin = createKafka(cfg, testLogger).admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: Object.values(topicNames(prefix)) });
    await admin.disconnect();
    for (const t of meta.topics) for (const p of t.partitions) expect(p.leader).toBeGreaterThanOrEqual(0);
  });
});

/** `ami <args>` as a child process (a service exits the process, not the test). */
function service(args: string[], env: Record<string, string | undefined>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/cli/src/ami.ts', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const s = {
    exited: undefined as number | null | undefined,
    output: () => out,
    stop: async () => {
      if (s.exited !== undefined) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(15_000)]);
      if (s.exited === undefined) child.kill('SIGKILL');
    },
  };
  child.once('exit', (code) => (s.exited = code));
  return s;
}

describe('two pipelines on one cluster', () => {
  it('detectors on two prefixes, default group and transactional ids, neither rebalances nor fences the other', async () => {
    const a = uniqueName('ta');
    const b = uniqueName('tb');
    const ha = new DetectorHarness(loadDetectorConfig(detectorEnv(a)));
    const hb = new DetectorHarness(loadDetectorConfig(detectorEnv(b)));
    stoppers.push(
      () => ha.stop(),
      () => hb.stop(),
    );
    await ha.start(2);
    await hb.start(2);
    await ha.meters([profile('A-M1', 'GA'), profile('A-M2', 'GA')]);
    await hb.meters([profile('B-M1', 'GB')]);
    await detectorOn(a);
    const statusesA: MeterStatus[] = await ha.collect('MeterStatus', ha.topics.meterStatus);
    await ha.events([
      ev('a1', 'A-M1', 'GA', 'RELAY_OPENED', T0, { relay: 'OPEN', cause: 'REMOTE_DISCONNECT' }),
    ]);
    await ha.events([ev('a-clock', 'A-M2', 'GA', 'POWER_RESTORE', T0 + 60_000)]);
    await eventually(() => (statusesA.some((s) => s.meter_id === 'A-M1') ? true : undefined), {
      what: "A's first status",
    });

    // B starts on the same cluster and host: another group, another transactional id.
    const detB = await detectorOn(b);
    await hb.events([ev('b1', 'B-M1', 'GB', 'POWER_RESTORE', T0)]);
    await eventually(() => (detB.stats.consumed >= 1 ? true : undefined), { what: 'B consumed' });

    // A keeps every partition and its producer: its next transaction commits.
    await ha.events([
      ev('a2', 'A-M2', 'GA', 'RELAY_OPENED', T0 + 120_000, { relay: 'OPEN', cause: 'REMOTE_DISCONNECT' }),
    ]);
    await ha.events([ev('a-clock2', 'A-M1', 'GA', 'POWER_RESTORE', T0 + 240_000)]);
    await eventually(
      () => (statusesA.some((s) => s.meter_id === 'A-M2' && s.state === 'DISCONNECTED') ? true : undefined),
      { what: "A's status after B started" },
    );
    expect(exits).toEqual([]);
    const admin = ha.kafka.admin();
    await admin.connect();
    const groups = await admin.listGroups();
    const described = await admin.describeGroups(
      groups.groups.map((g) => g.groupId).filter((g) => g.startsWith(a) || g.startsWith(b)),
    );
    await admin.disconnect();
    const main = described.groups.filter(
      (g) => g.groupId === `${a}-detector` || g.groupId === `${b}-detector`,
    );
    expect(main.map((g) => [g.groupId, g.members.length]).sort()).toEqual([
      [`${a}-detector`, 1],
      [`${b}-detector`, 1],
    ]);
  });
});
