import { heapPush } from '@ami/lib';
import { earlier, type DetectorState, type FeederOutage, type GarduState } from './state.js';

/** Everything needed to rebuild one gardu after a crash or rebalance (JSON). */
export interface GarduSnapshot {
  gardu: GarduState;
  feeders: FeederOutage[];
}

/**
 * `byChild`: the index of feedersByChild, built once when many gardu are snapshotted at once
 * (scanning every feeder outage for each gardu cost 903 lookups a snapshot in a whole-fleet blackout).
 */
export function snapshotGardu(
  st: DetectorState,
  garduId: string,
  byChild: ReadonlyMap<string, FeederOutage[]> = feedersByChild(st),
): GarduSnapshot | null {
  const g = st.gardus.get(garduId);
  if (!g) return null;
  return { gardu: g, feeders: byChild.get(garduId) ?? [] };
}

/** The feeder outages each gardu is a child of. */
export function feedersByChild(st: DetectorState): Map<string, FeederOutage[]> {
  const byChild = new Map<string, FeederOutage[]>();
  for (const f of st.feeders.values())
    for (const garduId in f.children) {
      const list = byChild.get(garduId);
      if (list) list.push(f);
      else byChild.set(garduId, [f]);
    }
  return byChild;
}

export function loadGardu(st: DetectorState, snap: GarduSnapshot): void {
  st.gardus.set(snap.gardu.garduId, snap.gardu);
  if (snap.gardu.statusesOwedSince !== undefined) st.owing.add(snap.gardu.garduId);
  for (const inc of snap.gardu.incidents) {
    if (inc.dueAt !== null)
      heapPush(st.timers, { dueAt: inc.dueAt, garduId: snap.gardu.garduId, key: inc.key }, earlier);
  }
  for (const f of snap.feeders) {
    const known = st.feeders.get(f.feederId);
    if (!known || known.rev < f.rev) st.feeders.set(f.feederId, f);
  }
}

export function dropGardu(st: DetectorState, garduId: string): void {
  st.gardus.delete(garduId);
  st.dirty.delete(garduId);
  st.owing.delete(garduId);
}
