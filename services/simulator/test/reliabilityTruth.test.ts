import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CustomerDarkTruth, InterruptionTruth, RelayTruth, TruthLine } from '../src/groundTruth.js';
import {
  customerDarkIntervals,
  fleetPlaces,
  localMonth,
  mergeIntervals,
  reliabilityIndices,
  truthReliability,
  type CustomerPlace,
} from '../src/reliabilityTruth.js';
import { parseScenarioText } from '../src/scenario.js';
import { runScenario } from './helpers.js';

const MIN = 60_000;
const T0 = Date.parse('2025-03-05T02:00:00Z');
const dark = (start: number, end: number | null, ...meter_ids: string[]): CustomerDarkTruth => ({
  kind: 'customer_dark',
  start,
  end,
  meter_ids,
});
const darkLines = (truth: TruthLine[]) =>
  truth.filter((l): l is CustomerDarkTruth => l.kind === 'customer_dark');

describe('mergeIntervals', () => {
  it('counts overlapping and touching dark time once', () => {
    expect(
      mergeIntervals([
        [30, 40],
        [0, 10],
        [5, 20],
        [20, 25],
        [50, 60],
      ]),
    ).toEqual([
      [0, 25],
      [30, 40],
      [50, 60],
    ]);
    expect(mergeIntervals([])).toEqual([]);
  });
});

describe('truth reliability indices (IEEE 1366 per customer)', () => {
  const BALI: CustomerPlace = { region: 'BALI', ulp: 'ULP-A', utcOffsetH: 8 };
  const places = new Map([...'ABCDEF'].map((id) => [id, BALI]));
  const inputs = (truth: TruthLine[], until?: number, pendingAfter?: number) => ({
    byMeter: customerDarkIntervals(truth, until).byMeter,
    placeOf: (id: string) => places.get(id),
    servedOf: () => 10,
    pendingAfter,
  });

  // The worked example of docs/analysts.md: gardu G1 (A, B, C) goes dark at 10:00 for 30 min,
  // its feeder (with gardu G2: D, E) goes dark 10:10-10:50 around it, B stays dark until 11:00
  // after a nested meter outage, and F has a 2-minute momentary.
  const example: TruthLine[] = [
    dark(T0 + 10 * MIN, T0 + 50 * MIN, 'D', 'E'),
    dark(T0, T0 + 30 * MIN, 'A', 'B', 'C'), // the simulator writes merged lines; raw overlaps merge too:
    dark(T0 + 10 * MIN, T0 + 50 * MIN, 'A', 'B', 'C'),
    dark(T0 + 45 * MIN, T0 + 60 * MIN, 'B'),
    dark(T0, T0 + 2 * MIN, 'F'),
  ];

  it('counts each customer once per merged dark interval, whatever overlaps', () => {
    const [c, ...rest] = reliabilityIndices(inputs(example));
    expect(rest).toEqual([]);
    // CI = 5 (A, B, C, D, E), not 8 (3 gardu + 3 feeder + 2 feeder); CMO = 1 (F).
    // CMI = A 50 + B 60 + C 50 + D 40 + E 40 = 240 minutes, not 330.
    expect(c).toMatchObject({
      region: 'BALI',
      ulp: 'ULP-A',
      month: '2025-03-01',
      customers_served: 10,
      customers_interrupted: 5,
      customer_minutes: 240,
      customer_momentary: 1,
      pending_customers: 0,
    });
    expect(c!.saifi).toBeCloseTo(0.5, 12);
    expect(c!.saidi_minutes).toBeCloseTo(24, 12);
    expect(c!.caidi_minutes).toBeCloseTo(48, 12);
    expect(c!.maifi).toBeCloseTo(0.1, 12);
  });

  it('is momentary at exactly 300 s and sustained one second later', () => {
    const cells = reliabilityIndices(
      inputs([dark(T0, T0 + 300_000, 'A'), dark(T0 + 3_600_000, T0 + 3_901_000, 'B')]),
    );
    expect(cells[0]).toMatchObject({ customers_interrupted: 1, customer_momentary: 1 });
    expect(cells[0]!.customer_minutes).toBeCloseTo(301 / 60, 12);
  });

  it("counts an interruption in the local month it started, in the customer's time zone", () => {
    // 28 Feb 16:30 UTC is 1 March 00:30 WITA: March, though it ends in March UTC too.
    const start = Date.parse('2025-02-28T16:30:00Z');
    expect(localMonth(start, 8)).toBe('2025-03-01');
    expect(localMonth(start, 7)).toBe('2025-02-01');
    const cells = reliabilityIndices(inputs([dark(start, start + 60 * MIN, 'A')]));
    expect(cells.map((c) => c.month)).toEqual(['2025-03-01']);
  });

  it('leaves out customers still dark at the end, and marks those restored near it as pending', () => {
    const until = T0 + 120 * MIN;
    const truth = [
      dark(T0, T0 + 30 * MIN, 'A'),
      dark(T0, T0 + 115 * MIN, 'B'),
      dark(T0, null, 'C'),
      dark(T0, T0 + 130 * MIN, 'D'),
    ];
    const { stillDark } = customerDarkIntervals(truth, until);
    expect(stillDark).toBe(2); // C (never restored) and D (restored after the range)
    const [c] = reliabilityIndices(inputs(truth, until, until - 20 * MIN));
    expect(c).toMatchObject({ customers_interrupted: 2, customer_minutes: 145, pending_customers: 1 });
    expect(c!.pending_minutes).toBe(115);
  });

  it('refuses a customer it cannot place', () => {
    expect(() => reliabilityIndices(inputs([dark(T0, T0 + 30 * MIN, 'Z')]))).toThrow(/Z .*not in the fleet/);
  });
});

