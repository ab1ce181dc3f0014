import { describe, expect, it } from 'vitest';
import type { Outage } from '@ami/lib';
import {
  checkOutages,
  checkReliability,
  latestOutages,
  type ReliabilityViewRow,
} from '../src/correctness.js';
import { reliabilitySection } from '../src/report.js';
import { Fleet } from '@ami/simulator/fleet';
import type { InterruptionTruth } from '@ami/simulator/groundTruth';
import { truthReliability, type ReliabilityCell } from '@ami/simulator/reliabilityTruth';
import { runScenario } from '@ami/simulator/testing/helpers';

describe('outage check', () => {
  const fleet = new Fleet({ meters: 3000, seed: 11, regions: ['JABAR'], garduSize: { min: 50, max: 150 } });
  const feeder = fleet.feeders.find((f) => f.gardu.length >= 3)!;
  const g0 = fleet.garduIds[feeder.gardu[0]!]!;
  const truth = (scope: 'GARDU' | 'FEEDER', start: number, end: number): InterruptionTruth => ({
    kind: 'interruption',
    id: `INT-${scope}`,
    scope,
    region: 'JABAR',
    ulp: feeder.ulp.name,
    feeder_id: feeder.id,
    gardu_id: scope === 'GARDU' ? g0 : null,
    meter_ids: [],
    start,
    end,
    momentary: false,
    ami_meters_total: 100,
    meters_affected: 100,
    tusbung_excluded: 0,
    trip_excluded: 0,
    already_dark: 0,
    amr_meters: 0,
    last_gasps_sent: 100,
    last_gasps_delivered: 90,
  });
  const outage = (o: Partial<Outage>): Outage => ({
    outage_id: 'o1',
    scope: 'GARDU',
    status: 'RESTORED',
    region: 'JABAR',
    ulp: feeder.ulp.name,
    feeder_id: feeder.id,
    gardu_id: g0,
    meter_ids: [],
    parent_outage_id: null,
    started_at: 1_000_000,
    confirmed_at: 1_300_000,
    restored_at: 5_000_000,
    customers_affected: 100,
    customers_total: 100,
    last_gasps: 90,
    tusbung_excluded: 0,
    customers_interrupted: 0,
    customer_interruption_s: 0,
    emitted_at: 1,
    ...o,
  });

  it('matches a gardu outage within the tolerances', () => {
    const r = checkOutages(
      [truth('GARDU', 1_000_000, 5_000_000)],
      fleet,
      [outage({ started_at: 1_000_500 })],
      10_000_000,
    );
    expect(r).toMatchObject({ expected: 1, matched: 1, exact: 1, ok: true });
  });

  it('flags a wrong scope, a missing outage and an unexpected one', () => {
    const r = checkOutages([truth('FEEDER', 1_000_000, 5_000_000)], fleet, [outage({})], 10_000_000);
    expect(r.wrong).toHaveLength(1);
    expect(r.wrong[0]!.problems[0]).toMatch(/expected FEEDER/);
    const missing = checkOutages([truth('GARDU', 1_000_000, 5_000_000)], fleet, [], 10_000_000);
    expect(missing.missing).toHaveLength(1);
    const extra = checkOutages([], fleet, [outage({})], 10_000_000);
    expect(extra.unexpected).toHaveLength(1);
    expect(extra.ok).toBe(false);
  });

  it('fails on two GARDU outages of one gardu at once, though one of them matches the truth', () => {
    // The escalation defect: a few meters, then the whole gardu a minute later, reported as two outages.
    const first = outage({ outage_id: 'GARDU-a', started_at: 940_000 });
    const second = outage({ outage_id: 'GARDU-b', started_at: 1_000_000 });
    const r = checkOutages([truth('GARDU', 1_000_000, 5_000_000)], fleet, [first, second], 10_000_000);
    expect(r).toMatchObject({ matched: 1, exact: 1, unexpected: [], ok: false });
    expect(r.overlapping).toEqual([{ scope: 'GARDU', place: g0, first, second }]);
    // One after the other is two outages, not a duplicate.
    const later = outage({ outage_id: 'GARDU-c', started_at: 5_000_000, restored_at: 6_000_000 });
    expect(checkOutages([], fleet, [second, later], 10_000_000).overlapping).toEqual([]);
  });

  it('flags a restore far from the truth, and keeps the latest record per outage', () => {
    const late = outage({ restored_at: 9_000_000, emitted_at: 2 });
    const latest = latestOutages([outage({ status: 'OPEN', restored_at: null }), late]);
    expect(latest).toEqual([late]);
    const r = checkOutages([truth('GARDU', 1_000_000, 5_000_000)], fleet, latest, 10_000_000);
    expect(r.wrong[0]!.problems[0]).toMatch(/restored_at off by 4000 s/);
  });
});

