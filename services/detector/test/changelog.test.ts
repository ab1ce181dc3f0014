import { describe, expect, it } from 'vitest';
import { defaultDetectorConfig } from '../src/config.js';
import { decodeSnapshot, encodeSnapshot, garduRecord } from '../src/changelog.js';
import { snapshotGardu, type GarduSnapshot } from '../src/rules.js';
import { T0, World, event, gasps, meterId, range } from './world.js';

const DELAY = defaultDetectorConfig.CONFIRM_DELAY_MS;

/** JSON of the state as version 1 wrote it: the remembered event ids as an object. */
const v1Json = (x: unknown): string =>
  JSON.stringify(x, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v));
/** The facts as versions 2 and 3 wrote them: a row per meter. */
const factsRows = (snap: GarduSnapshot): unknown[] =>
  Object.entries(snap.gardu.facts).map(([m, f]) => [
    m,
    f.relay,
    f.cause,
    f.reconnectEnabled ? 1 : 0,
    f.relaySince,
    ...(f.shown ? [f.shown.state, f.shown.outageId, f.shown.since] : []),
  ]);
/** Version 3: a row per meter, the event ids beside the facts. */
const v3Json = (snap: GarduSnapshot): string => {
  const { facts: _f, seen, ...gardu } = snap.gardu;
  return JSON.stringify({
    v: 3,
    gardu,
    seen: Object.fromEntries(seen),
    facts: factsRows(snap),
    feeders: snap.feeders,
  });
};
/** Plain data as JSON sees it (key order aside), to compare a decoded snapshot with the state it came from. */
const plain = (x: unknown): unknown => JSON.parse(v1Json(x));

/** A gardu mid-storm: every meter gasped, the outage confirmed, two tusbung meters (one reconnect-enabled). */
function stormSnapshot(): GarduSnapshot {
  const w = new World([{ id: 'G1', meters: 133 }]).feed([
    event(meterId('G1', 0), 'RELAY_OPENED', T0 - 60_000, { cause: 'REMOTE_DISCONNECT' }),
    event(meterId('G1', 1), 'RELAY_OPENED', T0 - 60_000, { cause: 'REMOTE_DISCONNECT' }),
    event(meterId('G1', 1), 'RECONNECT_ENABLED', T0 - 30_000, { cause: 'REMOTE_DISCONNECT' }),
    ...gasps('G1', range(2, 133), T0, 20),
  ]);
  w.until(T0 + DELAY);
  return snapshotGardu(w.st, 'G1')!;
}