describe('customer_dark ground truth of the simulator', { timeout: 60_000 }, () => {
  it('feeder-outage over 6 h: SAIDI 45.88 min and SAIFI 0.382 (the figures reliability_monthly must give)', () => {
    const s = runScenario(parseScenarioTextFrom('feeder-outage', 'duration: 8h', 'duration: 6h'));
    const { cells, stillDark } = truthReliability(s.truth, s.fleet);
    expect(stillDark).toBe(0);
    expect(cells).toHaveLength(1);
    expect(cells[0]!.saidi_minutes.toFixed(2)).toBe('45.88');
    expect(cells[0]!.saifi.toFixed(3)).toBe('0.382');
  });

  it("counts a ULP's meters installed by the local month as customers served", () => {
    const { fleet } = runScenario('feeder-outage');
    const { servedOf, placeOf } = fleetPlaces(fleet);
    const ulp = fleet.ulps[0]!;
    const metersOfUlp = fleet.feeders
      .filter((f) => f.ulp === ulp)
      .reduce((n, f) => n + f.gardu.reduce((k, g) => k + fleet.garduCount[g]!, 0), 0);
    const installedBy = (month: string) =>
      Array.from({ length: fleet.size }, (_, m) => m).filter(
        (m) =>
          placeOf(fleet.meterId(m))!.ulp === ulp.name &&
          localMonth(fleet.installedAt(m), ulp.region.utcOffsetH) <= month,
      ).length;
    expect(servedOf(ulp.region.code, ulp.name, '2023-05-01')).toBe(0); // before the programme
    expect(servedOf(ulp.region.code, ulp.name, '2024-06-01')).toBe(installedBy('2024-06-01'));
    expect(installedBy('2024-06-01')).toBeGreaterThan(0);
    expect(servedOf(ulp.region.code, ulp.name, '2030-01-01')).toBe(metersOfUlp);
    expect(servedOf(ulp.region.code, 'NOWHERE', '2030-01-01')).toBe(0);
  });

  it('counts AMR customers and leaves out those disconnected by tusbung', () => {
    const { truth, fleet } = runScenario('tusbung-during-outage');
    const outage = truth.find((l): l is InterruptionTruth => l.kind === 'interruption')!;
    const lines = darkLines(truth);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ start: outage.start, end: outage.end });
    const ids = lines[0]!.meter_ids;
    expect(ids).toHaveLength(outage.meters_affected + outage.amr_meters);
    expect(ids.filter((id) => !fleet.isAmi(fleet.meterIndex(id)!))).toHaveLength(outage.amr_meters);
    expect(outage.tusbung_excluded).toBeGreaterThan(0);
    const stillOpen = new Map<string, boolean>();
    const before = (l: TruthLine): l is RelayTruth =>
      l.kind === 'relay' && l.at <= outage.start && l.gardu_id === outage.gardu_id;
    for (const r of truth.filter(before)) stillOpen.set(r.meter_id, r.type !== 'RELAY_CLOSED');
    const disconnected = [...stillOpen].filter(([, open]) => open).map(([id]) => id);
    expect(disconnected).toHaveLength(outage.tusbung_excluded);
    expect(ids.filter((id) => disconnected.includes(id))).toEqual([]);
  });

  it('writes one merged interval per customer across overlapping gardu, feeder and meter outages', () => {
    // G0003 of feeder F01 dark 1h-1h30, F01 (6 gardu) 1h10-1h50 around it, M00000105 of G0003 1h20-2h20.
    const s = runScenario(
      parseScenarioText(`
name: overlap
fleet: { meters: 300, seed: 5, regions: [BALI], gardu_size: [40, 60], amr_share: 0.2 }
start: 2025-03-05T00:00:00+08:00
duration: 4h
actions:
  - { type: outage, scope: GARDU, target: { gardu_id: BALI-DENPAS-G0003 }, at: 1h, duration: 30m }
  - { type: outage, scope: FEEDER, target: { feeder_id: BALI-DENPAS-F01 }, at: 1h10m, duration: 40m }
  - { type: outage, scope: METER, target: { meter_id: M00000105 }, at: 1h20m, duration: 1h }
`),
    );
    const t0 = Date.parse('2025-03-05T00:00:00+08:00');
    const h = (x: number) => t0 + x * 60 * MIN;
    const lines = darkLines(s.truth)
      .map((l) => ({ start: l.start, end: l.end, n: l.meter_ids.length }))
      .sort((a, b) => a.start - b.start || a.end! - b.end!);
    const g3 = s.fleet.metersOfGardu(s.fleet.garduIndex('BALI-DENPAS-G0003')!);
    const feederMeters = s.fleet.feeders[0]!.gardu.reduce((n, g) => n + s.fleet.garduCount[g]!, 0);
    expect(lines).toEqual([
      { start: h(1), end: h(1 + 50 / 60), n: g3.end - g3.first - 1 }, // G0003 but M00000105
      { start: h(1), end: h(2 + 20 / 60), n: 1 }, // M00000105
      { start: h(1 + 10 / 60), end: h(1 + 50 / 60), n: feederMeters - (g3.end - g3.first) },
    ]);
    const ids = darkLines(s.truth).flatMap((l) => l.meter_ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('interruptions that send no evidence', { timeout: 60_000 }, () => {
  it('takes a lone meter whose last gasp was lost out of both sides, unless a wider outage covers it', () => {
    const { fleet } = runScenario('mixed-ami-amr');
    const meter = fleet.meterId(3);
    const gardu = fleet.garduIds[fleet.meterGardu[3]!]!;
    const lone = (start: number, end: number, delivered: number): InterruptionTruth => ({
      kind: 'interruption',
      id: `lone-${start}`,
      scope: 'METER',
      region: 'BALI',
      ulp: null,
      feeder_id: null,
      gardu_id: gardu,
      meter_ids: [meter],
      start,
      end,
      momentary: false,
      ami_meters_total: 1,
      meters_affected: 1,
      tusbung_excluded: 0,
      trip_excluded: 0,
      already_dark: 0,
      amr_meters: 0,
      last_gasps_sent: 1,
      last_gasps_delivered: delivered,
    });
    const lostThenHeard: TruthLine[] = [
      lone(T0, T0 + 30 * MIN, 0),
      dark(T0, T0 + 30 * MIN, meter),
      lone(T0 + 60 * MIN, T0 + 90 * MIN, 1),
      dark(T0 + 60 * MIN, T0 + 90 * MIN, meter),
    ];
    const interrupted = (r: ReturnType<typeof truthReliability>) =>
      r.cells.reduce((n, c) => n + c.customers_interrupted, 0);
    const alone = truthReliability(lostThenHeard, fleet);
    expect(alone.unseen).toBe(1);
    expect(interrupted(alone)).toBe(1);
    const garduAround: InterruptionTruth = {
      ...lone(T0 - 5 * MIN, T0 + 40 * MIN, 0),
      id: 'gardu',
      scope: 'GARDU',
      meter_ids: [],
    };
    const covered = truthReliability([...lostThenHeard, garduAround], fleet);
    expect(covered.unseen).toBe(0);
    expect(interrupted(covered)).toBe(2);
  });
});

/** A named scenario with one line of its YAML replaced. */
function parseScenarioTextFrom(name: string, from: string, to: string) {
  const text = readFileSync(new URL(`../scenarios/${name}.yaml`, import.meta.url), 'utf8');
  return parseScenarioText(text.replace(from, to));
}
