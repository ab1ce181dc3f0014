import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeterStatus, Outage, RunningChild } from '@ami/lib';
import { startAmi } from '@ami/cli/children';
import { eventually, testConfig } from '../support/fixtures.js';
import { DetectorHarness, handDrivenDetectorEnv, ev, profile } from '../support/detectorHarness.js';

const T0 = Date.UTC(2026, 0, 5, 2, 7, 0);
const MIN = 60_000;
const G1 = Array.from({ length: 30 }, (_, i) => `G1-M${String(i).padStart(2, '0')}`);

/** `ami detector run` as its own process (one node process, so SIGKILL really kills it); its stderr shown. */
function runDetector(env: Record<string, string>): RunningChild {
  return startAmi('detector', ['detector', 'run'], {
    env: { ...process.env, ...env },
    onLine: (line, stream) => stream === 'stderr' && process.stderr.write(`${line}\n`),
  });
}

describe('detector killed mid-outage and restarted', () => {
  const common = testConfig();
  const env = handDrivenDetectorEnv(common.AMI_TOPIC_PREFIX, {
    CONFIRM_DELAY_MS: String(MIN),
    ALLOWED_LATENESS_MS: '5000',
    // A partition stops holding the watermark only after 10 s of quiet: on a loaded machine a 1 s
    // pause in the test's own producing made the restoration late.
    IDLE_ADVANCE_MS: '10000',
  });
  const h = new DetectorHarness({ ...common });
  let child: RunningChild | undefined;
  let outages: Outage[];
  let statuses: MeterStatus[];

  beforeAll(async () => {
    await h.start(3);
    await h.meters([...G1.map((m) => profile(m, 'G1')), profile('G2-M0', 'G2')]);
    outages = await h.collect('Outage', h.topics.outages);
    statuses = await h.collect('MeterStatus', h.topics.meterStatus);
  });

  afterAll(async () => {
    await child?.stop('SIGKILL');
    await h.stop();
  });

  it('publishes no duplicate and loses no outage', async () => {
    child = runDetector(env);
    await h.events(G1.map((m, i) => ev(`lg-${m}`, m, 'G1', 'LAST_GASP', T0 + i * 10)));
    // Every gasp was applied once its status shows; then move event time past the confirmation.
    await eventually(
      () =>
        statuses.filter((s) => s.gardu_id === 'G1' && s.state === 'OUTAGE').length >= G1.length
          ? true
          : undefined,
      {
        what: 'statuses of the dark meters',
        timeoutMs: 60_000,
      },
    );
    await h.events([
      ev('clock-1', 'G2-M0', 'G2', 'POWER_LIMIT_CHANGED', T0 + 5 * MIN, { power_limit_va: 1300 }),
    ]);
    const id = `GARDU-G1-${T0}`;
    await eventually(() => outages.find((o) => o.outage_id === id && o.status === 'OPEN'), {
      what: 'OPEN',
      timeoutMs: 60_000,
    });

    // Power comes back; the detector dies before (or while) it handles that.
    await h.events([ev('pr-1', 'G1-M03', 'G1', 'POWER_RESTORE', T0 + 20 * MIN)]);
    await child.stop('SIGKILL');
    child = runDetector(env);

    const restored = await eventually(
      () => outages.find((o) => o.outage_id === id && o.status === 'RESTORED'),
      { what: 'RESTORED after restart', timeoutMs: 90_000 },
    );
    expect(restored).toMatchObject({ restored_at: T0 + 20 * MIN, last_gasps: 30, customers_affected: 30 });
    const forG1 = outages.filter((o) => o.gardu_id === 'G1' && o.scope === 'GARDU');
    expect(forG1.map((o) => o.status)).toEqual(['OPEN', 'RESTORED']);
  }, 180_000);
});
