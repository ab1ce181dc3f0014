import { describe, expect, it } from 'vitest';
import { defaultDetectorConfig } from '../src/config.js';
import { decodeSnapshot, encodeSnapshot } from '../src/changelog.js';
import { garduOutageId, loadGardu, newDetectorState, snapshotGardu, verdict } from '../src/rules.js';
import { MIN, T0, World, event, gasps, meterId, range, read, reads, restores, sample } from './world.js';

const DELAY = defaultDetectorConfig.CONFIRM_DELAY_MS;
const BOUNDARY = Math.ceil(T0 / (15 * MIN)) * 15 * MIN; // first read boundary after T0

describe('gardu outage', () => {
  it('opens one GARDU outage, not a pile of meter outages, after the confirmation delay', () => {
    const w = new World([{ id: 'G1', meters: 100 }]).feed(gasps('G1', range(0, 100), T0, 20));
    expect(w.outages()).toEqual([]);
    w.until(T0 + DELAY);
    const [o, ...rest] = w.outages();
    expect(rest).toEqual([]);
    expect(o).toMatchObject({
      outage_id: garduOutageId('G1', T0),
      scope: 'GARDU',
      status: 'OPEN',
      gardu_id: 'G1',
      feeder_id: 'F1',
      region: 'BALI',
      ulp: 'ULP-DENPASAR',
      started_at: T0,
      confirmed_at: T0 + DELAY,
      restored_at: null,
      customers_affected: 100,
      customers_total: 100,
      last_gasps: 100,
      tusbung_excluded: 0,
    });
    expect(w.statusOf(meterId('G1', 5))).toMatchObject({ state: 'OUTAGE', outage_id: o!.outage_id });
  });

  it('is found from last gasps alone with 60% of them lost', () => {
    const w = new World([{ id: 'G1', meters: 150 }])
      .feed(gasps('G1', sample(range(0, 150), 0.4), T0))
      .until(T0 + DELAY);
    expect(w.outages()).toHaveLength(1);
    expect(w.outages()[0]).toMatchObject({ scope: 'GARDU', last_gasps: 60, customers_affected: 150 });
  });

  it('uses silent meters (no read when due) as evidence when few last gasps arrive', () => {
    const g = 'G1';
    const delivered = sample(range(0, 100), 0.2); // 20 gasps: below the gasp share
    const w = new World([{ id: g, meters: 100 }]).feed(gasps(g, delivered, T0)).until(T0 + DELAY);
    expect(w.outages()).toEqual([]); // waits for the next read to fall due
    w.until(BOUNDARY + defaultDetectorConfig.READ_GRACE_MS);
    expect(w.outages()).toHaveLength(1);
    expect(w.outages()[0]).toMatchObject({ scope: 'GARDU', started_at: T0, last_gasps: 20 });
  });

  it('makes a METER outage when the other meters keep reading', () => {
    const g = 'G1';
    const out = range(0, 20);
    const w = new World([{ id: g, meters: 100 }])
      .feed([...gasps(g, sample(out, 0.5), T0), ...reads(g, range(20, 100), BOUNDARY)])
      .until(BOUNDARY + 10 * MIN);
    expect(w.outages().map((o) => o.scope)).toEqual(['METER']);
    expect(w.outages()[0]!.meter_ids).toHaveLength(10);
  });

  it('excludes AMR meters from the shares but counts their customers', () => {
    // 100 meters, 70 AMR: 10 AMI last gasps are 33% of the AMI meters.
    const w = new World([{ id: 'G1', meters: 100, amr: 70 }])
      .feed(gasps('G1', range(70, 80), T0))
      .until(T0 + DELAY);
    expect(w.outages()[0]).toMatchObject({
      scope: 'GARDU',
      last_gasps: 10,
      customers_total: 100,
      customers_affected: 100,
    });
    expect(
      verdict(defaultDetectorConfig, { population: 100, gasps: 10, silent: 0, silenceKnown: true }),
    ).toBe('METER');
  });

  it('ignores last gasps of AMR meters', () => {
    const w = new World([{ id: 'G1', meters: 10, amr: 10 }])
      .feed(gasps('G1', range(0, 10), T0))
      .until(T0 + DELAY);
    expect(w.outages()).toEqual([]);
  });

  it('accounts for every last gasp in a storm (no sampling)', () => {
    const specs = range(0, 40).map((i) => ({ id: `G${i}`, meters: 120, feeder: `F${i}` }));
    const inputs = specs.flatMap((s, i) => gasps(s.id, range(0, 120), T0 + i * 50, 7));
    const w = new World(specs).feed(inputs).until(T0 + DELAY + MIN);
    expect(w.outages()).toHaveLength(40);
    expect(w.outages().reduce((s, o) => s + o.last_gasps, 0)).toBe(40 * 120);
  });
});

