import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompressionTypes } from 'kafkajs';
import type { MeterStatus, Outage } from '@ami/lib';
import { eventually, testConfig, testLogger } from '../support/fixtures.js';
import { loadDetectorConfig } from '@ami/detector/config';
import { startDetector, type DetectorHandle } from '@ami/detector/processor';
import { DetectorHarness, handDrivenDetectorEnv, ev, profile, rd } from '../support/detectorHarness.js';

const T0 = Date.UTC(2026, 0, 5, 2, 7, 0);
const MIN = 60_000;
const G1 = Array.from({ length: 20 }, (_, i) => `G1-M${String(i).padStart(2, '0')}`);
const G2 = Array.from({ length: 5 }, (_, i) => `G2-M${i}`);

describe('detector on the real stack: hand-crafted events', () => {
  const common = testConfig();
  const cfg = loadDetectorConfig({
    ...process.env,
    ...handDrivenDetectorEnv(common.AMI_TOPIC_PREFIX),
    // Tiny steps and buffer: storms of 20 here take the paths of a large one (slices, backpressure).
    DETECTOR_STEP_LIMIT: '4',
    DETECTOR_MAX_BUFFERED: '3',
    CONFIRM_DELAY_MS: String(MIN),
    ALLOWED_LATENESS_MS: '5000',
    IDLE_ADVANCE_MS: '0', // time moves only with the data: the test drives it
  });
  const h = new DetectorHarness(cfg);
  let detector: DetectorHandle;
  let outages: Outage[];
  let momentary: Outage[];
  let statuses: MeterStatus[];
  let dlq: Array<{ key: string | null; headers: Record<string, string> }>;
  let sent = 0;
  /** Inputs reach the detector through two topics in any order: wait until it consumed all, then move time. */
  const clock = async (at: number) => {
    await eventually(() => (detector.stats.consumed >= sent ? true : undefined), { what: 'inputs consumed' });
    await h.reads([rd('G2-M4', 'G2', at)]);
    sent++;
  };
  const events = async (list: Parameters<DetectorHarness['events']>[0]) => {
    await h.events(list);
    sent += list.length;
  };
  const reads = async (list: Parameters<DetectorHarness['reads']>[0]) => {
    await h.reads(list);
    sent += list.length;
  };

  beforeAll(async () => {
    await h.start(3);
    await h.meters([...G1.map((m) => profile(m, 'G1')), ...G2.map((m) => profile(m, 'G2'))]);
    detector = await startDetector(cfg, testLogger, (code) => {
      throw new Error(`detector wanted to exit ${code}`);
    });
    outages = await h.collect('Outage', h.topics.outages);
    momentary = await h.collect('Outage', h.topics.momentary);
    statuses = await h.collect('MeterStatus', h.topics.meterStatus);
    dlq = await h.collectRaw(h.topics.dlq);
  });

  afterAll(async () => {
    await detector?.stop();
    await h.stop();
  });

  it('opens one GARDU outage from last gasps, tusbung excluded, duplicates and garbage harmless', async () => {
    await events([
      ev('tus-1', 'G1-M00', 'G1', 'RELAY_OPENED', T0 - 5 * MIN, {
        relay: 'OPEN',
        cause: 'REMOTE_DISCONNECT',
      }),
    ]);
    const gasps = G1.map((m, i) => ev(`lg-${m}`, m, 'G1', 'LAST_GASP', T0 + i * 50));
    await events([...gasps, ...gasps]);
    await h.raw(h.topics.events, 'G1', Buffer.from('not avro'));
    await h.raw(h.topics.reads, 'G1', Buffer.from('not avro either')); // reads come raw off the wire
    sent += 2;
    await clock(T0 + 5 * MIN);
    const open = await eventually(() => outages.find((o) => o.gardu_id === 'G1' && o.status === 'OPEN'), {
      what: 'OPEN outage of G1',
    });
    expect(open).toMatchObject({
      outage_id: `GARDU-G1-${T0}`,
      scope: 'GARDU',
      started_at: T0,
      confirmed_at: T0 + MIN,
      customers_total: 20,
      customers_affected: 19,
      tusbung_excluded: 1,
      last_gasps: 20,
    });
    const tusbung = await eventually(() => statuses.filter((s) => s.meter_id === 'G1-M00').at(-1), {
      what: 'status of the tusbung meter',
    });
    expect(tusbung).toMatchObject({ state: 'DISCONNECTED', relay: 'OPEN' });
    const dark = await eventually(() =>
      statuses.filter((s) => s.meter_id === 'G1-M05').find((s) => s.outage_id === open.outage_id),
    );
    expect(dark.state).toBe('OUTAGE');
    for (const topic of [h.topics.events, h.topics.reads]) {
      const bad = await eventually(
        () =>
          dlq.find(
            (d) => d.headers['ami.reason'] === 'bad-magic-byte' && d.headers['ami.source.topic'] === topic,
          ),
        { what: `garbage of ${topic} in the DLQ` },
      );
      expect(bad).toMatchObject({ key: 'G1', headers: { 'ami.service': 'detector' } });
      expect(bad.headers['ami.source.offset']).toMatch(/^\d+$/);
    }
  });

  it('sends an event later than the allowed lateness to the DLQ (reason late)', async () => {
    await events([ev('late-1', 'G2-M1', 'G2', 'LAST_GASP', T0 - 60 * MIN)]);
    await eventually(() => dlq.find((d) => d.headers['ami.reason'] === 'late'), {
      what: 'late event in the DLQ',
    });
  });

  it('restores the gardu when power returns and reads resume', async () => {
    await events([ev('pr-1', 'G1-M01', 'G1', 'POWER_RESTORE', T0 + 20 * MIN)]);
    await reads(G1.map((m) => rd(m, 'G1', Date.UTC(2026, 0, 5, 2, 30))));
    await clock(T0 + 60 * MIN);
    const restored = await eventually(
      () => outages.find((o) => o.gardu_id === 'G1' && o.status === 'RESTORED'),
      { what: 'RESTORED' },
    );
    expect(restored).toMatchObject({ outage_id: `GARDU-G1-${T0}`, restored_at: T0 + 20 * MIN });
    await eventually(() =>
      statuses.filter((s) => s.meter_id === 'G1-M05').at(-1)?.state === 'ENERGIZED' ? true : undefined,
    );
    expect(outages.filter((o) => o.scope === 'METER')).toEqual([]); // nobody stayed dark
    expect(outages.filter((o) => o.status === 'OPEN')).toHaveLength(1);
  });

  it('records a short interruption as momentary, never OPEN', async () => {
    await events(G2.map((m, i) => ev(`m-${m}`, m, 'G2', 'LAST_GASP', T0 + 70 * MIN + i)));
    await events([ev('m-pr', 'G2-M0', 'G2', 'POWER_RESTORE', T0 + 71 * MIN)]);
    await clock(T0 + 80 * MIN);
    const m = await eventually(() => momentary.find((o) => o.gardu_id === 'G2'), {
      what: 'momentary record',
    });
    expect(m).toMatchObject({
      scope: 'GARDU',
      status: 'RESTORED',
      started_at: T0 + 70 * MIN,
      restored_at: T0 + 71 * MIN,
      region: 'BALI',
      ulp: 'ULP-DENPASAR',
    });
    expect(outages.filter((o) => o.gardu_id === 'G2')).toEqual([]);
    expect(detector.stats.duplicates + detector.stats.late).toBeGreaterThan(0);
  });

  it('reads in compressed batches: the raw fetch decompresses them, buffered reads not offered twice', async () => {
    const at = T0 + 90 * MIN;
    // Buffered, not committed: the watermark trails them by the allowed lateness.
    await reads(G1.map((m) => rd(m, 'G1', at)));
    await eventually(() => (detector.stats.consumed >= sent ? true : undefined), {
      what: 'raw reads consumed',
    });
    const before = detector.stats.consumed;
    await h.reads(
      G1.map((m) => rd(m, 'G1', at + 15 * MIN)),
      CompressionTypes.GZIP,
    );
    sent += G1.length;
    await clock(at + 30 * MIN);
    await eventually(() => (detector.stats.consumed >= sent ? true : undefined), {
      what: 'compressed reads consumed',
    });
    // Re-reading from the committed offsets would offer the 20 buffered reads again.
    expect(detector.stats.consumed - before).toBe(G1.length + 1);
    expect(detector.stats.dlq['bad-magic-byte']).toBe(2);
  });
});
