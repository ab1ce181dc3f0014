import { describe, expect, it } from 'vitest';
import { decodeTpMeta, tpRecord } from '../src/changelog.js';
import { EventTimeGate } from '../src/eventTime.js';

/**
 * Scale-out through the repartition topic (README, "Scaling out"), as the gates of the instances
 * see it: inputs not on their feeder's partition are passed on (forwarded), the repartition
 * topic's partitions wait for the bounds every source partition's owner announced.
 */
const L = 1000;
const cfg = { allowedLatenessMs: L, idleAdvanceMs: 5000 };
const SOURCES = ['reads:0', 'reads:1', 'events:0', 'events:1'];

/** An instance owning partition `p` of reads, events and the repartition topic. */
function instance(p: number): EventTimeGate<string> {
  const gate = new EventTimeGate<string>(cfg);
  gate.track(`reads:${p}`, false);
  gate.track(`events:${p}`, false);
  gate.track(`rep:${p}`, false, null, 0, true);
  gate.expectSources(SOURCES);
  return gate;
}

function drain(gate: EventTimeGate<string>, now: number): string[] {
  const got: string[] = [];
  gate.release(gate.nextWatermark(now), (h) => got.push(h.value));
  return got;
}

describe('event-time gate across the repartition topic', () => {
  it('holds its own inputs until every source partition owner announced past them', () => {
    const b = instance(1);
    b.offer('reads:1', 0, 10_000, 'direct', 0);
    b.offer('events:1', 0, 30_000, 'clock', 0);
    b.offer('reads:1', 1, 30_000, 'later', 0);
    // Its own inputs alone would release up to 29 s: an owner of partition 0 may still forward older ones.
    expect(b.ownWatermark(0)).toBe(30_000 - L);
    expect(drain(b, 0)).toEqual([]);
    for (const s of ['reads:1', 'events:1']) b.announce('rep:1', s, 29_000);
    expect(drain(b, 0)).toEqual([]);
    for (const s of ['reads:0', 'events:0']) b.announce('rep:1', s, 15_000);
    expect(drain(b, 0)).toEqual(['direct']);
    expect(b.watermark).toBe(15_000);
  });

  it('inputs forwarded into one partition out of event-time order by two owners are not late', () => {
    const a0 = instance(0);
    const b = instance(1);
    b.offer('reads:1', 0, 300_000, 'b-own', 0);
    b.offer('events:1', 0, 300_000, 'b-clock', 0);
    // Owner of reads:0 is fast: it forwards 100 s and announces its watermark; owner of events:0 is slow.
    a0.offer('reads:0', 0, 100_000, 'a0-own', 0);
    a0.offer('events:0', 0, 100_000, 'a0-clock', 0);
    expect(a0.pass('reads:0', 1, 100_000, 0)).toBe('forward');
    expect(b.offer('rep:1', 0, 100_000, 'fwd-fast', 0)).toBe('buffered');
    b.announce('rep:1', 'reads:0', a0.announceOwn(0));
    for (const s of ['reads:1', 'events:1']) b.announce('rep:1', s, 200_000);
    // events:0 not heard from: nothing released, so its forward of 5 s is still in time.
    expect(drain(b, 0)).toEqual([]);
    expect(b.offer('rep:1', 1, 5_000, 'fwd-slow', 0)).toBe('buffered');
    b.announce('rep:1', 'events:0', 99_000);
    // Up to the slower owner's bound (99 s): the fast forward of 100 s waits for the next one.
    expect(drain(b, 0)).toEqual(['fwd-slow']);
    b.announce('rep:1', 'reads:0', 150_000);
    b.announce('rep:1', 'events:0', 150_000);
    expect(drain(b, 0)).toEqual(['fwd-fast']);
  });

  it('a passed input moves its partition (the owner announces it) but is not held; behind the announcement it is late', () => {
    const a = instance(0);
    a.offer('events:0', 0, 50_000, 'clock', 0);
    expect(a.pass('reads:0', 0, 60_000, 0)).toBe('forward');
    expect(a.buffered).toBe(1);
    expect(a.ownWatermark(0)).toBe(50_000 - L);
    expect(a.announceOwn(0)).toBe(49_000);
    // The repartition topic's owners may be past what was announced: an input there is late here.
    expect(a.pass('reads:0', 1, 49_000, 0)).toBe('late');
    expect(a.pass('reads:0', 2, 49_001, 0)).toBe('forward');
    // Offsets past it are committed with the forward: the commit offset is not held by it.
    expect(a.commitOffset('reads:0')).toBe(3);
    expect(a.meta('reads:0')).toMatchObject({ consumedUpTo: 3, maxTime: 60_000, forwardedUpTo: 49_000 });
  });

  it('a new owner skips what was forwarded before the saved state and announces no lower than the old owner', () => {
    const saved = { consumedUpTo: 10, maxTime: 60_000, releasedUpTo: 40_000, forwardedUpTo: 49_000 };
    const c = new EventTimeGate<string>(cfg);
    c.track('reads:0', false, saved, 5);
    c.expectSources(SOURCES);
    // Offsets 5-9 were forwarded (or held and released) before: never forwarded twice.
    expect(c.pass('reads:0', 7, 55_000, 0)).toBe('replayed');
    expect(c.pass('reads:0', 10, 48_000, 0)).toBe('late');
    expect(c.pass('reads:0', 11, 52_000, 0)).toBe('forward');
    expect(c.announceOwn(0)).toBeGreaterThanOrEqual(49_000);
  });

  it('owners never wait on each other: quiet inputs advance the own watermark whatever the upstream bounds', () => {
    const a = instance(0);
    a.offer('reads:0', 0, 10_000, 'r', 0);
    a.offer('events:0', 0, 10_000, 'e', 0);
    for (const tp of ['reads:0', 'events:0']) a.setCaughtUp(tp, true, 0);
    // Nothing announced on rep:0 yet: its own inputs still advance with the wall clock once quiet.
    expect(a.ownWatermark(10_000)).toBe(10_000 - L + 5_000);
    expect(a.nextWatermark(10_000)).toBe(Number.NEGATIVE_INFINITY);
    for (const s of SOURCES) a.announce('rep:0', s, a.ownWatermark(10_000));
    expect(drain(a, 10_000)).toEqual(['e', 'r']);
  });

  it('an older announcement read later does not move a bound back', () => {
    const b = instance(1);
    b.offer('reads:1', 0, 30_000, 'x', 0);
    b.offer('events:1', 0, 50_000, 'y', 0);
    b.offer('reads:1', 1, 50_000, 'z', 0);
    for (const s of SOURCES) b.announce('rep:1', s, 40_000);
    b.announce('rep:1', 'reads:0', 20_000);
    expect(drain(b, 0)).toEqual(['x']);
    expect(b.watermark).toBe(40_000);
  });
});

