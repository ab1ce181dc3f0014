import { afterAll, describe, expect, it } from 'vitest';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';
import { loadDetectorConfig } from '@ami/detector/config';
import { startDetector, type DetectorHandle } from '@ami/detector/processor';
import { DetectorHarness, score, simulate } from '../support/detectorHarness.js';

describe('two detector instances, one stopped mid-replay', () => {
  const handles: DetectorHandle[] = [];
  let h: DetectorHarness | undefined;

  afterAll(async () => {
    for (const d of handles) await d.stop().catch(() => undefined);
    await h?.stop();
  });

  it('the survivor takes over its partitions: precision and recall 1.0, no duplicate', async () => {
    const common = testConfig();
    const { interruptions, summary } = await simulate(common.AMI_TOPIC_PREFIX, 'tusbung-during-outage');
    const env = {
      ...process.env,
      AMI_TOPIC_PREFIX: common.AMI_TOPIC_PREFIX,
      LOG_LEVEL: 'warn',
      DETECTOR_GROUP_ID: uniqueName('ami-detector'),
    };
    const exit = (code: number) => {
      throw new Error(`detector exit ${code}`);
    };
    h = new DetectorHarness(loadDetectorConfig(env));
    const outageLog = await h.collect('Outage', h.topics.outages);
    const a = await startDetector(
      loadDetectorConfig({ ...env, DETECTOR_INSTANCE_ID: uniqueName('a') }),
      testLogger,
      exit,
    );
    const b = await startDetector(
      loadDetectorConfig({ ...env, DETECTOR_INSTANCE_ID: uniqueName('b') }),
      testLogger,
      exit,
    );
    handles.push(b);
    await eventually(() => (a.stats.consumed > 0 && b.stats.consumed > 0 ? true : undefined), {
      what: 'both instances consuming',
    });
    await a.stop(); // its partitions move to b, which rebuilds their state
    const done = summary.end - 15 * 60_000;
    await eventually(() => (b.watermark() >= done ? true : undefined), {
      what: 'survivor at the end',
      timeoutMs: 300_000,
    });
    await eventually(() => (outageLog.length >= a.stats.outages + b.stats.outages ? true : undefined), {
      what: 'records read back',
    });
    const latest = [...new Map(outageLog.map((o) => [o.outage_id, o])).values()];
    const s = score(
      latest,
      interruptions.filter((t) => !t.momentary && t.end <= done - 30 * 60_000),
    );
    expect([s.precision, s.recall]).toEqual([1, 1]);
    const opens = outageLog.filter((o) => o.status === 'OPEN').map((o) => o.outage_id);
    expect(new Set(opens).size).toBe(opens.length);
    // The partitions it took over arrive with a's last commit, however far its own watermark had gone:
    // their inputs since are released in order, none dead-lettered as late.
    expect(b.stats.dlq).toEqual({});
  }, 600_000);
});
