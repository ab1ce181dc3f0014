import { defaultDetectorConfig } from '../src/config.js';
import { encodeSnapshot } from '../src/changelog.js';
import { applyInput, advance, snapshotGardu, type Emission } from '../src/rules.js';
import { T0, World, event, meterId } from './world.js';

const G = 1500, M = 133;
const gardus = Array.from({ length: G }, (_, i) => ({ id: `G${String(i).padStart(4, '0')}`, meters: M, feeder: `F${i % 150}` }));
for (let run = 0; run < 4; run++) {
  const w = new World(gardus);
  const inputs = [];
  for (let k = 0; k < G * M; k++) {
    const g = k % G, m = Math.floor(k / G);
    inputs.push(event(meterId(gardus[g]!.id, m), 'LAST_GASP', T0 + Math.floor((k * 10_000) / (G * M))));
  }
  let tRules = 0, tSnap = 0, snaps = 0, bytes = 0;
  const snapshotDirty = () => {
    const t = performance.now();
    for (const id of w.st.dirty) { const s = snapshotGardu(w.st, id); if (s) { bytes += Buffer.from(encodeSnapshot(s)).length; snaps++; } }
    w.st.dirty.clear();
    tSnap += performance.now() - t;
  };
  for (let i = 0; i < inputs.length; i += 50_000) {
    const out: Emission[] = [];
    const t = performance.now();
    for (const x of inputs.slice(i, i + 50_000)) applyInput(w.ctx, w.st, x, out);
    tRules += performance.now() - t;
    snapshotDirty();
  }
  const tApply = tRules;
  let done = false;
  while (!done) {
    const out: Emission[] = [];
    const t = performance.now();
    done = advance(w.ctx, w.st, T0 + 10_000 + defaultDetectorConfig.CONFIRM_DELAY_MS, out, 50_000);
    tRules += performance.now() - t;
    snapshotDirty();
  }
  console.log(JSON.stringify({ run, applyMs: Math.round(tApply), confirmMs: Math.round(tRules - tApply), snapMs: Math.round(tSnap), snaps, MB: Math.round(bytes / 1e6), gardus: w.st.gardus.size }));
}