describe('event-time gate: an owner whose partitions never had input', () => {
  it('follows the other owners once its partitions are idle, so it announces, and forwards only after that', () => {
    const empty = instance(0);
    for (const tp of ['reads:0', 'events:0']) empty.setCaughtUp(tp, true, 0);
    for (const s of ['reads:1', 'events:1']) empty.announce('rep:0', s, 29_000);
    // Not idle yet (quiet for idleAdvanceMs): nothing to announce.
    expect(empty.ownWatermark(1_000)).toBe(Number.NEGATIVE_INFINITY);
    // Idle and empty: its own watermark is the others' bound (its own partitions' bounds aside).
    expect(empty.ownWatermark(6_000)).toBe(29_000);
    expect(empty.announceOwn(6_000)).toBe(29_000);
    // Input arriving there at last: behind what it announced it is late here, after it forwarded.
    expect(empty.pass('reads:0', 0, 20_000, 6_000)).toBe('late');
    expect(empty.pass('reads:0', 1, 35_000, 6_000)).toBe('forward');

    // The others wait for its bound like any (no race with its first input).
    const b = instance(1);
    b.offer('reads:1', 0, 30_000, 'x', 0);
    b.offer('events:1', 0, 40_000, 'y', 0);
    b.offer('reads:1', 1, 40_000, 'z', 0);
    for (const s of ['reads:1', 'events:1']) b.announce('rep:1', s, 39_000);
    expect(drain(b, 0)).toEqual([]);
    for (const s of ['reads:0', 'events:0']) b.announce('rep:1', s, 29_000);
    expect(drain(b, 0)).toEqual([]);
    for (const s of ['reads:0', 'events:0']) b.announce('rep:1', s, 31_000);
    expect(drain(b, 0)).toEqual(['x']);
  });

  it('alone with nothing to follow, it announces nothing (no bound from nowhere)', () => {
    const alone = instance(0);
    for (const tp of ['reads:0', 'events:0']) alone.setCaughtUp(tp, true, 0);
    expect(alone.ownWatermark(60_000)).toBe(Number.NEGATIVE_INFINITY);
  });
});

describe('event-time meta of a partition that never had input, through the state topic', () => {
  it('comes back as no time at all, not as time 0 (JSON writes -Infinity as null)', () => {
    const empty = new EventTimeGate<string>(cfg);
    empty.track('reads:0', true);
    const record = tpRecord(0, 'reads:0', empty.meta('reads:0')!);
    const saved = decodeTpMeta(String(record.value));
    const next = new EventTimeGate<string>(cfg);
    next.track('reads:0', true, saved);
    next.setCaughtUp('reads:0', true, 0);
    // Time 0 would have been taken for the newest event time: idle, the watermark would run from 1970.
    expect(next.ownWatermark(60_000)).toBe(Number.NEGATIVE_INFINITY);
    expect(next.nextWatermark(60_000)).toBe(Number.NEGATIVE_INFINITY);
  });
});
