import { afterAll, describe, expect, it } from 'vitest';
import { type MeterCommand, type MeterProfile, type Outage, type SuspectedOutage } from '@ami/lib';
import { eventually, testConfig, testLogger } from '../support/fixtures.js';
import { loadDetectorConfig } from '@ami/detector/config';
import { pingCommandId } from '@ami/detector/pings';
import { startDetector, type DetectorHandle } from '@ami/detector/processor';
import { meterOutageId } from '@ami/detector/rules';
import { drawPing, MEDIA } from '@ami/simulator/media';
import {
  DetectorHarness,
  ev,
  handDrivenDetectorEnv,
  headEndRig,
  profile,
} from '../support/detectorHarness.js';

/** Test speed for the head-end's media: RF latency 1-8 s becomes 0.1-0.8 s, its time-out 20 s becomes 2 s. */
const LATENCY_SCALE = 0.1;
const SEED = 7;
const G1 = Array.from({ length: 12 }, (_, i) => `G1-M${String(i).padStart(2, '0')}`);
const G2 = Array.from({ length: 12 }, (_, i) => `G2-M${String(i).padStart(2, '0')}`);

function detectorConfig(prefix: string) {
  return loadDetectorConfig({
    ...process.env,
    ...handDrivenDetectorEnv(prefix, {
      // The event-time path, shortened so that it settles the suspicions within the test.
      CONFIRM_DELAY_MS: '15000',
      ALLOWED_LATENESS_MS: '5000',
      DETECTOR_PINGS: 'true',
    }),
  });
}

/** Follows the suspected outages: the latest record of an outage id, and its statuses in order. */
async function followSuspicions(h: DetectorHarness) {
  const seen: SuspectedOutage[] = await h.collect('SuspectedOutage', h.topics.suspectedOutages);
  return {
    latest: (id: string) => seen.filter((s) => s.outage_id === id).at(-1),
    /** The statuses it went through (a record that only changes counts repeats one). */
    history: (id: string) =>
      seen
        .filter((s) => s.outage_id === id)
        .map((s) => s.status)
        .filter((status, i, all) => i === 0 || all[i - 1] !== status),
  };
}

/**
 * A gasp time at which the head-end's draw for the meter's ping is not a lost exchange (RF loses
 * 3 %): the command id names the outage, which names the gasp time, and the draw is a hash of it.
 */
function gaspTimeHeard(gardu: string, meter: string, from: number): number {
  for (let t = from; ; t++) {
    const id = pingCommandId(meterOutageId(gardu, t, meter), meter, 1);
    if (!drawPing(MEDIA.R, SEED, id, LATENCY_SCALE).lost) return t;
  }
}

/** The detector on the harness's topics; stopped by `stops`. */
async function detectorOn(h: DetectorHarness, prefix: string, stops: Array<() => Promise<void>>) {
  const detector: DetectorHandle = await startDetector(detectorConfig(prefix), testLogger, (code) => {
    throw new Error(`detector wanted to exit ${code}`);
  });
  stops.push(() => detector.stop());
}

