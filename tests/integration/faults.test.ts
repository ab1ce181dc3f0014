import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '@ami/lib';
import { eventually, testLogger } from '../support/fixtures.js';
import { PrivateStack } from '../support/privateStack.js';
import { Pipeline, type Figures, type Produced } from '../support/pipeline.js';

/**
 * Faults on a PRIVATE stack (own ports, own AMI_HOME under /tmp): the broker
 * SIGKILLed mid-replay, the detector SIGKILLed mid-outage, ClickHouse stopped
 * during load, the schema registry stopped. Each case ends with "nothing
 * lost, nothing doubled": the simulator's reads and ground-truth outages
 * against ClickHouse and the outages topic. Figures go to stdout and
 * test-artifacts/faults.json.
 */

const figures: Record<string, Figures & { note?: string }> = {};

function report(name: string, f: Figures, note?: string): void {
  figures[name] = { ...f, ...(note ? { note } : {}) };
  process.stdout.write(`[faults] ${name}: ${JSON.stringify(figures[name])}\n`);
}

/** Waits until every distinct read is in ClickHouse and the ground-truth outages are detected and restored. */
async function settled(p: Pipeline, produced: Produced, timeoutMs = 90_000): Promise<void> {
  await eventually(async () => ((await p.chReads()).distinct >= produced.distinctReads ? true : undefined), {
    timeoutMs,
    intervalMs: 500,
    what: `all ${produced.distinctReads} reads in ClickHouse`,
  });
  await eventually(() => (p.outageCheck(produced).missing.length === 0 && p.outageCheck(produced).wrong.length === 0 ? true : undefined), {
    timeoutMs,
    intervalMs: 500,
    what: 'every ground-truth outage detected and restored',
  });
  // The loader has the latest outage records too.
  const ids = new Set(p.outageRecords.map((o) => o.outage_id)).size;
  await eventually(async () => ((await p.chOutageIds()) >= ids ? true : undefined), { timeoutMs, what: 'outages in ClickHouse' });
}

function nothingLostNothingDoubled(f: Figures): void {
  expect(f.producedDistinct).toBeGreaterThan(0);
  expect(f.chDistinct).toBe(f.producedDistinct); // nothing lost, nothing invented
  expect(f.chFinal).toBe(f.chDistinct); // no (meter_id, read_at) twice after dedup
  expect(f.expectedOutages).toBeGreaterThan(0);
  expect(f.missingOutages).toBe(0);
  expect(f.unexpectedOutages).toBe(0);
  expect(f.doubledTransitions).toBe(0); // no OPEN or RESTORED published twice
  expect(f.chOutageIds).toBe(f.outageIds);
}

