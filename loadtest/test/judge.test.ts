import { describe, expect, it } from 'vitest';
import type { Outage, SuspectedOutage } from '@ami/lib';
import type { ReplayStats } from '../src/replay.js';
import { suspicionSection } from '../src/report.js';
import {
  checkSuspicions,
  confirmingEvidenceAt,
  outageLatencies,
  pendingSuspicions,
  suspicionLatencies,
} from '../src/judge.js';

describe('latencies in wall time', () => {
  it('dates the evidence of an event time by the last chunk at or before it, and the paced clock', () => {
    // Reads at 0 and 900 s (event time), produced at wall 1000 and 1090 (10x); an outage confirmed at 300 s.
    const timeline = [
      { at: 0, wall: 1_000 },
      { at: 900_000, wall: 91_000 },
    ];
    expect(confirmingEvidenceAt(300_000, timeline)).toBe(1_000); // max speed: everything up to 300 s was out
    expect(confirmingEvidenceAt(300_000, timeline, { wall0: 1_000, at0: 0, factor: 10 })).toBe(31_000);
    expect(confirmingEvidenceAt(900_000, timeline, { wall0: 1_000, at0: 0, factor: 10 })).toBe(91_000);
    expect(confirmingEvidenceAt(-1, timeline)).toBeUndefined(); // before the first chunk
    expect(confirmingEvidenceAt(1_000_000, timeline)).toBeUndefined(); // the replay never passed it
  });

  it("reports a storm outage's latency beyond the confirmation delay in wall time at the replay's speed", () => {
    // 10x: the 300 s delay is 30 s of wall time. First gasp produced at wall 10 s, the outage out at 62 s;
    // the replay acknowledged the traffic up to confirmed_at only at 70 s (a fleet's quarter hour of reads).
    const outage = {
      outage_id: 'GARDU-G1-0',
      scope: 'GARDU',
      gardu_id: 'G1',
      started_at: 0,
      confirmed_at: 300_000,
    } as unknown as Outage;
    const stats = {
      gasps: new Map([['G1', [{ occurredAt: 0, sentAt: 10_000 }]]]),
      timeline: [
        { at: 0, wall: 10_000 },
        { at: 300_000, wall: 70_000 },
      ],
    } as unknown as ReplayStats;
    const clock = { wall0: 10_000, at0: 0, factor: 10 };
    const r = outageLatencies([{ outage, receivedAt: 62_000 }], stats, undefined, 300_000, clock);
    expect(r.gasp).toEqual([52_000]);
    expect(r.minusDelay).toEqual([22_000]);
    expect(r.beyond).toEqual([0]); // out before the evidence was acknowledged: why the row above exists
    // Unpaced (max speed): no wall-time delay to subtract.
    expect(outageLatencies([{ outage, receivedAt: 62_000 }], stats, undefined, 300_000).minusDelay).toEqual(
      [],
    );
  });
});

