import { AmiError, heapPop, heapPush } from '@ami/lib';

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
 * - A faulty meter clock must not move the watermark (`ClockGuard`, with
 *   `maxClockSkewMs`): an input whose event time is further ahead than the skew
 *   of both its Kafka record timestamp and the fleet's clock (the newest time
 *   reported by at least two meters) is a suspect. It is held but moves no
 *   clock until another meter confirms its time (a replay ahead of the wall
 *   clock moves every meter), else it leaves as `future-dated` (DLQ) after
 *   `futureConfirmMs` of wall clock (`expireSuspects`).
 * - The committed offset of a topic-partition is its oldest buffered input, so
 *   a restart replays what was buffered. Inputs consumed before the last saved
 *   state and already released (offset < consumedUpTo, time <= releasedUpTo)
 *   are recognised and skipped on replay. Until that replay is read again, the
 *   saved newest time does not move the watermark past what was released.
 * - Each topic-partition has its own floor: inputs at or before it are late there, whatever the
 *   instance's watermark. A partition handed over (a rebalance, a failover, a fenced zombie's
 *   replacement) arrives with the release of its last owner's commit, often behind this instance's
 *   watermark: that watermark then goes back to it, and every partition tracked already keeps the
 *   watermark it had reached as its floor. So the handed-over partition's inputs since its last
 *   commit are released in event-time order (its gardu are independent of the others'), not
 *   dead-lettered as late, and nothing released before is released again.
 * - Each tracked topic-partition has a position (the next offset it expects):
 *   an input below it was handled already and is skipped. A fetch that goes
 *   back (kafkajs after every rejoin, the raw fetch after a reassignment)
 *   would otherwise buffer inputs twice, and find those released since the
 *   last commit late.
 * - Scale-out (services/detector/README.md, "Scaling out"): an input placed on the wrong
 *   partition for its feeder is `pass`ed, not held: it moves its partition's event time (it is
 *   that input's traffic) and the edge forwards it to the repartition topic. Tracked with
 *   `upstream`, a partition of that topic is held back by the bounds every source partition's
 *   owner announced on it (`announce`), not by its own newest time: records forwarded into one
 *   partition from many source partitions are not in event-time order, and an owner that forwards
 *   slowly would find its records late. Each owner forwards only inputs after its own watermark
 *   (`ownWatermark`, over its source partitions only, so owners never wait on each other in a
 *   circle) and announces that watermark after them.
 */

/**
 * How long an unchanged end offset stands as proof of quiet when `idleAdvanceMs` is shorter (0 in
 * tests that drive time with the data): a few of the edge's end-offset polls.
 */
export const END_OFFSETS_FRESH_MS = 2_000;

export interface GateConfig {
  allowedLatenessMs: number;
  idleAdvanceMs: number;
  /**
   * Idleness also needs the broker's log end offset (`observeEnd`) unchanged
   * for `idleAdvanceMs`. Without it, a partition that the consumer's fetches
   * starve (others fill the fetch) looks quiet while its producer is busy, and
   * its records turn late once it is served again.
   */
  confirmIdleWithEndOffsets?: boolean;
  /**
   * Event-time ms per wall-clock ms while every input is idle (default 1: event time follows the
   * wall clock). A replay at N times real time sets N, so a quiet spell passes as fast as the
   * replay runs it and the same outages come out at any speed.
   */
  idleAdvanceRate?: number;
  /**
   * How far an input's event time may run ahead of its Kafka record timestamp and of the fleet's
   * clock before it is a suspect (undefined: no guard).
   */
  maxClockSkewMs?: number;
  /** Wall-clock ms a suspect waits for another meter to confirm its time (default 30 s). */
  futureConfirmMs?: number;
}

/** Where an input came from, for the clock guard: its meter and its Kafka record timestamp (NaN: none). */
export interface Evidence {
  meterId: string;
  kafkaTs: number;
}

/** What is saved per topic-partition with the state, in the same transaction as the offsets. */
export interface TpMeta {
  consumedUpTo: number;
  maxTime: number;
  releasedUpTo: number;
  /** The owner's own watermark (`ownWatermark`): inputs forwarded later come after it. Absent before scale-out. */
  forwardedUpTo?: number;
}

export interface Held<V> {
  t: number;
  tp: string;
  offset: number;
  value: V;
  released: boolean;
  /** Wall time it became a suspect (ahead of the fleet), until confirmed; undefined otherwise. */
  suspectSince?: number;
}

interface TpState<V> {
  maxTime: number;
  consumedUpTo: number;
  /** The next offset of this tracking: an input below it was handled already (a fetch that went back). */
  position: number;
  caughtUp: boolean;
  /** Wall time of the last arrival or of becoming caught up (idleness is measured from it). */
  quietSinceWall: number;
  /** Replay guard from the saved state. */
  saved: TpMeta | null;
  /** Inputs at or before it are late here (the watermark it had reached, or its saved release). */
  floor: number;
  /** Inputs at or before it may not be forwarded (the own watermark announced for it). */
  passFloor: number;
  /** The log end offset last seen on the broker, and when it was last seen unchanged. */
  lastEnd: number;
  endUnchangedWall: number;
  /** Buffered inputs in offset order (head advances past released ones). */
  queue: Held<V>[];
  head: number;
  /**
   * A repartition partition: its event time is the bounds announced on it per source
   * topic-partition (`announce`), not its records' newest time.
   */
  bounds: Map<string, number> | undefined;
}

/** `suspect`: held, ahead of the fleet's clock, until another meter confirms it or it expires. */
export type Offer = 'buffered' | 'late' | 'replayed' | 'suspect';
/** What `pass` says of an input that belongs elsewhere: forward it, it is late here, or it was handled before. */
export type Pass = 'forward' | 'late' | 'replayed';

/** The buffered inputs of one topic-partition at one event time, in offset order. */
interface Run<V> {
  s: TpState<V>;
  tp: string;
  items: Held<V>[];
  /** Index of the next item to release. */
  next: number;
  /** False when an offset arrived below the last one (not seen with kafkajs; sorted before release). */
  sorted: boolean;
}

/** The buffered inputs of one event time: runs in topic-partition order. */
interface Bucket<V> {
  t: number;
  runs: Run<V>[];
  /** The run of the last offer (consecutive offers are mostly of one topic-partition). */
  last: Run<V> | undefined;
}

export class EventTimeGate<V> {
  private readonly tps = new Map<string, TpState<V>>();
  /**
   * Buffered inputs by event time: release order (event time, topic-partition,
   * offset) is the order of `times` (a min-heap of the distinct buffered times),
   * then of a bucket's runs, then of a run's items. Inputs of a read boundary
   * share one time: buffering and releasing them is O(1) each, and sequential in memory.
   */
  private readonly buckets = new Map<number, Bucket<V>>();
  private readonly times: number[] = [];
  private count = 0;
  private lastBucket: Bucket<V> | undefined;
  private lastTp: string | undefined;
  private lastState: TpState<V> | undefined;
  private released = Number.NEGATIVE_INFINITY;
  /** The watermark over the source (not upstream) inputs alone, as last announced: inputs passed on come after it. */
  private ownReleased = Number.NEGATIVE_INFINITY;
  /** Every source topic-partition of the pipeline: an upstream partition waits for a bound from each. */
  private sources: readonly string[] = [];
  private lastArrivalWall = 0;
  private readonly clock: ClockGuard;
  /** Inputs ahead of the fleet waiting for confirmation (few: a faulty clock, a replay's first record of a boundary). */
  private suspects: Held<V>[] = [];
  private readonly suspectState = new Map<Held<V>, TpState<V>>();

  constructor(private readonly cfg: GateConfig) {
    this.clock = new ClockGuard(cfg.maxClockSkewMs, cfg.idleAdvanceRate ?? 1);
  }

  /** Inputs held as suspects (ahead of the fleet's clock, not confirmed yet). */
  get suspected(): number {
    return this.suspects.length;
  }

  get watermark(): number {
    return this.released;
  }

  get buffered(): number {
    return this.count;
  }

  /** The source topic-partitions (every reads and events partition) whose bounds an upstream input waits for. */
  expectSources(sources: readonly string[]): void {
    this.sources = sources;
  }

  /**
   * A bound announced on upstream input `tp` by the owner of `source`: what it forwards later from
   * there comes after `bound` (monotonic: an older announcement read later changes nothing).
   */
  announce(tp: string, source: string, bound: number): void {
    const bounds = this.tps.get(tp)?.bounds;
    if (bounds === undefined || !Number.isFinite(bound)) return;
    if (!(bounds.get(source)! >= bound)) bounds.set(source, bound);
  }

  /** No source input has had any input, and every one is idle. */
  private sourcesEmptyAndIdle(nowWall: number): boolean {
    for (const s of this.tps.values())
      if (s.bounds === undefined && (Number.isFinite(s.maxTime) || !this.idle(s, nowWall))) return false;
    return true;
  }

  /**
   * Start tracking a topic-partition, optionally from its saved meta, with inputs from `startOffset`
   * (where its fetch starts: the committed offset, else the earliest).
   */
  track(tp: string, caughtUp: boolean, saved: TpMeta | null = null, startOffset = 0, upstream = false): void {
    const releasedUpTo = saved?.releasedUpTo ?? Number.NEGATIVE_INFINITY;
    const forwardedUpTo = saved ? (saved.forwardedUpTo ?? saved.releasedUpTo) : Number.NEGATIVE_INFINITY;
    this.goBackTo(releasedUpTo, forwardedUpTo);
    this.tps.set(tp, {
      // The buffered inputs of the saved state are read again from the committed offset: until
      // then, the saved newest time may not take the watermark past what was released (those
      // inputs, offered after it moved, would be late).
      maxTime:
        saved === null
          ? Number.NEGATIVE_INFINITY
          : Math.min(saved.maxTime, saved.releasedUpTo + this.cfg.allowedLatenessMs),
      consumedUpTo: saved?.consumedUpTo ?? 0,
      position: startOffset,
      caughtUp,
      quietSinceWall: 0,
      saved,
      floor: releasedUpTo,
      passFloor: forwardedUpTo,
      lastEnd: -1,
      endUnchangedWall: Number.NEGATIVE_INFINITY,
      queue: [],
      head: 0,
      bounds: upstream ? new Map() : undefined,
    });
    this.lastTp = undefined;
    this.lastState = undefined;
    // Confirmed before the restart: the fleet's clock starts there.
    if (saved) this.clock.trust(saved.maxTime);
  }

  /**
   * A partition arrives whose inputs were released up to `releasedUpTo` (forwarded up to
   * `forwardedUpTo`): the watermarks go back there if they are ahead, each partition tracked so far
   * keeping where they were as its floor. The first partition of an empty instance sets them.
   */
  private goBackTo(releasedUpTo: number, forwardedUpTo: number): void {
    const first = this.tps.size === 0;
    for (const s of this.tps.values()) {
      s.floor = Math.max(s.floor, this.released);
      s.passFloor = Math.max(s.passFloor, this.ownReleased);
    }
    if (first || releasedUpTo < this.released) this.released = releasedUpTo;
    if (first || forwardedUpTo < this.ownReleased) this.ownReleased = forwardedUpTo;
  }

  /** Stop tracking (partition revoked): its buffered inputs are dropped; the new owner replays them. */
  untrack(tp: string): void {
    if (!this.tps.delete(tp)) return;
    this.suspects = this.suspects.filter((h) => {
      if (h.tp !== tp) return true;
      this.suspectState.delete(h);
      return false;
    });
    this.lastTp = undefined;
    this.lastState = undefined;
    this.lastBucket = undefined;
    for (const b of this.buckets.values()) {
      const gone = b.runs.filter((r) => r.tp === tp);
      if (gone.length === 0) continue;
      for (const r of gone) this.count -= r.items.length - r.next;
      b.runs = b.runs.filter((r) => r.tp !== tp);
      b.last = undefined;
      if (b.runs.every((r) => r.next >= r.items.length)) this.buckets.delete(b.t);
    }
    const keep = this.times.filter((t) => this.buckets.has(t));
    this.times.length = 0;
    for (const t of keep) heapPush(this.times, t, lessNumber);
  }

  tracked(tp: string): boolean {
    return this.tps.has(tp);
  }

  /** `evidence`: the input's meter and Kafka timestamp, for the clock guard (without it: trusted). */
  offer(tp: string, offset: number, t: number, value: V, nowWall: number, evidence?: Evidence): Offer {
    const s = this.arrive(tp, offset, nowWall);
    if (s === undefined) return 'replayed';
    if (s.saved && offset < s.saved.consumedUpTo && t <= s.saved.releasedUpTo) return 'replayed';
    if (t <= this.released || t <= s.floor) return 'late';
    const held: Held<V> = { t, tp, offset, value, released: false };
    s.queue.push(held);
    if (evidence !== undefined && this.clock.enabled) {
      const moved = this.clock.observe(evidence.meterId, t, evidence.kafkaTs);
      if (!this.clock.believes(t, evidence.kafkaTs)) {
        held.suspectSince = nowWall;
        this.suspects.push(held);
        this.suspectState.set(held, s);
        return 'suspect';
      }
      if (moved && this.suspects.length > 0) this.confirmSuspects();
    }
    if (t > s.maxTime) s.maxTime = t;
    this.hold(s, tp, held);
    return 'buffered';
  }

  /**
   * An input of source `tp` that belongs to another partition (the edge forwards it): it moves
   * `tp`'s event time like any input of it, but is not held. `late` when at or before the own
   * watermark announced so far (the owners of the repartition topic may have gone past it);
   * `replayed` when handled before the saved state (forwarded then, in a committed transaction).
   */
  pass(tp: string, offset: number, t: number, nowWall: number, evidence?: Evidence): Pass {
    const s = this.arrive(tp, offset, nowWall);
    if (s === undefined || (s.saved && offset < s.saved.consumedUpTo)) return 'replayed';
    if (t <= this.ownReleased || t <= s.passFloor) return 'late';
    // A faulty clock moves no clock here either (the new owner holds it as a suspect).
    if (evidence !== undefined && this.clock.enabled) {
      this.clock.observe(evidence.meterId, t, evidence.kafkaTs);
      if (!this.clock.believes(t, evidence.kafkaTs)) return 'forward';
    }
    if (t > s.maxTime) s.maxTime = t;
    return 'forward';
  }

  /** The state of `tp` for an input at `offset`; undefined when the fetch went back (handled already). */
  private arrive(tp: string, offset: number, nowWall: number): TpState<V> | undefined {
    const s = this.lastTp === tp ? this.lastState : this.tps.get(tp);
    // A fetch for a partition this member does not own: a bug in the edge, not in the input.
    if (!s)
      throw new AmiError(`topic-partition ${tp} is not tracked`, {
        retriable: false,
        code: 'untracked-partition',
      });
    this.lastTp = tp;
    this.lastState = s;
    // Fetched again (the fetch went back to the committed offset): held or released already.
    if (offset < s.position) return undefined;
    s.position = offset + 1;
    if (offset + 1 > s.consumedUpTo) s.consumedUpTo = offset + 1;
    // Input again after every input was quiet: partitions not served yet may be about to be, so
    // none counts as idle before it was quiet for `idleAdvanceMs` from now.
    if (nowWall - this.lastArrivalWall >= this.cfg.idleAdvanceMs) this.resumeAll(nowWall);
    this.lastArrivalWall = nowWall;
    if (nowWall > s.quietSinceWall) s.quietSinceWall = nowWall;
    return s;
  }

  /** Suspects the fleet's clock has caught up with are ordinary inputs again. */
  private confirmSuspects(): void {
    this.suspects = this.suspects.filter((h) => {
      // Behind the watermark by now (cannot happen while it trails the fleet's clock): left to expire.
      const s = this.suspectState.get(h)!;
      if (!this.clock.believes(h.t, Number.NaN) || h.t <= this.released || h.t <= s.floor) return true;
      this.suspectState.delete(h);
      h.suspectSince = undefined;
      if (h.t > s.maxTime) s.maxTime = h.t;
      this.hold(s, h.tp, h);
      return false;
    });
  }

  /**
   * Suspects no other meter confirmed within `futureConfirmMs` of wall clock: handed to `dead`
   * (the edge dead-letters them as `future-dated`) and dropped, so their offsets can be committed.
   */
  expireSuspects(nowWall: number, dead: (h: Held<V>) => void): void {
    if (this.suspects.length === 0) return;
    const wait = this.cfg.futureConfirmMs ?? 30_000;
    this.suspects = this.suspects.filter((h) => {
      if (h.suspectSince !== undefined && nowWall - h.suspectSince < wait) return true;
      this.suspectState.delete(h);
      h.released = true;
      dead(h);
      return false;
    });
  }

  private hold(s: TpState<V>, tp: string, held: Held<V>): void {
    const t = held.t;
    let b = this.lastBucket;
    if (b === undefined || b.t !== t) {
      b = this.buckets.get(t);
      if (b === undefined) {
        b = { t, runs: [], last: undefined };
        this.buckets.set(t, b);
        heapPush(this.times, t, lessNumber);
      }
      this.lastBucket = b;
    }
    let run = b.last;
    if (run === undefined || run.s !== s) {
      run = b.runs.find((r) => r.s === s);
      if (run === undefined) {
        run = { s, tp, items: [], next: 0, sorted: true };
        let i = b.runs.length;
        while (i > 0 && tp < b.runs[i - 1]!.tp) i--;
        b.runs.splice(i, 0, run);
      }
      b.last = run;
    }
    const items = run.items;
    if (items.length > run.next && items[items.length - 1]!.offset > held.offset) run.sorted = false;
    items.push(held);
    this.count++;
  }

  /** `nowWall`: when it was seen caught up (idleness runs from the later of this and the last arrival). */
  setCaughtUp(tp: string, caughtUp: boolean, nowWall?: number): void {
    const s = this.tps.get(tp);
    if (!s) return;
    if (caughtUp && !s.caughtUp && nowWall !== undefined)
      s.quietSinceWall = Math.max(s.quietSinceWall, nowWall);
    s.caughtUp = caughtUp;
  }

  /**
   * The broker's log end offset of `tp` as polled at `nowWall` (the time the poll
   * was sent). Growth is activity, even when no fetch brought those records yet.
   */
  observeEnd(tp: string, endOffset: number, nowWall: number): void {
    const s = this.tps.get(tp);
    if (!s) return;
    // Records on the broker that the fetches have not brought: behind, whatever the last batch said.
    if (endOffset > s.consumedUpTo) s.caughtUp = false;
    if (endOffset > s.lastEnd) {
      s.lastEnd = endOffset;
      s.quietSinceWall = Math.max(s.quietSinceWall, nowWall);
    } else {
      s.endUnchangedWall = Math.max(s.endUnchangedWall, nowWall);
    }
  }

  /** The next offset to consume, from a whole batch (records not offered, e.g. dead-lettered, and transaction markers included). */
  consumedTo(tp: string, nextOffset: number): void {
    const s = this.tps.get(tp);
    if (!s) return;
    if (nextOffset > s.consumedUpTo) s.consumedUpTo = nextOffset;
    if (nextOffset > s.position) s.position = nextOffset;
  }

  /** The next offset `tp` expects (where its fetch continues); undefined when not tracked. */
  position(tp: string): number | undefined {
    return this.tps.get(tp)?.position;
  }

  /**
   * The fetch of `tp` restarts at `offset` (its position was out of range on the broker). Behind
   * the position (a log truncated by an unclean leader election), the inputs from there are
   * offered again: released ones turn late (dead letters), none is skipped unseen.
   */
  reposition(tp: string, offset: number): void {
    const s = this.tps.get(tp);
    if (s) s.position = offset;
  }

  /** Some input looks quiet: its idleness needs (fresh) end offsets from the broker. */
  wantsEndOffsets(nowWall: number): boolean {
    if (!this.cfg.confirmIdleWithEndOffsets) return false;
    for (const s of this.tps.values()) if (s.bounds === undefined && this.quiet(s, nowWall)) return true;
    return false;
  }

  private resumeAll(nowWall: number): void {
    for (const s of this.tps.values()) s.quietSinceWall = Math.max(s.quietSinceWall, nowWall);
  }

  private quiet(s: TpState<V>, nowWall: number): boolean {
    return s.caughtUp && nowWall - s.quietSinceWall >= this.cfg.idleAdvanceMs;
  }

  /**
   * The broker's end offset unchanged for `idleAdvanceMs`, as last seen less than `idleAdvanceMs`
   * ago: while the polls fail (a leader moving, a broker down) an old confirmation does not stand
   * for records the producer may be writing meanwhile.
   */
  private endConfirmsQuiet(s: TpState<V>, nowWall: number): boolean {
    const idle = this.cfg.idleAdvanceMs;
    const fresh = Math.max(idle, END_OFFSETS_FRESH_MS);
    return s.endUnchangedWall - s.quietSinceWall >= idle && nowWall - s.endUnchangedWall < fresh;
  }

  /** Caught up and quiet for `idleAdvanceMs` (by the broker too, when configured): no longer holds the watermark back. */
  private idle(s: TpState<V>, nowWall: number): boolean {
    return (
      this.quiet(s, nowWall) && (!this.cfg.confirmIdleWithEndOffsets || this.endConfirmsQuiet(s, nowWall))
    );
  }

  /** The watermark the inputs allow now (never below the released one). */
  /** Whether a release at wall time `nowWall` would let anything through (backpressure waits only then). */
  canRelease(nowWall: number): boolean {
    return this.times.length > 0 && this.times[0]! <= this.nextWatermark(nowWall);
  }

  /**
   * Whether the watermark waits for another topic's input that still has records on the broker to
   * fetch, with older data than every input of `topic` (idle inputs aside). Backpressure then stops
   * fetching `topic`: more of it would only be held. It never stops the input the watermark waits
   * for, and not for an input that is caught up: that one moves only with new records or once it is
   * idle, which stopping others cannot hasten (a 24 h replay crawled when events, all consumed hours
   * of event time earlier, held the reads back after each pause).
   *
   * Only topics for which `fetchedApart` holds count: those a fetch goes on fetching while this
   * topic's waits. A topic served by the same fetch (kafkajs hands over one batch at a time) would
   * wait for itself: a storm larger than DETECTOR_MAX_BUFFERED stalled for good that way, a batch
   * of the repartition topic waiting for events that kafkajs could not fetch meanwhile.
   */
  waitsOnOtherTopic(topic: string, nowWall: number, fetchedApart: (topic: string) => boolean): boolean {
    let ours = Number.POSITIVE_INFINITY;
    let othersBehind = Number.POSITIVE_INFINITY;
    for (const [tp, s] of this.tps) {
      if (s.bounds !== undefined || this.idle(s, nowWall)) continue;
      const other = tp.slice(0, tp.lastIndexOf(':'));
      if (other === topic) ours = Math.min(ours, s.maxTime);
      else if (!s.caughtUp && fetchedApart(other)) othersBehind = Math.min(othersBehind, s.maxTime);
    }
    // No event time of its own in play (the repartition topic, or all of it idle): waiting brings nothing.
    return Number.isFinite(ours) && othersBehind < ours;
  }

  /**
   * Whether input `tp` is ahead in event time of the input the watermark waits for (the non-idle one
   * with the oldest data): more of it would only be held. Fetched with a byte limit per partition,
   * partitions with fewer meters run ahead of the others, so a detector catching up on a long
   * backlog held more and more of them (a 24 h replay at full speed: out of memory at 4 GB).
   */
  aheadOfWatermark(tp: string, nowWall: number): boolean {
    const s = this.tps.get(tp);
    if (s === undefined || s.bounds !== undefined || this.idle(s, nowWall)) return false;
    // Only for an input still behind on the broker: a caught-up one moves only with new records.
    for (const other of this.tps.values())
      if (
        other.bounds === undefined &&
        other.maxTime < s.maxTime &&
        !other.caughtUp &&
        !this.idle(other, nowWall)
      )
        return true;
    return false;
  }

  nextWatermark(nowWall: number): number {
    return Math.max(this.released, Math.min(this.ownWatermark(nowWall), this.upstreamBound()));
  }

  /**
   * The watermark over the source inputs alone (the repartition topic aside): what this owner
   * announces to the repartition topic's owners, and inputs it forwards later come after it.
   * Monotonic once `announceOwn` took it.
   */
  ownWatermark(nowWall: number): number {
    let own = this.sourceWatermark(nowWall);
    // Partitions that never had input, idle: they follow the other owners' bounds (an empty partition
    // holds nothing for one instance either), announced like any, so input arriving there later is
    // forwarded only after it, never behind what the others released on the strength of it.
    if (!Number.isFinite(own) && this.sourcesEmptyAndIdle(nowWall)) {
      const others = this.upstreamBound(new Set(this.tps.keys()));
      if (Number.isFinite(others)) own = others;
    }
    return Math.max(this.ownReleased, this.released, own);
  }

  /** Takes the own watermark of now as announced (the edge writes it after the step's forwards). */
  announceOwn(nowWall: number): number {
    this.ownReleased = this.ownWatermark(nowWall);
    return this.ownReleased;
  }

  /** The lowest bound announced on the upstream inputs (+inf: none tracked; -inf: a source not heard from). */
  private upstreamBound(except?: ReadonlySet<string>): number {
    let min = Number.POSITIVE_INFINITY;
    for (const s of this.tps.values()) {
      if (s.bounds === undefined) continue;
      for (const source of this.sources)
        if (!except?.has(source)) min = Math.min(min, s.bounds.get(source) ?? Number.NEGATIVE_INFINITY);
    }
    return min;
  }

  private sourceWatermark(nowWall: number): number {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let allIdle = true;
    // The last sign of activity of any input (an arrival, catching up, a growing end offset, or its
    // first sight after the start): quiet inputs advance event time from there, not from wall time 0.
    let lastActive = this.lastArrivalWall;
    for (const s of this.tps.values()) {
      if (s.bounds !== undefined) continue;
      max = Math.max(max, s.maxTime);
      lastActive = Math.max(lastActive, s.quietSinceWall);
      if (!this.idle(s, nowWall)) {
        allIdle = false;
        min = Math.min(min, s.maxTime);
      }
    }
    let w = (allIdle ? max : min) - this.cfg.allowedLatenessMs;
    const idleFor = nowWall - lastActive;
    if (allIdle && this.cfg.idleAdvanceMs > 0 && idleFor >= this.cfg.idleAdvanceMs && Number.isFinite(max)) {
      // Quiet inputs: event time goes on at wall-clock speed, the lateness still honoured.
      const advanced = (idleFor - this.cfg.idleAdvanceMs) * (this.cfg.idleAdvanceRate ?? 1);
      w = Math.max(w, max - this.cfg.allowedLatenessMs + advanced);
    }
    return w;
  }

  /**
   * Release, in event-time order (ties: topic-partition, then offset), the
   * buffered inputs at or before `w`, at most `limit` of them (a storm is
   * committed in several transactions). Returns false when some are left for
   * the next call.
   */
  release(w: number, apply: (h: Held<V>) => void, limit = Number.POSITIVE_INFINITY): boolean {
    let n = 0;
    while (this.times.length > 0 && this.times[0]! <= w) {
      const b = this.buckets.get(this.times[0]!)!;
      for (const run of b.runs) {
        if (run.next >= run.items.length) continue;
        if (!run.sorted) {
          // Copied back one by one: a spread of a storm's run (100k+ items) overflows the stack.
          const rest = run.items.slice(run.next).sort((x, y) => x.offset - y.offset);
          for (let i = 0; i < rest.length; i++) run.items[run.next + i] = rest[i]!;
          run.sorted = true;
        }
        while (run.next < run.items.length) {
          if (n++ >= limit) {
            // Everything before the next input's time is out; later arrivals before it are late.
            this.released = Math.max(this.released, b.t - 1);
            return false;
          }
          const h = run.items[run.next++]!;
          this.count--;
          h.released = true;
          apply(h);
        }
      }
      this.buckets.delete(b.t);
      heapPop(this.times, lessNumber);
      if (this.lastBucket === b) this.lastBucket = undefined;
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
    return (
      s && {
        consumedUpTo: s.consumedUpTo,
        maxTime: s.maxTime,
        releasedUpTo: Math.max(this.released, s.floor),
        ...(Number.isFinite(this.ownReleased) || Number.isFinite(s.passFloor)
          ? { forwardedUpTo: Math.max(this.ownReleased, s.passFloor) }
          : {}),
      }
    );
  }

  topicPartitions(): string[] {
    return [...this.tps.keys()];
  }
}

const lessNumber = (a: number, b: number): boolean => a < b;

/**
 * The fleet's clock, as far as the inputs prove it: the newest event time of the meter that is
 * second newest (a single faulty meter can only be the newest, never move it), and the Kafka
 * record timestamp that came with it. A time is believed when it is within `skew` of either the
 * input's own Kafka timestamp (live traffic: the head-end stamps it as it hears the meter) or the
 * fleet's clock projected by the Kafka time passed since (a replay ahead of the wall clock, at
 * `rate` event-time ms per wall-clock ms).
 */
class ClockGuard {
  private newestMeter = '';
  private newest = Number.NEGATIVE_INFINITY;
  private newestKafkaTs = Number.NaN;
  /** The fleet's clock (second newest meter) and its Kafka timestamp. */
  private fleet = Number.NEGATIVE_INFINITY;
  private fleetKafkaTs = Number.NaN;

  constructor(
    private readonly skew: number | undefined,
    private readonly rate: number,
  ) {}

  get enabled(): boolean {
    return this.skew !== undefined;
  }

  /** A time confirmed otherwise (the saved state of a restart). */
  trust(t: number): void {
    if (t > this.fleet) {
      this.fleet = t;
      this.fleetKafkaTs = Number.NaN;
    }
  }

  /** Records a meter's time; true when the fleet's clock moved. */
  observe(meterId: string, t: number, kafkaTs: number): boolean {
    if (meterId === this.newestMeter) {
      if (t > this.newest) {
        this.newest = t;
        this.newestKafkaTs = kafkaTs;
      }
      return false;
    }
    if (t > this.newest) {
      // The previous newest meter is now the second newest.
      const moved = this.newest > this.fleet;
      if (moved) {
        this.fleet = this.newest;
        this.fleetKafkaTs = this.newestKafkaTs;
      }
      this.newestMeter = meterId;
      this.newest = t;
      this.newestKafkaTs = kafkaTs;
      return moved;
    }
    if (t > this.fleet) {
      this.fleet = t;
      this.fleetKafkaTs = kafkaTs;
      return true;
    }
    return false;
  }

  believes(t: number, kafkaTs: number): boolean {
    const skew = this.skew ?? Number.POSITIVE_INFINITY;
    if (Number.isFinite(kafkaTs) && kafkaTs > 0 && t <= kafkaTs + skew) return true;
    const since =
      Number.isFinite(kafkaTs) && Number.isFinite(this.fleetKafkaTs)
        ? Math.max(0, kafkaTs - this.fleetKafkaTs) * this.rate
        : 0;
    return t <= this.fleet + since + skew;
  }
}
