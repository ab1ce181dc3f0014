import { describe, expect, it } from 'vitest';
import { BadRecordError } from '@ami/lib';
import type { InterruptionTruth } from '../src/groundTruth.js';
import { collectTruth } from '../src/groundTruth.js';
import { fleetFor } from '../src/run.js';
import { parseScenarioText } from '../src/scenario.js';
import { Simulation } from '../src/simulation.js';
import {
  decodeSupplyChange,
  encodeSupplyChange,
  supplyKey,
  SupplyTable,
  type SupplyChange,
} from '../src/supply.js';

const T = Date.UTC(2026, 10, 21, 2);
const meter = { meter_id: 'M1', gardu_id: 'G1', feeder_id: 'F1', region: 'BALI' };
const change = (
  scope: SupplyChange['scope'],
  unit_id: string,
  from = T,
  back = T + 600_000,
): SupplyChange => ({
  interruption_id: `INT-${scope}-${unit_id}`,
  scope,
  unit_id,
  dark_from: from,
  back_at: back,
});

describe('the supply table (the simulated physical world)', () => {
  it('a meter is dark from dark_from until back_at, under its own, gardu, feeder or region interruption', () => {
    for (const c of [
      change('METER', 'M1'),
      change('GARDU', 'G1'),
      change('FEEDER', 'F1'),
      change('REGION', 'BALI'),
    ]) {
      const table = new SupplyTable();
      table.set(supplyKey(c), c);
      expect(table.darkAt(meter, T - 1)).toBeUndefined();
      expect(table.darkAt(meter, T)).toEqual(c);
      expect(table.darkAt(meter, T + 599_999)).toEqual(c);
      expect(table.darkAt(meter, T + 600_000)).toBeUndefined();
      // A neighbour elsewhere stays powered.
      expect(
        table.darkAt({ meter_id: 'M2', gardu_id: 'G2', feeder_id: 'F2', region: 'JATIM' }, T),
      ).toBeUndefined();
    }
  });

  it('keeps the latest value per key, forgets tombstoned and long-over interruptions', () => {
    const table = new SupplyTable();
    const c = change('GARDU', 'G1');
    table.set(supplyKey(c), c);
    table.set(supplyKey(c), { ...c, back_at: T + 1000 });
    expect(table.size).toBe(1);
    expect(table.darkAt(meter, T + 5000)).toBeUndefined();
    const other = change('GARDU', 'G1', T + 3_600_000, T + 7_200_000);
    table.set(supplyKey(other), other);
    expect(table.prune(T + 2000)).toBe(1);
    expect(table.darkAt(meter, T + 3_600_000)).toEqual(other);
    table.delete(supplyKey(other));
    expect(table.size).toBe(0);
    expect(table.darkAt(meter, T + 3_600_000)).toBeUndefined();
  });

  it('round-trips as JSON; anything else is a bad record', () => {
    const c = change('FEEDER', 'F1');
    expect(decodeSupplyChange(encodeSupplyChange(c))).toEqual(c);
    expect(() => decodeSupplyChange(Buffer.from('{'))).toThrow(BadRecordError);
    expect(() => decodeSupplyChange(Buffer.from(JSON.stringify({ ...c, scope: 'ULP' })))).toThrow(/scope/);
    expect(() => decodeSupplyChange(Buffer.from(JSON.stringify({ ...c, dark_from: 'soon' })))).toThrow(
      /dark_from/,
    );
  });
});

describe('the simulation publishes its supply changes', () => {
  it('one change per interruption, matching the ground truth, in the batch where it starts', () => {
    const scenario = parseScenarioText(`
name: supply
fleet: { meters: 400, seed: 3, regions: [BALI], gardu_size: [40, 80] }
start: 2026-11-21T00:00:00+08:00
duration: 3h
actions:
  - { type: outage, scope: GARDU, target: { pick: 1 }, at: 20m, duration: 90m }
  - { type: outage, scope: METER, target: { pick: 2 }, at: 30m, duration: 10m }
  - { type: outage, scope: REGION, target: { region: BALI }, at: 2h, duration: 20m }
  - { type: momentaries, scope: FEEDER, target: { pick: 0 }, count: 3, within: [10m, 1h], duration: [2s, 30s] }
`);
    const fleet = fleetFor(scenario);
    const { lines, sink } = collectTruth();
    const sim = new Simulation({ fleet, scenario, startMs: Date.parse(scenario.start!), truth: sink });
    const supply: Array<SupplyChange & { batchAt: number }> = [];
    let reads = 0;
    for (const b of sim.run()) {
      reads += b.reads.length;
      for (const c of b.supply) supply.push({ ...c, batchAt: b.at });
    }
    const truth = lines.filter((l): l is InterruptionTruth => l.kind === 'interruption');
    expect(truth).toHaveLength(6);
    expect(supply).toHaveLength(truth.length); // one per interruption, none per read
    expect(reads).toBeGreaterThan(1000);
    for (const t of truth) {
      const unit =
        t.scope === 'METER'
          ? t.meter_ids[0]
          : t.scope === 'GARDU'
            ? t.gardu_id
            : t.scope === 'FEEDER'
              ? t.feeder_id
              : t.region;
      const c = supply.find((s) => s.interruption_id === t.id && s.dark_from === t.start);
      expect(c).toMatchObject({ scope: t.scope, unit_id: unit, back_at: t.end });
      expect(c!.batchAt).toBeGreaterThanOrEqual(t.start);
      expect(c!.batchAt - t.start).toBeLessThanOrEqual(60_000);
    }
  });
});
