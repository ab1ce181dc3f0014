import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeterStatus } from '@ami/lib';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';
import { loadDetectorConfig } from '@ami/detector/config';
import { startDetector, type DetectorHandle } from '@ami/detector/processor';
import { DetectorHarness, ev, profile, rd } from '../support/detectorHarness.js';

/**
 * Inputs that used to be dead-lettered wrongly (issue 19): every record of a faulty meter clock
 * moved the watermark (defect 2), and a meter published a moment before its input was unknown
 * (defect 5). Live-like times: event time is the wall clock, as the head-end stamps it.
 */
const MIN = 60_000;
const G1 = Array.from({ length: 6 }, (_, i) => `G1-M${i}`);

describe('detector: inputs judged by the fleet and the latest meters table', () => {
  const common = testConfig();
  const cfg = loadDetectorConfig({
    ...process.env,
    AMI_TOPIC_PREFIX: common.AMI_TOPIC_PREFIX,
    LOG_LEVEL: 'warn',
    DETECTOR_GROUP_ID: uniqueName('detector'),
    DETECTOR_INSTANCE_ID: uniqueName('i'),
    DETECTOR_PARTITIONS: '1',
    ALLOWED_LATENESS_MS: '1000',
    IDLE_ADVANCE_MS: '1000',
    DETECTOR_FUTURE_CONFIRM_MS: '2000',
  });
  const h = new DetectorHarness(cfg);
  let detector: DetectorHandle;
  let statuses: MeterStatus[];
  let dlq: Array<{ key: string | null; headers: Record<string, string> }>;
  const reasons = () => dlq.map((d) => d.headers['ami.reason']);

  beforeAll(async () => {
    await h.start(1);
    await h.meters(G1.map((m) => profile(m, 'G1')));
    detector = await startDetector(cfg, testLogger, (code) => {
      throw new Error(`detector wanted to exit ${code}`);
    });
    statuses = await h.collect('MeterStatus', h.topics.meterStatus);
    dlq = await h.collectRaw(h.topics.dlq);
  });

  afterAll(async () => {
    await detector?.stop();
    await h.stop();
  });

  it('an event of a meter published a moment before it is applied, not dead-lettered as unknown-meter', async () => {
    // The meters table lags behind the topic (held back here): the event arrives before the profile is applied.
    const metersConsumer = detector.meters.consumer;
    metersConsumer.pause([{ topic: h.topics.meters }]);
    await h.meters([profile('NEW-M1', 'G1')]);
    const consumed = detector.stats.consumed;
    await h.events([
      ev('new-1', 'NEW-M1', 'G1', 'RELAY_OPENED', Date.now(), { relay: 'OPEN', cause: 'REMOTE_DISCONNECT' }),
    ]);
    await eventually(() => (detector.stats.consumed > consumed ? true : undefined), {
      what: 'event consumed',
    });
    metersConsumer.resume([{ topic: h.topics.meters }]);
    await eventually(
      () =>
        statuses.some((s) => s.meter_id === 'NEW-M1' && s.state === 'DISCONNECTED') || reasons().length > 0
          ? true
          : undefined,
      { what: 'NEW-M1 judged' },
    );
    expect(reasons()).toEqual([]);
    expect(statuses.some((s) => s.meter_id === 'NEW-M1' && s.state === 'DISCONNECTED')).toBe(true);
  });

  it('a read dated 20 minutes ahead goes to the DLQ as future-dated; the real RELAY_OPENED after it is applied', async () => {
    const now = Date.now();
    await h.reads(G1.slice(0, 5).map((m) => rd(m, 'G1', now - 2000)));
    await h.reads([rd('G1-M5', 'G1', now + 20 * MIN)]); // one meter clock 20 minutes ahead
    // The inputs go quiet: idle, the watermark follows what the inputs prove.
    await eventually(
      () => (reasons().includes('future-dated') || detector.watermark() > now + 10 * MIN ? true : undefined),
      { what: 'the faulty read judged' },
    );
    const disconnectedAt = Date.now();
    await h.events([
      ev('tusbung-1', 'G1-M0', 'G1', 'RELAY_OPENED', disconnectedAt, {
        relay: 'OPEN',
        cause: 'REMOTE_DISCONNECT',
      }),
    ]);
    await eventually(
      () => (statuses.some((s) => s.meter_id === 'G1-M0' && s.state === 'DISCONNECTED') ? true : undefined),
      { what: 'G1-M0 DISCONNECTED' },
    );
    const faulty = dlq.filter((d) => d.headers['ami.reason'] === 'future-dated');
    expect(faulty).toHaveLength(1);
    expect(faulty[0]!.headers['ami.source.topic']).toBe(h.topics.reads);
    expect(reasons()).not.toContain('late');
    // The watermark never went past the fleet's clock.
    expect(detector.watermark()).toBeLessThan(Date.now() + MIN);
  });
});