describe('state topic: gardu snapshots', () => {
  it('decode(encode(snapshot)) is the snapshot, every kind of facts included', () => {
    const snap = stormSnapshot();
    const facts = Object.values(snap.gardu.facts);
    // The fixture has what the encoding must carry: tusbung, reconnect enabled, shown statuses.
    expect(facts.some((f) => f.relay === 'OPEN' && f.cause === 'REMOTE_DISCONNECT')).toBe(true);
    expect(facts.some((f) => f.reconnectEnabled)).toBe(true);
    expect(facts.filter((f) => f.shown?.outageId).length).toBeGreaterThan(100);
    expect(snap.gardu.seen.size).toBe(134); // every event of the fixture
    const decoded = decodeSnapshot(encodeSnapshot(snap));
    expect(decoded.gardu.seen).toEqual(snap.gardu.seen);
    expect(plain(decoded)).toEqual(plain(snap));
  });

  it('keeps facts without a shown status, a null outage id and ids that need escaping', () => {
    const snap: GarduSnapshot = {
      gardu: {
        garduId: 'G"1',
        facts: {
          'M"1\\x': { relay: 'OPEN', cause: 'POWER_LIMIT_TRIP', reconnectEnabled: false, relaySince: 5 },
          'M\u00e9\n2': {
            relay: 'CLOSED',
            cause: 'NONE',
            reconnectEnabled: false,
            relaySince: 0,
            shown: { state: 'ENERGIZED', outageId: null, since: 7 },
          },
        },
        incidents: [],
        seen: new Map([['e"1', 3]]),
      },
      feeders: [],
    };
    expect(decodeSnapshot(encodeSnapshot(snap))).toEqual(snap);
  });

  it('reads snapshots written before version 2 (plain JSON)', () => {
    const snap = stormSnapshot();
    const decoded = decodeSnapshot(v1Json(snap));
    expect(decoded.gardu.seen).toEqual(snap.gardu.seen);
    expect(plain(decoded)).toEqual(plain(snap));
  });

  it('reads version 2 snapshots (the event ids inside the gardu)', () => {
    const snap = stormSnapshot();
    const { seen, ...v3 } = JSON.parse(v3Json(snap)) as { seen: unknown; gardu: object };
    const v2 = JSON.stringify({ ...v3, v: 2, gardu: { ...v3.gardu, seen } });
    const decoded = decodeSnapshot(v2);
    expect(decoded.gardu.seen).toEqual(snap.gardu.seen);
    expect(plain(decoded)).toEqual(plain(snap));
  });

  it('reads version 3 snapshots (a row per meter)', () => {
    const snap = stormSnapshot();
    const decoded = decodeSnapshot(v3Json(snap));
    expect(decoded.gardu.seen).toEqual(snap.gardu.seen);
    expect(plain(decoded)).toEqual(plain(snap));
  });

  it('reads version 4 snapshots (incidents without the fields of the reliability counts)', () => {
    const snap = stormSnapshot();
    const v5 = JSON.parse(encodeSnapshot(snap)) as { v: number; gardu: { incidents: object[] } };
    const old = ['back', 'returns', 'countedElsewhere', 'parentRestoredAt', 'bulkStartedAt'];
    const incidents = v5.gardu.incidents.map((i) =>
      Object.fromEntries(Object.entries(i).filter(([k]) => !old.includes(k))),
    );
    const decoded = decodeSnapshot(JSON.stringify({ ...v5, v: 4, gardu: { ...v5.gardu, incidents } }));
    const [inc] = decoded.gardu.incidents;
    expect(inc).toMatchObject({
      countedElsewhere: [],
      parentRestoredAt: null,
      bulkStartedAt: null,
      returns: {},
    });
    expect(inc!.back).toEqual(inc!.alive);
    expect(plain(decodeSnapshot(encodeSnapshot(decoded)))).toEqual(plain(decoded));
  });

  it('writes the meters that show one confirmed outage as one run, each read back as its own facts sharing one shown status', () => {
    const snap = stormSnapshot();
    const written = JSON.parse(encodeSnapshot(snap)) as { facts: Array<[string[], ...unknown[]]> };
    // The 131 meters that gasped show the outage since its confirmation; the two tusbung meters differ.
    expect(written.facts.map((run) => run[0].length).sort((a, b) => b - a)).toEqual([131, 1, 1]);
    const decoded = decodeSnapshot(encodeSnapshot(snap));
    const [a, b] = [meterId('G1', 2), meterId('G1', 3)];
    decoded.gardu.facts[a]!.relay = 'OPEN';
    expect(decoded.gardu.facts[b]!.relay).toBe(snap.gardu.facts[b]!.relay);
    // Their shown status is one immutable object (the rules replace it, never change it in place).
    expect(decoded.gardu.facts[a]!.shown).toBe(decoded.gardu.facts[b]!.shown);
  });

  it('writes a storm gardu in well under the plain JSON size; a dropped gardu is a tombstone', () => {
    const snap = stormSnapshot();
    expect(encodeSnapshot(snap).length).toBeLessThan(0.7 * v1Json(snap).length);
    expect(encodeSnapshot(snap).length).toBeLessThan(0.8 * v3Json(snap).length);
    expect(garduRecord(3, 'G1', null)).toEqual({ partition: 3, key: 'g:G1', value: null });
  });
});
