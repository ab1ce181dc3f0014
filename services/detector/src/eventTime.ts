import { heapPop, heapPush } from './heap.js';

/**
 * Event time at the edge: a watermark over the consumed topic-partitions,
 * a buffer that releases inputs in event-time order once the watermark passes
 * them, and the offsets that are safe to commit. Pure: the wall clock is a
 * parameter.
 *
 * - Watermark = min over inputs that are not idle of (newest event time -
 *   allowed lateness). An input is idle only once it has been caught up AND
 *   quiet for `idleAdvanceMs` (wall clock): reaching the end of a partition is
 *   not enough, since under a fast replay more data lands there a moment
 *   later and would be behind the watermark (late). When every input is idle,
 *   event time follows the wall clock from (newest event time seen - allowed
 *   lateness).
 * - An input at or before the watermark is late: the edge sends it to the DLQ
 *   (reason `late`), it is never silently dropped.
 * - The committed offset of a topic-partition is its oldest buffered input, so
 *   a restart replays what was buffered. Inputs consumed before the last saved
 *   state and already released (offset < consumedUpTo, time <= releasedUpTo)
 *   are recognised and skipped on replay.
 */

export interface GateConfig {
  allowedLatenessMs: number;
  idleAdvanceMs: number;
}

/** What is saved per topic-partition with the state, in the same transaction as the offsets. */
export interface TpMeta {
  consumedUpTo: number;
  maxTime: number;
  releasedUpTo: number;
}

export interface Held<V> {
  t: number;
  tp: string;
  offset: number;
  value: V;
  released: boolean;
}

interface TpState<V> {
  maxTime: number;
  consumedUpTo: number;
  caughtUp: boolean;
  /** Wall time of the last arrival or of becoming caught up (idleness is measured from it). */
  quietSinceWall: number;
  /** Replay guard from the saved state. */
  saved: TpMeta | null;
  /** Buffered inputs in offset order (head advances past released ones). */
  queue: Held<V>[];
  head: number;
}

export type Offer = 'buffered' | 'late' | 'replayed';

export class EventTimeGate<V> {
  private readonly tps = new Map<string, TpState<V>>();
  private readonly heap: Held<V>[] = [];
  private released = Number.NEGATIVE_INFINITY;
  private lastArrivalWall = 0;

  constructor(private readonly cfg: GateConfig) {}

  get watermark(): number {
    return this.released;
  }

  get buffered(): number {
    return this.heap.length;
  }

  /** Start tracking a topic-partition, optionally from its saved meta. */
  track(tp: string, caughtUp: boolean, saved: TpMeta | null = null): void {
    this.tps.set(tp, {
      maxTime: saved?.maxTime ?? Number.NEGATIVE_INFINITY,
      consumedUpTo: saved?.consumedUpTo ?? 0,
      caughtUp,
      quietSinceWall: 0,
      saved,
      queue: [],
      head: 0,
    });
    if (saved) this.released = Math.max(this.released, saved.releasedUpTo);
  }

  /** Stop tracking (partition revoked): its buffered inputs are dropped; the new owner replays them. */
  untrack(tp: string): void {
    if (!this.tps.delete(tp)) return;
    const keep = this.heap.filter((h) => h.tp !== tp);
    this.heap.length = 0;
    for (const h of keep) heapPush(this.heap, h, before);
  }

  tracked(tp: string): boolean {
    return this.tps.has(tp);
  }

  offer(tp: string, offset: number, t: number, value: V, nowWall: number): Offer {
    const s = this.tps.get(tp);
    if (!s) throw new Error(`topic-partition ${tp} is not tracked`);
    s.consumedUpTo = Math.max(s.consumedUpTo, offset + 1);
    this.lastArrivalWall = nowWall;
    s.quietSinceWall = Math.max(s.quietSinceWall, nowWall);
    if (s.saved && offset < s.saved.consumedUpTo && t <= s.saved.releasedUpTo) return 'replayed';
    if (t <= this.released) return 'late';
    s.maxTime = Math.max(s.maxTime, t);
    const held: Held<V> = { t, tp, offset, value, released: false };
    s.queue.push(held);
    heapPush(this.heap, held, before);
    return 'buffered';
  }

  /** `nowWall`: when it was seen caught up (idleness runs from the later of this and the last arrival). */
  setCaughtUp(tp: string, caughtUp: boolean, nowWall?: number): void {
    const s = this.tps.get(tp);
    if (!s) return;
    if (caughtUp && !s.caughtUp && nowWall !== undefined)
      s.quietSinceWall = Math.max(s.quietSinceWall, nowWall);
    s.caughtUp = caughtUp;
  }

  /** Caught up and quiet for `idleAdvanceMs`: no longer holds the watermark back. */
  private idle(s: TpState<V>, nowWall: number): boolean {
    return s.caughtUp && nowWall - s.quietSinceWall >= this.cfg.idleAdvanceMs;
  }

  /** The watermark the inputs allow now (never below the released one). */
  nextWatermark(nowWall: number): number {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let allIdle = true;
    for (const s of this.tps.values()) {
      max = Math.max(max, s.maxTime);
      if (!this.idle(s, nowWall)) {
        allIdle = false;
        min = Math.min(min, s.maxTime);
      }
    }
    let w = (allIdle ? max : min) - this.cfg.allowedLatenessMs;
    const idleFor = nowWall - this.lastArrivalWall;
    if (allIdle && this.cfg.idleAdvanceMs > 0 && idleFor >= this.cfg.idleAdvanceMs && Number.isFinite(max)) {
      // Quiet inputs: event time goes on at wall-clock speed, the lateness still honoured.
      w = Math.max(w, max - this.cfg.allowedLatenessMs + idleFor - this.cfg.idleAdvanceMs);
    }
    return Math.max(this.released, w);
  }

  /**
   * Release, in event-time order, the buffered inputs at or before `w`, at most
   * `limit` of them (a storm is committed in several transactions). Returns
   * false when some are left for the next call.
   */
  release(w: number, apply: (h: Held<V>) => void, limit = Number.POSITIVE_INFINITY): boolean {
    let n = 0;
    while (this.heap.length > 0 && this.heap[0]!.t <= w) {
      if (n++ >= limit) {
        // Everything before the next input's time is out; later arrivals before it are late.
        this.released = Math.max(this.released, this.heap[0]!.t - 1);
        return false;
      }
      const h = heapPop(this.heap, before);
      h.released = true;
      apply(h);
    }
    this.released = Math.max(this.released, w);
    return true;
  }

  /** The offset to commit: the oldest input still buffered, else the next to consume. */
  commitOffset(tp: string): number | undefined {
    const s = this.tps.get(tp);
    if (!s) return undefined;
    while (s.head < s.queue.length && s.queue[s.head]!.released) s.head++;
    if (s.head > 1024 && s.head * 2 > s.queue.length) {
      s.queue = s.queue.slice(s.head);
      s.head = 0;
    }
    return s.queue[s.head]?.offset ?? s.consumedUpTo;
  }

  meta(tp: string): TpMeta | undefined {
    const s = this.tps.get(tp);
    return s && { consumedUpTo: s.consumedUpTo, maxTime: s.maxTime, releasedUpTo: this.released };
  }

  topicPartitions(): string[] {
    return [...this.tps.keys()];
  }
}

/** Deterministic order: event time, then topic-partition, then offset. */
function before(a: Held<unknown>, b: Held<unknown>): boolean {
  if (a.t !== b.t) return a.t < b.t;
  if (a.tp !== b.tp) return a.tp < b.tp;
  return a.offset < b.offset;
}
