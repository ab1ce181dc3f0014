import { afterEach, describe, expect, it } from 'vitest';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';
import { loadDetectorConfig } from '@ami/detector/config';
import { startDetector, type DetectorHandle } from '@ami/detector/processor';
import { DetectorHarness, score, simulate } from '../support/detectorHarness.js';

const SCENARIOS = [
  'gardu-outage',
  'gardu-outage-lossy',
  'feeder-outage',
  'momentaries',
  'tusbung-during-outage',
  'mixed-ami-amr',
  'duplicates-out-of-order',
  'power-limit-trips',
  'tusbung-campaign',
  'regional-blackout',
];

describe('detector scored against the simulator ground truth', () => {
  let detector: DetectorHandle | undefined;
  let h: DetectorHarness | undefined;

  afterEach(async () => {
    await detector?.stop();
    await h?.stop();
    detector = undefined;
  });

  it.each(SCENARIOS)(
    '%s: precision and recall 1.0',
    async (scenario) => {
      const common = testConfig();
      const { interruptions, summary } = await simulate(common.AMI_TOPIC_PREFIX, scenario);
      const cfg = loadDetectorConfig({
        ...process.env,
        AMI_TOPIC_PREFIX: common.AMI_TOPIC_PREFIX,
        LOG_LEVEL: 'warn',
        DETECTOR_GROUP_ID: uniqueName('ami-detector'),
        DETECTOR_INSTANCE_ID: uniqueName('i'),
      });
      h = new DetectorHarness(cfg);
      const outageLog = await h.collect('Outage', h.topics.outages);
      const momentLog = await h.collect('Outage', h.topics.momentary);
      detector = await startDetector(cfg, testLogger, (code) => {
        throw new Error(`detector exit ${code}`);
      });
      // Replayed as fast as possible; done once event time reached the scenario's last reads.
      const done = summary.end - 15 * 60_000;
      await eventually(() => (detector!.watermark() >= done ? true : undefined), {
        what: 'watermark at the end',
        timeoutMs: 300_000,
      });
      const d = detector;
      await eventually(
        () =>
          outageLog.length >= d.stats.outages && momentLog.length >= d.stats.momentary ? true : undefined,
        { what: 'every record read back' },
      );
      if (process.env.DEBUG_DETECTOR)
        console.log(
          JSON.stringify(
            {
              topo: d.topology.size,
              stats: d.stats,
              w: new Date(d.watermark()).toISOString(),
              truth: interruptions,
              outages: outageLog.slice(0, 5),
              moments: momentLog.slice(0, 3),
            },
            null,
            1,
          ),
        );
      const latest = [...new Map(outageLog.map((o) => [o.outage_id, o])).values()];
      const sustained = interruptions.filter((t) => !t.momentary && t.end <= done - 30 * 60_000);
      const s = score(latest, sustained);
      expect({
        missed: s.missed.map(
          (t) => `${t.scope} ${t.gardu_id ?? t.feeder_id ?? t.region} ${new Date(t.start).toISOString()}`,
        ),
        extra: s.extra.map(
          (o) =>
            `${o.scope} ${o.gardu_id ?? o.feeder_id} ${o.meter_ids.join(',')} ${new Date(o.started_at).toISOString()}`,
        ),
      }).toEqual({ missed: [], extra: [] });
      expect([s.precision, s.recall]).toEqual([1, 1]);
      const momentaries = interruptions.filter((t) => t.momentary);
      const m = score(momentLog, momentaries);
      expect({ missed: m.missed.length, extra: m.extra.length }).toEqual({ missed: 0, extra: 0 });
      expect(detector.stats.dlq.late ?? 0).toBe(0);
    },
    600_000,
  );
});