describe('meter outages', () => {
  it('one or two meters losing power is a METER outage for those meters', () => {
    const w = new World([{ id: 'G1', meters: 100 }]).feed(gasps('G1', [3, 7], T0)).until(T0 + DELAY);
    expect(w.outages()).toHaveLength(1);
    expect(w.outages()[0]).toMatchObject({
      scope: 'METER',
      meter_ids: [meterId('G1', 3), meterId('G1', 7)],
      customers_affected: 2,
      customers_total: 2,
      last_gasps: 2,
    });
  });

  it('publishes UPDATED as meters come back and RESTORED with the last one', () => {
    const w = new World([{ id: 'G1', meters: 100 }])
      .feed([
        ...gasps('G1', [3, 7], T0),
        event(meterId('G1', 3), 'POWER_RESTORE', T0 + 20 * MIN),
        read(meterId('G1', 7), T0 + 40 * MIN),
      ])
      .until(T0 + 60 * MIN);
    expect(w.outages().map((o) => [o.status, o.customers_affected])).toEqual([
      ['OPEN', 2],
      ['UPDATED', 1],
      ['RESTORED', 0],
    ]);
    expect(w.outages()[2]!.restored_at).toBe(T0 + 40 * MIN);
    expect(w.statusOf(meterId('G1', 7))).toMatchObject({ state: 'ENERGIZED', outage_id: null });
  });
});

describe('momentaries', () => {
  it('an interruption restored before confirmation is never OPEN but recorded as momentary', () => {
    const w = new World([{ id: 'G1', meters: 100 }])
      .feed([...gasps('G1', range(0, 100), T0), ...restores('G1', sample(range(0, 100), 0.5), T0 + 90_000)])
      .until(T0 + 2 * DELAY);
    expect(w.outages()).toEqual([]);
    expect(w.momentaries()).toHaveLength(1);
    expect(w.momentaries()[0]).toMatchObject({
      scope: 'GARDU',
      status: 'RESTORED',
      gardu_id: 'G1',
      region: 'BALI',
      ulp: 'ULP-DENPASAR',
      started_at: T0,
      restored_at: T0 + 90_000,
      customers_affected: 100,
    });
    expect(w.statusOf(meterId('G1', 0))).toMatchObject({ state: 'ENERGIZED' });
  });

  it('a single meter blinking is a momentary METER interruption', () => {
    const w = new World([{ id: 'G1', meters: 100 }])
      .feed([...gasps('G1', [4], T0), ...restores('G1', [4], T0 + 10_000)])
      .until(T0 + DELAY);
    expect(w.outages()).toEqual([]);
    expect(w.momentaries().map((m) => m.scope)).toEqual(['METER']);
  });

  it('an interruption just longer than the delay is sustained', () => {
    const w = new World([{ id: 'G1', meters: 50 }])
      .feed([...gasps('G1', range(0, 50), T0), ...restores('G1', [1], T0 + DELAY + 1000)])
      .until(T0 + DELAY + 2000);
    expect(w.outages().map((o) => o.status)).toEqual(['OPEN', 'RESTORED']);
    expect(w.momentaries()).toEqual([]);
  });
});