describe('faults on a private stack', () => {
  let stack: PrivateStack;
  let logDir: string;
  let pipe: Pipeline | undefined;

  beforeAll(async () => {
    const t0 = Date.now();
    stack = await PrivateStack.start('faults');
    logDir = join(stack.home, 'service-logs');
    mkdirSync(logDir, { recursive: true });
    process.stdout.write(`[faults] private stack up in ${Date.now() - t0} ms: ${JSON.stringify(stack.env)}\n`);
  }, 240_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && pipe) {
      for (const s of [pipe.loader, pipe.detector]) if (s) process.stdout.write(`--- ${s.name} log ---\n${s.log().slice(-4000)}\n`);
    }
    await pipe?.stop();
    pipe = undefined;
  });

  afterAll(async () => {
    await stack?.stop();
    mkdirSync('test-artifacts', { recursive: true });
    const { writeFileSync } = await import('node:fs');
    writeFileSync('test-artifacts/faults.json', `${JSON.stringify(figures, null, 2)}\n`);
  }, 120_000);

  it('broker SIGKILLed and restarted during a replay', async () => {
    pipe = new Pipeline(stack.env, logDir);
    await pipe.start();
    let killed = false;
    let restartMs = 0;
    // 6 h of a 300-meter fleet at 2160x: about 10 s of wall clock; the broker dies a third of the way in.
    const produced = await pipe.replay({ speed: '2160x' }, async (sent) => {
      if (killed || sent < 2000) return;
      killed = true;
      await stack.killKafka();
      restartMs = await stack.restart(stack.kafka);
    });
    expect(killed).toBe(true);
    await settled(pipe, produced);
    const f = await pipe.figures(produced);
    report('broker-kill', f, `broker down and back in ${restartMs} ms`);
    expect(pipe.loader!.alive || (await pipe.loader!.exitCode) !== null).toBe(true);
    nothingLostNothingDoubled(f);
  }, 150_000);

  it('detector SIGKILLed mid-outage and restarted', async () => {
    pipe = new Pipeline(stack.env, logDir);
    await pipe.start();
    const produced = await pipe.replay({ speed: 'max' });
    // Kill as soon as the outage is OPEN (published) and before it is RESTORED.
    await eventually(() => (pipe!.outageRecords.some((o) => o.scope !== 'METER' && o.status === 'OPEN') ? true : undefined), {
      timeoutMs: 90_000,
      intervalMs: 20,
      what: 'an OPEN outage',
    });
    const restoredBefore = pipe.outageRecords.filter((o) => o.status === 'RESTORED' && o.scope !== 'METER').length;
    await pipe.detector!.kill('SIGKILL');
    pipe.detector!.restart();
    await settled(pipe, produced);
    const f = await pipe.figures(produced);
    report('detector-kill', f, `killed with ${restoredBefore} wide outage(s) already RESTORED`);
    nothingLostNothingDoubled(f);
  }, 150_000);

  it('ClickHouse stopped during load, then started: the loader waits and catches up', async () => {
    pipe = new Pipeline(stack.env, logDir);
    await pipe.start();
    await stack.clickhouse.stop();
    const downAt = Date.now();
    const produced = await pipe.replay({ speed: 'max' });
    // The loader must not commit what it could not insert: offsets stay where they were.
    const admin = createKafka(pipe.cfg, testLogger).admin();
    await admin.connect();
    const committedWhileDown = async () =>
      (await admin.fetchOffsets({ groupId: `${pipe!.prefix}-loader`, topics: [pipe!.topics.reads] }))
        .flatMap((t) => t.partitions)
        .reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    // ClickHouse stays down for at least 15 s of load.
    await new Promise((r) => setTimeout(r, Math.max(0, 15_000 - (Date.now() - downAt))));
    const committed = await committedWhileDown();
    await admin.disconnect();
    expect(pipe.loader!.alive).toBe(true);
    const downMs = Date.now() - downAt;
    const upMs = await stack.restart(stack.clickhouse);
    await settled(pipe, produced);
    const f = await pipe.figures(produced);
    report('clickhouse-stop', f, `ClickHouse down ${downMs} ms (restart ${upMs} ms); reads offsets committed while down: ${committed}`);
    expect(committed).toBe(0);
    nothingLostNothingDoubled(f);
  }, 150_000);

  it('schema registry stopped: running services go on with cached schemas; start-up without it fails clearly', async () => {
    pipe = new Pipeline(stack.env, logDir);
    await pipe.start();
    // Warm up: one hour of reads, so every service has fetched the writer schemas.
    const first = await pipe.replay({ speed: 'max', duration: '1h' });
    await eventually(async () => ((await pipe!.chReads()).distinct >= first.distinctReads ? true : undefined), { timeoutMs: 60_000, what: 'warm-up reads loaded' });
    await stack.registry.stop();
    try {
      // The same simulator (its schema ids cached) replays the whole scenario with the outage.
      const produced = await pipe.replay({ speed: 'max' });
      await settled(pipe, produced);
      const f = await pipe.figures(produced);
      report('registry-stop', f, 'registry down for the whole replay');
      nothingLostNothingDoubled(f);

      // A new detector cannot register its output schemas: it exits with a message naming the registry.
      const fresh = pipe.spawn('detector-fresh', ['detector', 'run'], { DETECTOR_GROUP_ID: `${pipe.prefix}-d2`, DETECTOR_INSTANCE_ID: 'i2' });
      const code = await fresh.exitCode;
      expect(code).toBe(1);
      expect(fresh.log()).toMatch(/ami: schema-registry: could not register Outage under \S+-value/);
      process.stdout.write(`[faults] detector start-up without the registry: exit ${code}, ${fresh.log().trim().split('\n').at(-1)}\n`);
    } finally {
      await stack.restart(stack.registry).catch(() => undefined);
    }
  }, 150_000);
});
