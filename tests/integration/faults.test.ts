import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '@ami/lib';
import { eventually, testLogger } from '../support/fixtures.js';
import { PrivateStack } from '../support/privateStack.js';
import { Pipeline, nothingLostNothingDoubled, settled, type Figures } from '../support/pipeline.js';

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

describe('faults on a private stack', () => {
  let stack: PrivateStack;
  let logDir: string;
  let pipe: Pipeline | undefined;

  beforeAll(async () => {
    const t0 = Date.now();
    stack = await PrivateStack.start('faults');
    logDir = join(stack.home, 'service-logs');
    mkdirSync(logDir, { recursive: true });
    process.stdout.write(
      `[faults] private stack up in ${Date.now() - t0} ms: ${JSON.stringify(stack.env)}\n`,
    );
  }, 240_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && pipe) {
      // The private stack's folder goes with it: keep the services' logs for the reader of a failed run.
      cpSync(logDir, join('test-artifacts', 'faults-logs'), { recursive: true });
      for (const s of [pipe.loader, pipe.detector]) {
        if (!s) continue;
        const lines = s.log().split('\n');
        const errors = lines.filter((l) => /"level":(50|60)/.test(l)).slice(0, 5);
        process.stdout.write(
          `--- ${s.name} log: first errors ---\n${errors.join('\n').slice(0, 6000)}\n--- tail ---\n${lines.slice(-5).join('\n').slice(-3000)}\n`,
        );
      }
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
    // 6 h at 540x: about 40 s; the gardu is dark from 2h05m to 3h35m (wall clock ~14 s to ~24 s),
    // so the OPEN comes seconds before the RESTORED even when the detector steps in bursts.
    const replaying = pipe.replay({ speed: '540x' });
    // Kill as soon as the outage is OPEN (published), before it is RESTORED.
    await eventually(
      () => (pipe!.outageRecords.some((o) => o.scope !== 'METER' && o.status === 'OPEN') ? true : undefined),
      {
        timeoutMs: 90_000,
        intervalMs: 20,
        what: 'an OPEN outage',
      },
    );
    const restoredBefore = pipe.outageRecords.filter(
      (o) => o.status === 'RESTORED' && o.scope !== 'METER',
    ).length;
    await pipe.detector!.kill('SIGKILL');
    const killedAt = Date.now();
    pipe.detector!.restart();
    const produced = await replaying;
    await settled(pipe, produced);
    const f = await pipe.figures(produced);
    report(
      'detector-kill',
      f,
      `SIGKILL while the outage was OPEN (${restoredBefore} RESTORED before the kill); replay went on ${Date.now() - killedAt} ms`,
    );
    expect(restoredBefore).toBe(0);
    nothingLostNothingDoubled(f);
  }, 200_000);

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
    report(
      'clickhouse-stop',
      f,
      `ClickHouse down ${downMs} ms (restart ${upMs} ms); reads offsets committed while down: ${committed}`,
    );
    expect(committed).toBe(0);
    nothingLostNothingDoubled(f);
  }, 150_000);

  it('schema registry stopped: running services go on with cached schemas; start-up without it fails clearly', async () => {
    pipe = new Pipeline(stack.env, logDir);
    await pipe.start();
    // Warm-up: the whole scenario, so every service has fetched every writer schema it will meet
    // (the loader meets Outage only once the detector published one).
    const first = await pipe.replay({ speed: 'max' });
    await settled(pipe, first);
    await stack.registry.stop();
    const downAt = Date.now();
    try {
      // The same simulator (schema ids cached) replays the next 6 hours: new reads, a new outage.
      const second = await pipe.replay({ speed: 'max', start: new Date(first.rangeEnd).toISOString() });
      const produced = Pipeline.merge(first, second);
      await settled(pipe, produced);
      const f = await pipe.figures(produced);
      report(
        'registry-stop',
        f,
        `registry down ${Date.now() - downAt} ms: second 6 h replayed and processed without it`,
      );
      nothingLostNothingDoubled(f);
      expect(f.detectorRestarts + f.loaderRestarts).toBe(0);

      // A new detector cannot register its output schemas: it exits with a message naming the registry.
      const fresh = pipe.spawn('detector-fresh', ['detector', 'run'], {
        DETECTOR_GROUP_ID: `${pipe.prefix}-d2`,
        DETECTOR_INSTANCE_ID: 'i2',
      });
      const code = await fresh.exitCode;
      const message = fresh.log().trim().split('\n').at(-1) ?? '';
      process.stdout.write(`[faults] detector start-up without the registry: exit ${code}: ${message}\n`);
      expect(code).toBe(1);
      expect(message).toMatch(
        /^ami: schema-registry: could not register Outage under \S+\.outages-value: .*ECONNREFUSED/,
      );

      // So does a new loader: it exits before consuming anything.
      const loader = pipe.spawn('loader-fresh', ['loader', 'run'], { LOADER_GROUP_ID: `${pipe.prefix}-l2` });
      const loaderCode = await loader.exitCode;
      const loaderMessage = loader.log().trim().split('\n').at(-1) ?? '';
      process.stdout.write(
        `[faults] loader start-up without the registry: exit ${loaderCode}: ${loaderMessage}\n`,
      );
      expect(loaderCode).toBe(1);
      expect(loaderMessage).toMatch(/^ami: schema-registry: not reachable at \S+ at start-up: /);
    } finally {
      // The registry stays down: nothing runs after this case but afterAll's stackDown.
    }
  }, 150_000);
});
