import { heapPush } from '../heap.js';
import { earlier, type DetectorState, type FeederOutage, type GarduState } from './state.js';

/** Everything needed to rebuild one gardu after a crash or rebalance (JSON). */
export interface GarduSnapshot {
  gardu: GarduState;
  feeders: FeederOutage[];
}

export function snapshotGardu(st: DetectorState, garduId: string): GarduSnapshot | null {
  const g = st.gardus.get(garduId);
  if (!g) return null;
  const feeders = [...st.feeders.values()].filter((f) => f.children[garduId] !== undefined);
  return { gardu: g, feeders };
}

export function loadGardu(st: DetectorState, snap: GarduSnapshot): void {
  st.gardus.set(snap.gardu.garduId, snap.gardu);
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
}