describe('restoration', () => {
  it('a power restore restores the gardu; meters still dark at the next read become a nested METER outage', () => {
    const g = 'G1';
    const back = T0 + 30 * MIN;
    const next = Math.ceil(back / (15 * MIN)) * 15 * MIN;
    const w = new World([{ id: g, meters: 50 }])
      .feed([
        ...gasps(g, range(0, 50), T0),
        ...restores(g, sample(range(0, 50), 0.4), back),
        ...reads(g, range(2, 50), next),
      ])
      .until(next + 10 * MIN);
    const latest = w.latest();
    const gardu = latest.get(garduOutageId(g, T0))!;
    expect(gardu).toMatchObject({ status: 'RESTORED', restored_at: back });
    const nested = [...latest.values()].find((o) => o.scope === 'METER')!;
    expect(nested).toMatchObject({
      status: 'OPEN',
      parent_outage_id: gardu.outage_id,
      meter_ids: [meterId(g, 0), meterId(g, 1)],
      started_at: T0,
    });
    expect(w.statusOf(meterId(g, 0))).toMatchObject({ state: 'OUTAGE', outage_id: nested.outage_id });
    expect(w.statusOf(meterId(g, 9))).toMatchObject({ state: 'ENERGIZED' });
  });

  it('reads that resume restore the gardu when no power-restore message arrives', () => {
    const g = 'G1';
    const w = new World([{ id: g, meters: 50 }])
      .feed([...gasps(g, range(0, 50), T0), ...reads(g, range(0, 50), BOUNDARY + 30 * MIN)])
      .until(BOUNDARY + 60 * MIN);
    expect([...w.latest().values()].map((o) => [o.scope, o.status, o.restored_at])).toEqual([
      ['GARDU', 'RESTORED', BOUNDARY + 30 * MIN],
    ]);
  });

  it('a late last gasp of an open gardu outage is counted (UPDATED)', () => {
    const w = new World([{ id: 'G1', meters: 50 }], { ...defaultDetectorConfig })
      .feed(gasps('G1', range(0, 40), T0))
      .until(T0 + DELAY)
      .feed(gasps('G1', [45], T0 + DELAY + 1000));
    expect(w.outages().map((o) => [o.status, o.last_gasps])).toEqual([
      ['OPEN', 40],
      ['UPDATED', 41],
    ]);
  });
});

describe('feeder roll-up', () => {
  const specs = ['A', 'B', 'C', 'D', 'E'].map((id) => ({ id, meters: 30, feeder: 'F7' }));

  it('several gardu of one feeder out together get a FEEDER parent', () => {
    const out = ['A', 'B', 'C', 'D'];
    const w = new World(specs)
      .feed(out.flatMap((g, i) => gasps(g, range(0, 30), T0 + i * 2000)))
      .until(T0 + DELAY + MIN);
    const latest = [...w.latest().values()];
    const feeder = latest.find((o) => o.scope === 'FEEDER')!;
    expect(feeder).toMatchObject({
      status: 'UPDATED',
      feeder_id: 'F7',
      gardu_id: null,
      started_at: T0,
      customers_total: 150,
      customers_affected: 120,
      last_gasps: 120,
    });
    const gardus = latest.filter((o) => o.scope === 'GARDU');
    expect(gardus.map((o) => o.gardu_id).sort()).toEqual(out);
    expect(gardus.every((o) => o.parent_outage_id === feeder.outage_id)).toBe(true);
    expect(w.outages().filter((o) => o.scope === 'FEEDER' && o.status === 'OPEN')).toHaveLength(1);
  });

  it('the FEEDER outage is RESTORED when its last gardu is', () => {
    const out = ['A', 'B', 'C'];
    const back = T0 + 40 * MIN;
    const inputs = out.flatMap((g, i) => [
      ...gasps(g, range(0, 30), T0 + i * 1000),
      ...restores(g, range(0, 30), back + i * 1000),
    ]);
    const w = new World(specs).feed(inputs).until(back + 30 * MIN);
    const feeder = [...w.latest().values()].find((o) => o.scope === 'FEEDER')!;
    expect(feeder).toMatchObject({ status: 'RESTORED', restored_at: back + 2000, customers_affected: 0 });
  });

  it('one gardu alone is not a feeder outage', () => {
    const w = new World(specs).feed(gasps('A', range(0, 30), T0)).until(T0 + DELAY);
    expect(w.outages().map((o) => o.scope)).toEqual(['GARDU']);
  });
});

