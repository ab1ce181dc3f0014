/**
 * `npx tsx --expose-gc services/detector/bench/topologyMemory.ts`: the heap one detector instance
 * spends on the meters table (`Topology`), per meter, for sizing (docs/scaling.md). Every instance
 * reads the whole `ami.meters` topic, so this is paid per instance for the whole fleet.
 *
 * Loads BENCH_METERS (default 1,200,000) profiles shaped as the bench's (133 per gardu, 10 gardu per
 * feeder, ids as long as the simulator's), measures heap used after a full GC before and after, and
 * prints bytes per meter. One process, nothing else: no Kafka.
 */
import type { MeterProfile } from '@ami/lib';
import { Topology } from '../src/topology.js';

const METERS = Number(process.env.BENCH_METERS ?? 1_200_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc (npx tsx --expose-gc ...)');

function profile(i: number): MeterProfile {
  const g = Math.floor(i / 133);
  return {
    meter_id: `MTR${String(i).padStart(8, '0')}`,
    idpel: String(510000000000 + i),
    kdpm: i % 14 === 0 ? 'A' : 'R',
    phases: 1,
    tariff: 'R-1',
    daya_va: 1300,
    gardu_id: `GD${String(g).padStart(5, '0')}`,
    feeder_id: `PY${String(Math.floor(g / 10)).padStart(4, '0')}`,
    ulp: `ULP${Math.floor(g / 200)}`,
    region: 'JATIM',
    timezone: 'Asia/Jakarta',
    installed_at: 0,
  };
}

function heapUsed(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}

const before = heapUsed();
const topo = new Topology();
for (let i = 0; i < METERS; i++) {
  const p = profile(i);
  topo.apply(p.meter_id, p);
}
// The rules' per-gardu cache of AMI meters, as a decision fills it.
for (let g = 0; g * 133 < METERS; g++) topo.garduAmiMeters(`GD${String(g).padStart(5, '0')}`);
const after = heapUsed();
const perMeter = (after - before) / METERS;
console.log(
  `topology of ${METERS.toLocaleString()} meters (${topo.size.toLocaleString()} loaded): ${((after - before) / 1024 / 1024).toFixed(0)} MiB heap and array buffers, ${perMeter.toFixed(0)} bytes per meter`,
);