// Both scenarios at once, each on its own topics: the event-time path takes its time in each.
describe.concurrent('ping verification of suspected outages', () => {
  const stops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  it('through the real head-end: a dark meter is VERIFIED by its silence, a spurious gasp CANCELLED by its answer', async () => {
    const { prefix, h, head, world } = headEndRig(LATENCY_SCALE, SEED);
    stops.push(() => h.stop());
    await h.start(3);
    const meters: MeterProfile[] = [
      ...G1.map((m) => profile(m, 'G1', 'F1', 'R')),
      ...G2.map((m) => profile(m, 'G2', 'F1', 'R')),
    ];
    await h.meters(meters);
    await world.start();
    stops.push(() => world.stop());
    await head.start();
    stops.push(() => head.stop());
    await detectorOn(h, prefix, stops);
    const suspicions = await followSuspicions(h);
    const outages: Outage[] = await h.collect('Outage', h.topics.outages);
    const momentary: Outage[] = await h.collect('Outage', h.topics.momentary);
    const pings: MeterCommand[] = await h.collect('MeterCommand', h.topics.pings);
    // Where DISCONNECT travels: the detector never writes it (its principal may not).
    const commands: MeterCommand[] = await h.collect('MeterCommand', h.topics.commands);

    const now = Date.now();
    const darkAt = gaspTimeHeard('G1', 'G1-M03', now);
    const spuriousAt = gaspTimeHeard('G2', 'G2-M05', now);
    // Lights out at G1-M03 (its service cable): dark in the simulated world, its last gasp sent.
    await world.publishBatch({
      reads: [],
      events: [],
      supply: [
        {
          interruption_id: 'lights-out',
          scope: 'METER',
          unit_id: 'G1-M03',
          dark_from: darkAt - 1,
          back_at: darkAt + 3_600_000,
        },
      ],
    });
    await h.events([
      ev('lg-dark', 'G1-M03', 'G1', 'LAST_GASP', darkAt),
      // G2-M05 gasped, but its supply never went (a spurious gasp): it answers the ping.
      ev('lg-spurious', 'G2-M05', 'G2', 'LAST_GASP', spuriousAt),
    ]);
    const dark = meterOutageId('G1', darkAt, 'G1-M03');
    const spurious = meterOutageId('G2', spuriousAt, 'G2-M05');

    const verified = await eventually(
      () => (suspicions.latest(dark)?.status === 'VERIFIED' ? suspicions.latest(dark) : undefined),
      { timeoutMs: 60_000, what: 'the dark meter VERIFIED by its silence' },
    );
    expect(verified.reason).toMatch(/^NO_ANSWER: 1 of 1 pinged gasping meters silent/);
    expect(verified.pings_silent).toBeGreaterThanOrEqual(1); // a neighbour's exchange may be lost too
    expect(verified.pings_sent).toBeGreaterThanOrEqual(1);
    testLogger.info({ ms: verified.emitted_at - darkAt }, 'lights out verified after the last gasp');
    expect(pings.find((c) => c.command_id === pingCommandId(dark, 'G1-M03', 1))).toMatchObject({
      meter_id: 'G1-M03',
      type: 'READ_NOW',
      issued_by: 'detector',
      reason: `verifies suspected outage ${dark} (gasping meter)`,
    });

    // The answer cancels it, as a CommandResult (ANSWERED) or as the on-demand read the head-end
    // publishes with it (SUPPLY_BACK on arrival), whichever the detector takes first.
    const cancelled = await eventually(
      () => {
        const s = suspicions.latest(spurious);
        // Its own answer and its neighbours' (powered too) count.
        return s?.status === 'CANCELLED' && s.pings_answered >= 1 ? s : undefined;
      },
      { timeoutMs: 60_000, what: 'the spurious gasp CANCELLED by the answer' },
    );
    expect(cancelled.reason).toMatch(/^(ANSWERED: meter G2-M05 answered powered|SUPPLY_BACK: )/);
    expect(suspicions.history(spurious)).not.toContain('VERIFIED');

    // The event-time rule decides the outages as without pings: the dark meter's METER outage is
    // confirmed (the suspicion with it), the answering meter's read made it a momentary.
    await eventually(() => (suspicions.latest(dark)?.status === 'CONFIRMED' ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the dark meter CONFIRMED by the event-time rule',
    });
    expect(suspicions.history(dark)).toEqual(['SUSPECTED', 'VERIFIED', 'CONFIRMED']);
    await eventually(() => (outages.some((o) => o.outage_id === dark) ? true : undefined), {
      what: 'the OPEN outage of the dark meter (the same transaction, another consumer)',
    });
    expect(outages.filter((o) => o.outage_id === dark).map((o) => o.status)).toEqual(['OPEN']);
    await eventually(() => (momentary.some((o) => o.meter_ids.includes('G2-M05')) ? true : undefined), {
      what: 'the spurious gasp recorded as a momentary',
    });
    expect(outages.filter((o) => o.meter_ids.includes('G2-M05'))).toEqual([]);
    expect(suspicions.latest(spurious)?.status).toBe('CANCELLED');
    expect(pings.every((c) => c.type === 'READ_NOW' && c.issued_by === 'detector')).toBe(true);
    expect(commands).toEqual([]);
  });

  it('with no head-end: the pings end with nothing and the event-time rule still settles the suspicion', async () => {
    const prefix = testConfig().AMI_TOPIC_PREFIX;
    const h = new DetectorHarness(loadDetectorConfig({ ...process.env, AMI_TOPIC_PREFIX: prefix }));
    stops.push(() => h.stop());
    await h.start(3);
    await h.meters(G1.map((m) => profile(m, 'G1', 'F1', 'R')));
    await detectorOn(h, prefix, stops);
    const suspicions = await followSuspicions(h);
    const at = Date.now();
    await h.events([ev('lg-1', 'G1-M07', 'G1', 'LAST_GASP', at)]);
    const id = meterOutageId('G1', at, 'G1-M07');
    const final = await eventually(
      () => (suspicions.latest(id)?.status === 'CONFIRMED' ? suspicions.latest(id) : undefined),
      { timeoutMs: 60_000, what: 'CONFIRMED by the event-time rule' },
    );
    expect(final.pings_sent).toBeGreaterThanOrEqual(1);
    expect(final).toMatchObject({ pings_answered: 0, pings_silent: 0 });
    expect(suspicions.history(id)).toEqual(['SUSPECTED', 'CONFIRMED']);
  });
});