describe('tusbung and customer-side causes', () => {
  const g = 'G1';
  const disconnect = (i: number, at: number) =>
    event(meterId(g, i), 'RELAY_OPENED', at, { relay: 'OPEN', cause: 'REMOTE_DISCONNECT' });

  it('a remote disconnection is DISCONNECTED, and its last gasp alone opens nothing', () => {
    const w = new World([{ id: g, meters: 50 }])
      .feed([disconnect(1, T0 - MIN), event(meterId(g, 1), 'LAST_GASP', T0, { relay: 'OPEN' })])
      .until(T0 + 2 * DELAY);
    expect(w.outages()).toEqual([]);
    expect(w.momentaries()).toEqual([]);
    expect(w.statusOf(meterId(g, 1))).toMatchObject({
      state: 'DISCONNECTED',
      relay: 'OPEN',
      outage_id: null,
    });
  });

  it('during a gardu outage disconnected customers are tusbung_excluded, not affected', () => {
    const inputs = [disconnect(1, T0 - 10 * MIN), disconnect(2, T0 - 9 * MIN), ...gasps(g, range(0, 50), T0)];
    const w = new World([{ id: g, meters: 50 }]).feed(inputs).until(T0 + DELAY);
    expect(w.outages()[0]).toMatchObject({
      scope: 'GARDU',
      customers_total: 50,
      customers_affected: 48,
      tusbung_excluded: 2,
      last_gasps: 50,
    });
    expect(w.statusOf(meterId(g, 1))).toMatchObject({
      state: 'DISCONNECTED',
      outage_id: w.outages()[0]!.outage_id,
    });
  });

  it('a tusbung campaign during an outage updates the count', () => {
    const w = new World([{ id: g, meters: 50 }])
      .feed(gasps(g, range(0, 50), T0))
      .until(T0 + DELAY)
      .feed([disconnect(3, T0 + DELAY + MIN)]);
    expect(w.outages().map((o) => [o.status, o.customers_affected, o.tusbung_excluded])).toEqual([
      ['OPEN', 50, 0],
      ['UPDATED', 49, 1],
    ]);
  });

  it('reconnect enabled means the customer must press the buttons; the button closes the relay', () => {
    const m = meterId(g, 4);
    const w = new World([{ id: g, meters: 10 }]).feed([
      disconnect(4, T0),
      event(m, 'RECONNECT_ENABLED', T0 + MIN, { relay: 'OPEN' }),
    ]);
    expect(w.statusOf(m)).toMatchObject({ state: 'RECONNECT_ENABLED', relay: 'OPEN' });
    w.feed([event(m, 'RELAY_CLOSED', T0 + 2 * MIN, { relay: 'CLOSED', cause: 'BUTTON' })]);
    expect(w.statusOf(m)).toMatchObject({ state: 'ENERGIZED', relay: 'CLOSED', since: T0 + 2 * MIN });
  });

  it('a power-limit trip is customer-side: POWER_LIMIT_TRIP, no outage', () => {
    const m = meterId(g, 5);
    const w = new World([{ id: g, meters: 10 }])
      .feed([event(m, 'RELAY_OPENED', T0, { relay: 'OPEN', cause: 'POWER_LIMIT_TRIP' })])
      .until(T0 + 2 * DELAY);
    expect(w.outages()).toEqual([]);
    expect(w.statusOf(m)).toMatchObject({ state: 'POWER_LIMIT_TRIP', relay: 'OPEN' });
  });

  it('a read with an open relay the detector did not know about shows UNKNOWN, a closed one fixes it', () => {
    const m = meterId(g, 6);
    const w = new World([{ id: g, meters: 10 }]).feed([read(m, BOUNDARY, 'OPEN')]);
    expect(w.statusOf(m)).toMatchObject({ state: 'UNKNOWN', relay: 'OPEN' });
    w.feed([read(m, BOUNDARY + 15 * MIN, 'CLOSED')]);
    expect(w.statusOf(m)).toMatchObject({ state: 'ENERGIZED', relay: 'CLOSED' });
  });
});

