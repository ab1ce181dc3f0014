import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Outage, SuspectedOutage } from '@ami/lib';
import { eventually, testConfig, testLogger } from '../support/fixtures.js';
import { loadDetectorConfig } from '@ami/detector/config';
import { startDetector, type DetectorHandle } from '@ami/detector/processor';
import { DetectorHarness, handDrivenDetectorEnv, ev, profile, rd } from '../support/detectorHarness.js';

const T0 = Date.UTC(2026, 0, 5, 2, 7, 0);
const MIN = 60_000;
const meters = (g: string, n: number) => Array.from({ length: n }, (_, i) => `${g}-M${i}`);
const G1 = meters('G1', 10);
const G2 = meters('G2', 5);
const G3 = meters('G3', 10);

/**
 * Suspected outages through the real detector: published on arrival of the last gasps (before the
 * watermark lets them into the rules), CONFIRMED with the same outage_id when the rule opens the
 * outage, CANCELLED when supply is back first; and rebuilt after a restart.
 */
describe('detector: suspected outages on the real stack', () => {
  const common = testConfig();
  const cfg = loadDetectorConfig({
    ...process.env,
    ...handDrivenDetectorEnv(common.AMI_TOPIC_PREFIX, {
      CONFIRM_DELAY_MS: String(MIN),
      ALLOWED_LATENESS_MS: '5000',
      IDLE_ADVANCE_MS: '0', // time moves only with the data: the test drives it
    }),
  });
  const h = new DetectorHarness(cfg);
  let detector: DetectorHandle;
  let outages: Outage[];
  let momentary: Outage[];
  let suspected: SuspectedOutage[];
  let sent = 0;
  const start = () =>
    startDetector(cfg, testLogger, (code) => {
      throw new Error(`detector wanted to exit ${code}`);
    });
  /** Moves event time (a read of another gardu) once everything sent was consumed. */
  const clock = async (at: number) => {
    await eventually(() => (detector.stats.consumed >= sent ? true : undefined), { what: 'inputs consumed' });
    await h.reads([rd('CLK-M0', 'CLK', at)]);
    sent++;
  };
  const events = async (list: Parameters<DetectorHarness['events']>[0]) => {
    await h.events(list);
    sent += list.length;
  };
  const history = (id: string) => suspected.filter((s) => s.outage_id === id).map((s) => s.status);

  beforeAll(async () => {
    await h.start(3);
    await h.meters(
      [...G1, ...G2, ...G3, 'CLK-M0'].map((m) =>
        profile(m, m.split('-')[0]!, m.startsWith('G3') ? 'F3' : 'F1'),
      ),
    );
    detector = await start();
    outages = await h.collect('Outage', h.topics.outages);
    momentary = await h.collect('Outage', h.topics.momentary);
    suspected = await h.collect('SuspectedOutage', h.topics.suspectedOutages);
  });

  afterAll(async () => {
    await detector?.stop();
    await h.stop();
  });

  it('a gardu outage: SUSPECTED on arrival, then CONFIRMED with the outage_id of the OPEN outage', async () => {
    const id = `GARDU-G1-${T0}`;
    await events(G1.map((m, i) => ev(`g1-${m}`, m, 'G1', 'LAST_GASP', T0 + i * 50)));
    const first = await eventually(() => suspected.find((s) => s.outage_id === id), { what: 'SUSPECTED G1' });
    expect(first).toMatchObject({ scope: 'GARDU', status: 'SUSPECTED', gardu_id: 'G1', started_at: T0 });
    // The watermark has not passed the gasps: nothing on the outages topic yet.
    expect(outages).toEqual([]);
    expect(first.evidence_logged_at).toBeGreaterThan(0);
    expect(first.emitted_at).toBeGreaterThanOrEqual(first.evidence_logged_at);
    await clock(T0 + 2 * MIN);
    const open = await eventually(() => outages.find((o) => o.gardu_id === 'G1' && o.status === 'OPEN'));
    expect(open.outage_id).toBe(id);
    await eventually(() => (history(id).at(-1) === 'CONFIRMED' ? true : undefined), { what: 'CONFIRMED' });
    expect(history(id)[0]).toBe('SUSPECTED');
    expect(suspected.filter((s) => s.outage_id === id).at(-1)!.confirmed_outage_id).toBe(id);
  });

  it('a momentary: SUSPECTED, then CANCELLED (supply back) and nothing on the outages topic', async () => {
    const t = T0 + 10 * MIN;
    const id = `GARDU-G2-${t}`;
    await events(G2.map((m, i) => ev(`g2-${m}`, m, 'G2', 'LAST_GASP', t + i)));
    await eventually(() => (history(id)[0] === 'SUSPECTED' ? true : undefined), { what: 'SUSPECTED G2' });
    await events(G2.map((m, i) => ev(`g2r-${m}`, m, 'G2', 'POWER_RESTORE', t + 20_000 + i)));
    await eventually(() => (history(id).at(-1) === 'CANCELLED' ? true : undefined), { what: 'CANCELLED' });
    expect(suspected.filter((s) => s.outage_id === id).at(-1)!.reason).toMatch(/^SUPPLY_BACK: /);
    await clock(t + 3 * MIN);
    await eventually(() => momentary.find((o) => o.outage_id === id), { what: 'momentary record' });
    expect(outages.filter((o) => o.gardu_id === 'G2')).toEqual([]);
    expect(history(id)).toEqual(['SUSPECTED', 'CANCELLED']);
  });

  it('after a restart, an open suspicion is confirmed by the replayed event-time path', async () => {
    const t = T0 + 20 * MIN;
    const id = `GARDU-G3-${t}`;
    await events(G3.map((m, i) => ev(`g3-${m}`, m, 'G3', 'LAST_GASP', t + i * 10)));
    await eventually(() => (history(id)[0] === 'SUSPECTED' ? true : undefined), { what: 'SUSPECTED G3' });
    // The gasps go through the rules and are committed (not replayed after the restart): only the
    // saved arrival state knows the suspicion then.
    await clock(t + 30_000);
    await eventually(() => (detector.watermark() > t + 100 ? true : undefined), { what: 'gasps committed' });
    await detector.stop();
    detector = await start();
    sent = 0; // the new instance counts its own consumption
    await clock(t + 2 * MIN);
    await eventually(() => outages.find((o) => o.outage_id === id && o.status === 'OPEN'), {
      what: 'OPEN G3',
    });
    await eventually(() => (history(id).at(-1) === 'CONFIRMED' ? true : undefined), { what: 'CONFIRMED G3' });
    // Every suspicion of the run ended CONFIRMED or CANCELLED.
    const last = new Map(suspected.map((s) => [s.outage_id, s.status]));
    expect([...last.values()].every((s) => s === 'CONFIRMED' || s === 'CANCELLED')).toBe(true);
  });
});
