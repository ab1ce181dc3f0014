import { expect } from 'vitest';
import { defaultDetectorConfig } from '../src/config.js';
import type { OutageRecord } from '../src/rules.js';
import { deliver as run, latest, telemetry, truth, type Composition } from './composition.js';

/**
 * The judge of a composition (composition.ts) against its ground truth, for the generative tests and
 * for the regression tests made of their shrunk counterexamples.
 *
 * What is exactly knowable, and so asserted exactly:
 * - every customer (AMI and AMR) interrupted by a gardu-wide or feeder-wide fault: at least 3 AMI last
 *   gasps of the gardu arrive (the rest may be lost) and at least one power restore does;
 * - a METER fault's meter: its last gasp and power restore arrive (a lone meter whose last gasp is lost
 *   is only known at its next read, and the rules open nothing on a read: not generated);
 * - a lost power restore is known from the meter's next read: not generated when the meter is dark
 *   again before that read; nor a supply back and lost again within the per-customer jitter.
 * An interruption within 2 s of the sustained bound may be counted either way (see `expected`).
 * Tolerance on customer-seconds: ±2 s per sustained interruption. Each customer is counted from its own
 * last gasp (without one, AMR or lost: from the last gasp that made the gasps alone prove the gardu
 * outage) to the first proof of supply at its gardu, both within the per-customer jitter (< 1 s each).
 * (A partial failure of GARDU_MIN_GASPS meters or more that escalates would count the customers without
 * a last gasp from the partial failure: not generated, a METER fault here hits at most 2 meters.)
 */
const cfg = defaultDetectorConfig;
const SUSTAINED_MS = cfg.CONFIRM_DELAY_MS;

/**
 * (a) Never two GARDU (FEEDER) outages of one gardu (feeder) overlapping in event time. For METER
 * outages, whose meters return one by one, the state is checked at every input instead (Delivered.doubles).
 */
function overlaps(records: OutageRecord[]): string[] {
  const spans = new Map<string, Array<{ id: string; from: number; to: number }>>();
  for (const r of latest(records)) {
    const places = r.scope === 'FEEDER' ? [r.feeder_id] : r.scope === 'GARDU' ? [r.gardu_id!] : [];
    for (const p of places) {
      const key = `${r.scope}:${p}`;
      const list = spans.get(key) ?? [];
      list.push({ id: r.outage_id, from: r.started_at, to: r.restored_at ?? Number.POSITIVE_INFINITY });
      spans.set(key, list);
    }
  }
  const found: string[] = [];
  for (const [key, list] of spans) {
    list.sort((a, b) => a.from - b.from);
    for (let i = 1; i < list.length; i++)
      if (list[i]!.from < list[i - 1]!.to) found.push(`${key}: ${list[i - 1]!.id} and ${list[i]!.id}`);
  }
  return found;
}

/**
 * The sustained customer interruptions of the ground truth. One within KNIFE_EDGE_MS of the sustained
 * bound may be counted either way (`interrupted` and `customerS` are ranges): the per-customer jitter
 * decides it in the truth, the gardu-wide record (one event, IEEE 1366) in the rules.
 */
function expected(c: Composition): {
  interrupted: [number, number];
  customerS: [number, number];
  interruptions: number;
} {
  const interrupted: [number, number] = [0, 0];
  const customerMs: [number, number] = [0, 0];
  for (const list of truth(c).values())
    for (const iv of list) {
      const ms = iv.end - iv.start;
      if (ms > SUSTAINED_MS + KNIFE_EDGE_MS) {
        interrupted[0]++;
        customerMs[0] += ms;
      }
      if (ms > SUSTAINED_MS - KNIFE_EDGE_MS) {
        interrupted[1]++;
        customerMs[1] += ms;
      }
    }
  return {
    interrupted,
    customerS: [customerMs[0] / 1000, customerMs[1] / 1000],
    interruptions: interrupted[1],
  };
}

/** Twice the per-customer jitter (< 1 s at each end). */
const KNIFE_EDGE_MS = 2_000;

export function judge(c: Composition, shuffle: number): void {
  const { inputs, horizon } = telemetry(c);
  const base = run(c, inputs, horizon, null);
  const final = latest(base.outages);
  // Everything generated ends well before the horizon.
  expect(final.filter((r) => r.status !== 'RESTORED').map((r) => r.outage_id)).toEqual([]);
  expect(overlaps(base.outages)).toEqual([]);
  expect(base.doubles).toEqual([]);
  const want = expected(c);
  const interrupted = final.reduce((s, r) => s + r.customers_interrupted, 0);
  expect(interrupted, 'customers interrupted (sustained)').toBeGreaterThanOrEqual(want.interrupted[0]);
  expect(interrupted, 'customers interrupted (sustained)').toBeLessThanOrEqual(want.interrupted[1]);
  const customerS = final.reduce((s, r) => s + r.customer_interruption_s, 0);
  const jitter = 2 * want.interruptions + 1;
  expect(customerS, 'customer-seconds').toBeGreaterThanOrEqual(want.customerS[0] - jitter);
  expect(customerS, 'customer-seconds').toBeLessThanOrEqual(want.customerS[1] + jitter);
  // (d) The same records whatever the order of ties, duplicates and timer steps at the edge.
  const other = run(c, inputs, horizon, shuffle);
  expect(sortById(latest(other.outages))).toEqual(sortById(final));
  expect(sortById(other.momentaries)).toEqual(sortById(base.momentaries));
}

function sortById(records: OutageRecord[]): OutageRecord[] {
  return [...records].sort((a, b) => (a.outage_id < b.outage_id ? -1 : a.outage_id > b.outage_id ? 1 : 0));
}