describe('idempotence and recovery', () => {
  it('a duplicated event_id changes nothing', () => {
    const inputs = [...gasps('G1', range(0, 30), T0), ...restores('G1', [0], T0 + 30 * MIN)];
    const once = new World([{ id: 'G1', meters: 30 }]).feed(inputs).until(T0 + 2 * 60 * MIN);
    const twice = new World([{ id: 'G1', meters: 30 }]).feed([...inputs, ...inputs]).until(T0 + 2 * 60 * MIN);
    expect(twice.out).toEqual(once.out);
  });

  it('gives the same outages whether timers fire often or rarely (replay speed)', () => {
    const inputs = [
      ...gasps('G1', range(0, 30), T0),
      ...gasps('G2', [1], T0 + 5000),
      ...restores('G1', [0], T0 + 30 * MIN),
    ];
    const specs = [
      { id: 'G1', meters: 30 },
      { id: 'G2', meters: 30 },
    ];
    const rare = new World(specs).feed(inputs).until(T0 + 3 * 60 * MIN);
    const often = new World(specs);
    for (let t = T0 - MIN; t < T0 + 3 * 60 * MIN; t += 7000)
      often.feed(inputs.filter((i) => time(i) >= t && time(i) < t + 7000)).until(t + 6999);
    often.until(T0 + 3 * 60 * MIN);
    expect(often.out).toEqual(rare.out);
  });

  it('a snapshot taken mid-outage and loaded elsewhere continues exactly', () => {
    const inputs = [...gasps('G1', range(0, 30), T0), ...restores('G1', [0], T0 + 30 * MIN)];
    const before = inputs.slice(0, 20);
    const after = inputs.slice(20);
    const whole = new World([{ id: 'G1', meters: 30 }]).feed(inputs).until(T0 + 2 * 60 * MIN);
    const first = new World([{ id: 'G1', meters: 30 }]).feed(before);
    const snap = decodeSnapshot(encodeSnapshot(snapshotGardu(first.st, 'G1')!));
    const second = new World([{ id: 'G1', meters: 30 }]);
    Object.assign(second, { st: newDetectorState() });
    loadGardu(second.st, snap);
    second.feed(after).until(T0 + 2 * 60 * MIN);
    expect([...first.out, ...second.out]).toEqual(whole.out);
  });
});

function time(i: { kind: string; value: { occurred_at?: number; read_at?: number } }): number {
  return i.value.occurred_at ?? i.value.read_at!;
}

describe('feeder momentaries', () => {
  it('a blink of a whole feeder is one FEEDER momentary with the gardu as children', () => {
    const specs = ['A', 'B', 'C', 'D'].map((id) => ({ id, meters: 20, feeder: 'F9' }));
    const inputs = specs.flatMap((s, i) => [
      ...gasps(s.id, range(0, 20), T0 + i * 300),
      ...restores(s.id, [0, 1], T0 + 20_000 + i * 300),
    ]);
    const w = new World(specs).feed(inputs).until(T0 + 2 * DELAY);
    const top = w.momentaries().filter((m) => m.parent_outage_id === null);
    expect(top).toHaveLength(1);
    expect(top[0]).toMatchObject({ scope: 'FEEDER', feeder_id: 'F9', started_at: T0, customers_total: 80 });
    expect(
      w
        .momentaries()
        .filter((m) => m.scope === 'GARDU')
        .every((m) => m.parent_outage_id === top[0]!.outage_id),
    ).toBe(true);
    expect(w.outages()).toEqual([]);
  });
});