describe('suspected outages', () => {
  // One gardu suspicion's records as the detector sends them: crossed the threshold when the last gasp
  // logged at 10,000 arrived, sent 300 ms later; again with more gasps; then CONFIRMED.
  const suspicion = (o: Partial<SuspectedOutage>): SuspectedOutage => ({
    outage_id: 'GARDU-G1-0',
    scope: 'GARDU',
    status: 'SUSPECTED',
    region: 'JATIM',
    ulp: 'SIDOARJO',
    feeder_id: 'F1',
    gardu_id: 'G1',
    meter_ids: [],
    started_at: 0,
    last_gasps: 3,
    customers_total: 10,
    evidence_logged_at: 10_000,
    pings_sent: 0,
    pings_answered: 0,
    pings_silent: 0,
    reason: null,
    confirmed_outage_id: null,
    emitted_at: 10_300,
    ...o,
  });
  const g1 = [
    suspicion({}),
    suspicion({ last_gasps: 8, evidence_logged_at: 10_000, emitted_at: 12_000 }),
    suspicion({ status: 'CONFIRMED', confirmed_outage_id: 'GARDU-G1-0', emitted_at: 40_000 }),
  ];
  // A METER suspicion verified by pings (no SUSPECTED record before it was seen), then cancelled.
  const meter = (o: Partial<SuspectedOutage>) =>
    suspicion({ outage_id: 'METER-G2-5-M1', scope: 'METER', ...o });
  const m1 = [
    meter({ status: 'VERIFIED', emitted_at: 20_000 }),
    meter({ evidence_logged_at: 30_000, emitted_at: 31_000 }),
    meter({ status: 'CANCELLED', reason: 'SUPPLY_BACK: read', emitted_at: 35_000 }),
  ];

  it("times each suspicion by its first SUSPECTED record: the detector's emitted_at minus the evidence's Kafka time", () => {
    expect(suspicionLatencies([...g1, ...m1])).toEqual([300, 1_000]);
    expect(suspicionLatencies([])).toEqual([]);
  });

  it('counts suspicions by final status and passes when each ended CONFIRMED as a seen outage or CANCELLED', () => {
    const r = checkSuspicions([...g1, ...m1], new Set(['GARDU-G1-0']));
    expect(r).toEqual({
      ok: true,
      suspicions: 2,
      byStatus: { SUSPECTED: 0, VERIFIED: 0, CONFIRMED: 1, CANCELLED: 1 },
      pending: 0,
      unconfirmed: 0,
      problems: [],
    });
    expect(pendingSuspicions([...g1, ...m1])).toEqual([]);
  });

  it('fails on a suspicion left SUSPECTED or VERIFIED, whatever came before', () => {
    const cancelledThenSuspected = [...m1, meter({ emitted_at: 50_000 })];
    const verified = suspicion({ outage_id: 'GARDU-G3-0', status: 'VERIFIED', pings_silent: 2 });
    const r = checkSuspicions([...g1, ...cancelledThenSuspected, verified], new Set(['GARDU-G1-0']));
    expect(r).toMatchObject({
      ok: false,
      suspicions: 3,
      byStatus: { SUSPECTED: 1, VERIFIED: 1, CONFIRMED: 1, CANCELLED: 0 },
      pending: 2,
      unconfirmed: 0,
    });
    expect(r.problems).toEqual([
      'METER suspicion METER-G2-5-M1 left SUSPECTED (last record sent 1970-01-01T00:00:50.000Z)',
      'GARDU suspicion GARDU-G3-0 left VERIFIED (last record sent 1970-01-01T00:00:10.300Z)',
    ]);
    expect(pendingSuspicions([...cancelledThenSuspected, verified]).map((s) => s.outage_id)).toEqual([
      'METER-G2-5-M1',
      'GARDU-G3-0',
    ]);
  });

  it('fails on a CONFIRMED suspicion whose outage never came out, by confirmed_outage_id when it is set', () => {
    // The real outage started at an earlier last gasp that arrived after the suspicion was published.
    const renamed = suspicion({ status: 'CONFIRMED', confirmed_outage_id: 'GARDU-G1-(-5000)' });
    expect(checkSuspicions([renamed], new Set(['GARDU-G1-(-5000)'])).ok).toBe(true);
    const r = checkSuspicions([renamed], new Set(['GARDU-G1-0']));
    expect(r).toMatchObject({ ok: false, pending: 0, unconfirmed: 1 });
    expect(r.problems).toEqual([
      'GARDU suspicion GARDU-G1-0 CONFIRMED as GARDU-G1-(-5000), which never came out on the outages topic',
    ]);
    // Without confirmed_outage_id, the suspicion's own id.
    expect(
      checkSuspicions(g1.slice(0, 2).concat(suspicion({ status: 'CONFIRMED' })), new Set()).unconfirmed,
    ).toBe(1);
  });

  it('reports the figures and the problems in the correctness section', () => {
    const lines = suspicionSection(
      checkSuspicions([...g1, suspicion({ outage_id: 'GARDU-G3-0' })], new Set(['GARDU-G1-0'])),
    );
    expect(lines[0]).toBe(
      'Suspected outages: **FAIL**. 2 suspicions, by final status: 1 CONFIRMED, 0 CANCELLED, 1 SUSPECTED, 0 VERIFIED; 1 left pending after the drain; 0 CONFIRMED as an outage that never came out on the outages topic.',
    );
    expect(lines[1]).toMatch(/^- GARDU suspicion GARDU-G3-0 left SUSPECTED/);
  });
});
