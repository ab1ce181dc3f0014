import { describe, expect, it } from 'vitest';
import { defaultDetectorConfig } from '../src/config.js';
import { decodeSnapshot, encodeSnapshot, garduRecord } from '../src/changelog.js';
import { snapshotGardu, type GarduSnapshot } from '../src/rules.js';
import { T0, World, event, gasps, meterId, range } from './world.js';

const DELAY = defaultDetectorConfig.CONFIRM_DELAY_MS;

/** Plain data as JSON sees it (key order aside), to compare a decoded snapshot with the state it came from. */
const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

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
    expect(decodeSnapshot(encodeSnapshot(snap))).toEqual(plain(snap));
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
        seen: { 'e"1': 3 },
      },
      feeders: [],
    };
    expect(decodeSnapshot(encodeSnapshot(snap))).toEqual(snap);
  });

  it('reads snapshots written before version 2 (plain JSON)', () => {
    const snap = stormSnapshot();
    expect(decodeSnapshot(JSON.stringify(snap))).toEqual(plain(snap));
  });

  it('writes a storm gardu in well under the plain JSON size; a dropped gardu is a tombstone', () => {
    const snap = stormSnapshot();
    expect(encodeSnapshot(snap).length).toBeLessThan(0.7 * JSON.stringify(snap).length);
    expect(garduRecord(3, 'G1', null)).toEqual({ partition: 3, key: 'g:G1', value: null });
  });
});
