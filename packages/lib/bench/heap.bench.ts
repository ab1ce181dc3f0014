/**
 * npm run bench:heap
 *
 * The one heap (`heapPush`/`heapPop` over a plain array of entries) in the
 * simulator's pattern of use, beside the baseline it replaced in the same run:
 * the simulator's own class over parallel arrays (keys, insertion sequence,
 * items; services/simulator/src/heap.ts until issue 22, kept below as the
 * baseline). The workload is the simulator's held-back records: each minute
 * of event time pushes BENCH_PER_STEP records due within BENCH_DELAY_MS, then
 * pops everything due. Prints operations/s for both, best of 3, and the ratio.
 *
 * Env: BENCH_STEPS (2000), BENCH_PER_STEP (500), BENCH_DELAY_MS (600000).
 */
import { heapPop, heapPush } from '../src/heap.js';

const STEPS = Number(process.env.BENCH_STEPS ?? 2000);
const PER_STEP = Number(process.env.BENCH_PER_STEP ?? 500);
const DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 600_000);
const STEP_MS = 60_000;

/** Baseline: the simulator's heap before issue 22 (parallel arrays, FIFO ties). */
class ParallelArrayHeap<T> {
  private readonly keys: number[] = [];
  private readonly seqs: number[] = [];
  private readonly items: T[] = [];
  private seq = 0;
  get size(): number {
    return this.items.length;
  }
  peekKey(): number | undefined {
    return this.keys[0];
  }
  push(key: number, item: T): void {
    this.keys.push(key);
    this.seqs.push(this.seq++);
    this.items.push(item);
    this.up(this.items.length - 1);
  }
  pop(): T | undefined {
    const n = this.items.length;
    if (n === 0) return undefined;
    const top = this.items[0]!;
    this.keys[0] = this.keys[n - 1]!;
    this.seqs[0] = this.seqs[n - 1]!;
    this.items[0] = this.items[n - 1]!;
    this.keys.pop();
    this.seqs.pop();
    this.items.pop();
    if (this.items.length > 0) this.down(0);
    return top;
  }
  private less(i: number, j: number): boolean {
    return this.keys[i]! < this.keys[j]! || (this.keys[i] === this.keys[j] && this.seqs[i]! < this.seqs[j]!);
  }
  private swap(i: number, j: number): void {
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
    [this.seqs[i], this.seqs[j]] = [this.seqs[j]!, this.seqs[i]!];
    [this.items[i], this.items[j]] = [this.items[j]!, this.items[i]!];
  }
  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) return;
      this.swap(i, p);
      i = p;
    }
  }
  private down(i: number): void {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.items.length && this.less(l, m)) m = l;
      if (r < this.items.length && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}

interface Due<T> {
  at: number;
  seq: number;
  item: T;
}
const dueFirst = <T>(a: Due<T>, b: Due<T>): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

/** Due offsets drawn once, so both heaps see the same keys. */
const offsets = Float64Array.from({ length: STEPS * PER_STEP }, (_, i) =>
  Math.floor((((i * 2654435761) % 4294967296) / 4294967296) * DELAY_MS),
);
const record = { meter_id: 'M', read_at: 0 };

function runBaseline(): number {
  const h = new ParallelArrayHeap<typeof record>();
  let popped = 0;
  for (let s = 0, k = 0; s < STEPS; s++) {
    const t = s * STEP_MS;
    for (let i = 0; i < PER_STEP; i++) h.push(t + offsets[k++]!, record);
    while (h.size > 0 && h.peekKey()! <= t + STEP_MS) {
      h.pop();
      popped++;
    }
  }
  return popped;
}

function runShared(): number {
  const h: Due<typeof record>[] = [];
  let seq = 0;
  let popped = 0;
  for (let s = 0, k = 0; s < STEPS; s++) {
    const t = s * STEP_MS;
    for (let i = 0; i < PER_STEP; i++)
      heapPush(h, { at: t + offsets[k++]!, seq: seq++, item: record }, dueFirst);
    while (h.length > 0 && h[0]!.at <= t + STEP_MS) {
      heapPop(h, dueFirst);
      popped++;
    }
  }
  return popped;
}

/** Pushes and pops per second, best of 3 after a warm-up run. */
function opsPerSecond(run: () => number): number {
  run();
  let best = 0;
  for (let round = 0; round < 3; round++) {
    const t0 = process.hrtime.bigint();
    const popped = run();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.max(best, (STEPS * PER_STEP + popped) / s);
  }
  return best;
}

const baseline = opsPerSecond(runBaseline);
const shared = opsPerSecond(runShared);
const fmt = (n: number): string => `${(n / 1e6).toFixed(2)} M ops/s`;
console.log(`heap bench: ${STEPS} steps x ${PER_STEP} records, due within ${DELAY_MS / 1000} s`);
console.log(`  baseline (parallel arrays, before issue 22): ${fmt(baseline)}`);
console.log(`  shared heap (@ami/lib heapPush/heapPop):      ${fmt(shared)}`);
console.log(`  ratio shared / baseline: ${(shared / baseline).toFixed(2)}`);