describe('reliability judge', () => {
  // feeder-outage: one feeder of BANDUNG UTARA dark for 2 h (the run: the view read 0).
  const run = runScenario('feeder-outage');
  const truth = truthReliability(run.truth, run.fleet);
  const cell = truth.cells[0]!;
  const viewOf = (c: ReliabilityCell, o: Partial<ReliabilityViewRow> = {}): ReliabilityViewRow => {
    const row = {
      region: c.region,
      ulp: c.ulp,
      month: c.month,
      customers_served: c.customers_served,
      sustained_interruptions: 1,
      momentary_interruptions: 0,
      customers_interrupted: c.customers_interrupted,
      customer_minutes: c.customer_minutes,
      customer_momentary: c.customer_momentary,
      ...o,
    };
    const n = row.customers_served;
    return {
      ...row,
      saidi_minutes: row.customer_minutes / n,
      saifi: row.customers_interrupted / n,
      caidi_minutes: row.customers_interrupted ? row.customer_minutes / row.customers_interrupted : 0,
      maifi: row.customer_momentary / n,
    };
  };

  it('computes the truth of feeder-outage: SAIDI 45.88 min, SAIFI 0.382', () => {
    expect(truth.cells).toHaveLength(1);
    expect([cell.saidi_minutes.toFixed(2), cell.saifi.toFixed(3)]).toEqual(['45.88', '0.382']);
  });

  it('fails the feeder outage that counted for nothing (SAIDI 0, SAIFI 0: scored PASS before)', () => {
    const zero = viewOf(cell, { customers_interrupted: 0, customer_minutes: 0 });
    const r = checkReliability(truth, [zero]);
    expect(r.ok).toBe(false);
    expect(r.cells[0]!.problems).toEqual([
      `customers interrupted: 0, truth ${cell.customers_interrupted} (${cell.customers_interrupted} missing)`,
      expect.stringMatching(/^customer-minutes 0.0, truth 137640.0 \(off by -137640.0, allowed ±26381.0\)$/),
    ]);
    expect(checkReliability(truth, []).cells[0]!.problems).toEqual(['no row in reliability_monthly']);
  });

  it('fails a duplicated outage: every customer and minute counted twice', () => {
    const doubled = viewOf(cell, {
      customers_interrupted: 2 * cell.customers_interrupted,
      customer_minutes: 2 * cell.customer_minutes,
    });
    const r = checkReliability(truth, [doubled]);
    expect(r.ok).toBe(false);
    expect(r.cells[0]!.problems.join('\n')).toMatch(
      /customers interrupted: 2294, truth 1147 \(a customer counted twice\)/,
    );
    expect(r.cells[0]!.problems.join('\n')).toMatch(/a customer counted twice for the same minutes/);
    // One customer too many is a duplicate too: counts are exact.
    const oneMore = viewOf(cell, { customers_interrupted: cell.customers_interrupted + 1 });
    expect(checkReliability(truth, [oneMore]).ok).toBe(false);
  });

  it('passes exact counts with minutes within the start and restore tolerances, and fails beyond', () => {
    // Default tolerances: start 3 min + restore 20 min = 23 min a customer.
    const within = viewOf(cell, {
      customer_minutes: cell.customer_minutes + 22 * cell.customers_interrupted,
    });
    expect(checkReliability(truth, [within]).ok).toBe(true);
    const beyond = viewOf(cell, {
      customer_minutes: cell.customer_minutes - 24 * cell.customers_interrupted,
    });
    expect(checkReliability(truth, [beyond]).ok).toBe(false);
    const other = viewOf({ ...cell, ulp: 'CIJAURA' });
    expect(
      checkReliability(truth, [viewOf(cell), other]).cells.find((c) => c.ulp === 'CIJAURA')!.problems,
    ).toEqual([
      'customers interrupted: 1147, truth 0 (a customer counted twice)',
      expect.stringMatching(/^customer-minutes 137640.0, truth 0.0/),
    ]);
  });

  it('lets customers restored at the very end of the range be missing from the view, not doubled', () => {
    const end = run.truth.find((l) => l.kind === 'customer_dark')!.end!;
    const near = truthReliability(run.truth, run.fleet, {
      until: end + 60_000,
      pendingWithinMs: 20 * 60_000,
    });
    expect(near.cells[0]!.pending_customers).toBe(cell.customers_interrupted);
    expect(checkReliability(near, [viewOf(cell, { customers_interrupted: 0, customer_minutes: 0 })]).ok).toBe(
      true,
    );
  });

  it('prints the truth beside reliability_monthly', () => {
    const md = reliabilitySection(
      checkReliability(truth, [viewOf(cell, { customers_interrupted: 0, customer_minutes: 0 })]),
    );
    const text = md.join('\n');
    expect(text).toContain('Reliability indices: **FAIL**');
    expect(text).toContain(
      '| JABAR | BANDUNG UTARA | 2026-11-01 | 3,000 / 3,000 | 1,147 / 0 | 137,640.0 / 0.0 | 45.88 / 0.00 | 0.382 / 0.000 |',
    );
  });
});
