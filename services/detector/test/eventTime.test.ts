import { describe, expect, it } from 'vitest';
import { EventTimeGate } from '../src/eventTime.js';

const cfg = { allowedLatenessMs: 1000, idleAdvanceMs: 5000 };

function drain(gate: EventTimeGate<string>, now: number): string[] {
  const got: string[] = [];
  gate.release(gate.nextWatermark(now), (h) => got.push(h.value));
  return got;
}

describe('event-time gate', () => {
  it('releases a storm-sized run of inputs held out of offset order in offset order', () => {
    // The first read of a boundary waits as a suspect until a second meter confirms its time; the
    // rest of the storm is held meanwhile, so the confirmed one joins the run after them. 300k
    // inputs of one event time once overflowed the stack here.
    const gate = new EventTimeGate<number>({ ...cfg, maxClockSkewMs: 60_000 });
    gate.track('reads-0', false);
    const t = Date.UTC(2026, 11, 6, 10);
    const kafkaTs = t - 3_600_000; // a replay: event time hours ahead of the Kafka timestamps
    expect(gate.offer('reads-0', 0, t, 0, 0, { meterId: 'M0', kafkaTs })).toBe('suspect');
    const n = 300_000;
    for (let o = 1; o < n; o++) gate.offer('reads-0', o, t, o, 0);
    expect(gate.offer('reads-0', n, t, n, 0, { meterId: 'M1', kafkaTs })).toBe('buffered');
    expect(gate.suspected).toBe(0);
    const got: number[] = [];
    gate.release(t + 1, (h) => got.push(h.value));
    expect(got).toHaveLength(n + 1);
    expect(got.every((v, i) => v === i)).toBe(true);
  });

  it('a fetch that goes back to the committed offset (a rejoin after a leader move) finds nothing late and buffers nothing twice', () => {
    // kafkajs fetches again from the committed offset after every rejoin, and so did the raw fetch
    // after every assignment: whatever a step released since that commit came back behind the
    // watermark (the rolling-restart failover test dead-lettered ~40 reads as late).
    const gate = new EventTimeGate<string>(cfg);
    for (const tp of ['reads-0', 'reads-1']) {
      gate.track(tp, false, null, 100);
      for (let i = 0; i < 4; i++)
        expect(gate.offer(tp, 100 + i, 2000 * (i + 1), `${tp}@${i}`, 0)).toBe('buffered');
    }
    const committed = gate.commitOffset('reads-0')!;
    expect(committed).toBe(100);
    expect(drain(gate, 0)).toEqual([
      'reads-0@0',
      'reads-1@0',
      'reads-0@1',
      'reads-1@1',
      'reads-0@2',
      'reads-1@2',
    ]);
    expect(gate.watermark).toBe(7000);
    // The same records again, from the offset committed before that release.
    for (let i = 0; i < 4; i++)
      expect(gate.offer('reads-0', committed + i, 2000 * (i + 1), `again@${i}`, 0)).toBe('replayed');
    expect(gate.buffered).toBe(2);
    gate.consumedTo('reads-0', 104);
    expect(gate.position('reads-0')).toBe(104);
    expect(gate.offer('reads-0', 104, 10_000, 'reads-0@4', 0)).toBe('buffered');
    gate.offer('reads-1', 104, 10_000, 'reads-1@4', 0);
    expect(drain(gate, 0)).toEqual(['reads-0@3', 'reads-1@3']);
  });

  it('after a restart, the saved newest time does not move the watermark before the buffered inputs are read again', () => {
    // Saved with the last commit: inputs up to offset 4 consumed, the newest at 10 s, up to 5 s
    // released; offsets 2 and 3 (6 s, 10 s) were still held, so the committed offset is 2.
    const saved = { consumedUpTo: 4, maxTime: 10_000, releasedUpTo: 5000 };
    const gate = new EventTimeGate<string>(cfg);
    gate.track('reads-0', false, saved, 2);
    gate.track('reads-1', false, saved, 2);
    expect(gate.nextWatermark(0)).toBe(5000);
    expect(drain(gate, 0)).toEqual([]);
    expect(gate.offer('reads-0', 2, 6000, 'held-0', 0)).toBe('buffered');
    expect(gate.offer('reads-1', 2, 6000, 'held-1', 0)).toBe('buffered');
    expect(gate.offer('reads-0', 3, 10_000, 'newest-0', 0)).toBe('buffered');
    expect(gate.offer('reads-1', 3, 10_000, 'newest-1', 0)).toBe('buffered');
    expect(drain(gate, 0)).toEqual(['held-0', 'held-1']);
    expect(gate.watermark).toBe(9000);
  });

  it('can release only what the next watermark passes (backpressure waits on nothing else)', () => {
    const gate = new EventTimeGate<string>(cfg);
    gate.track('reads-0', false);
    gate.track('reads-1', false);
    expect(gate.canRelease(0)).toBe(false); // nothing held
    gate.offer('reads-0', 0, 10_000, 'a', 0);
    gate.offer('reads-0', 1, 20_000, 'b', 0);
    expect(gate.canRelease(0)).toBe(false); // reads-1 has shown no time yet: it holds the watermark
    gate.offer('reads-1', 0, 20_000, 'c', 0);
    expect(gate.canRelease(0)).toBe(true); // the watermark is 19 s: 'a' goes
    expect(drain(gate, 0)).toEqual(['a']);
    expect(gate.canRelease(0)).toBe(false); // 'b' and 'c' wait for later input
  });

  it('a partition the fetches starve is not idle while its end offset grows on the broker', () => {
    // reads-1 looked caught up, then other partitions filled every fetch for longer than
    // idleAdvanceMs while its producer went on writing: the broker's end offset tells.
    const gate = new EventTimeGate<string>({ ...cfg, confirmIdleWithEndOffsets: true });
    gate.track('reads-0', false);
    gate.track('reads-1', false);
    gate.offer('reads-1', 0, 10_000, 'r1-a', 0);
    gate.setCaughtUp('reads-1', true, 0);
    gate.offer('reads-0', 0, 100_000, 'r0', 0);
    gate.observeEnd('reads-1', 1, 0);
    expect(gate.wantsEndOffsets(6000)).toBe(true); // looks quiet, not confirmed yet
    gate.observeEnd('reads-1', 500, 6000); // grew: busy, and behind
    expect(gate.wantsEndOffsets(6000)).toBe(false);
    expect(drain(gate, 7000)).toEqual([]); // r1-a is held: reads-1 still holds the watermark
    expect(gate.watermark).toBeLessThan(10_000);
    expect(gate.offer('reads-1', 1, 20_000, 'r1-b', 8000)).toBe('buffered'); // served at last: not late
    gate.consumedTo('reads-1', 500); // the whole backlog, in one batch
    gate.setCaughtUp('reads-1', true, 8000);
    // Quiet for idleAdvanceMs by the fetches, then confirmed by an unchanged end offset.
    expect(drain(gate, 13_000)).toEqual(['r1-a']); // up to reads-1's own newest time
    gate.observeEnd('reads-1', 500, 13_500);
    expect(drain(gate, 13_500)).toEqual(['r1-b']);
    expect(gate.watermark).toBe(99_000);
  });

  it('without a confirming end offset, a quiet partition still holds the watermark', () => {
    const gate = new EventTimeGate<string>({ ...cfg, confirmIdleWithEndOffsets: true });
    gate.track('reads-0', false);
    gate.track('reads-1', true);
    gate.offer('reads-0', 0, 100_000, 'r0', 0);
    gate.offer('reads-1', 0, 10_000, 'r1', 0);
    gate.setCaughtUp('reads-1', true, 0);
    expect(drain(gate, 60_000)).toEqual([]);
    gate.observeEnd('reads-1', 1, 60_000); // first sight of the end offset counts as activity
    expect(drain(gate, 60_000)).toEqual([]);
    gate.observeEnd('reads-1', 1, 65_000); // unchanged idleAdvanceMs later: idle
    expect(drain(gate, 65_000)).toEqual(['r1']);
  });

  it('an idle partition holds the watermark again once its end offset cannot be polled (a leader moving)', () => {
    // Confirmed idle, then the end-offset polls fail: its producer may be writing meanwhile, to be
    // fetched once the new leader answers, while the other partition's records move on.
    const gate = new EventTimeGate<string>({ ...cfg, confirmIdleWithEndOffsets: true });
    gate.track('reads-0', false);
    gate.track('reads-1', true);
    gate.offer('reads-1', 0, 10_000, 'r1', 0);
    gate.offer('reads-0', 0, 30_000, 'r0-a', 0);
    gate.setCaughtUp('reads-1', true, 0);
    gate.observeEnd('reads-1', 1, 0);
    gate.offer('reads-0', 1, 35_000, 'r0-b', 4000);
    gate.observeEnd('reads-1', 1, 5000); // unchanged for idleAdvanceMs: idle
    expect(drain(gate, 5000)).toEqual(['r1', 'r0-a']);
    // No poll answers from 5 s on; reads-0 goes on.
    gate.offer('reads-0', 2, 60_000, 'r0-c', 8000);
    expect(drain(gate, 8000)).toEqual(['r0-b']); // the confirmation of 5 s still stands
    gate.offer('reads-0', 3, 90_000, 'r0-d', 10_500);
    expect(drain(gate, 10_500)).toEqual([]); // not any more: reads-1 holds at its newest time
    expect(gate.offer('reads-1', 1, 70_000, 'r1-fetched-at-last', 11_000)).toBe('buffered');
  });

  it('with idleAdvanceMs 0 (time driven by the data), a fresh unchanged end offset makes a quiet partition idle', () => {
    // The freshness window of an end offset is never shorter than a few polls: with a window of
    // idleAdvanceMs = 0 no poll could ever confirm, and the watermark would wait for ever.
    const gate = new EventTimeGate<string>({ ...cfg, idleAdvanceMs: 0, confirmIdleWithEndOffsets: true });
    gate.track('reads-0', false);
    gate.track('reads-1', true);
    gate.offer('reads-0', 0, 100_000, 'r0', 0);
    gate.offer('reads-1', 0, 10_000, 'r1', 0);
    gate.setCaughtUp('reads-1', true, 0);
    gate.observeEnd('reads-1', 1, 100); // first sight: activity
    expect(drain(gate, 100)).toEqual([]);
    gate.observeEnd('reads-1', 1, 150); // unchanged: idle at once
    expect(drain(gate, 150)).toEqual(['r1']);
    expect(gate.watermark).toBe(99_000);
  });

  it('after a pause of every input, a partition not served yet holds the watermark again', () => {
    // Two replays with a pause between: reads-1's records of the second one come a moment after reads-0's.
    const gate = new EventTimeGate<string>(cfg);
    gate.track('reads-0', false);
    gate.track('reads-1', false);
    gate.offer('reads-0', 0, 10_000, 'a0', 0);
    gate.offer('reads-1', 0, 10_000, 'a1', 0);
    gate.setCaughtUp('reads-0', true, 0);
    gate.setCaughtUp('reads-1', true, 0);
    expect(drain(gate, 30_000)).toEqual(['a0', 'a1']);
    gate.offer('reads-0', 1, 500_000, 'b0', 30_000);
    expect(drain(gate, 30_100)).toEqual([]); // reads-1 is held at its newest time again
    expect(gate.offer('reads-1', 1, 400_000, 'b1', 31_000)).toBe('buffered');
  });

  it('records on the broker beyond what was consumed keep a partition busy, even once its producer stopped', () => {
    const gate = new EventTimeGate<string>({ ...cfg, confirmIdleWithEndOffsets: true });
    gate.track('reads-0', false);
    gate.track('reads-1', false);
    gate.offer('reads-0', 0, 100_000, 'r0', 0);
    gate.offer('reads-1', 0, 10_000, 'r1', 0);
    gate.setCaughtUp('reads-1', true, 0);
    gate.observeEnd('reads-1', 300, 0); // produced up to 300, consumed up to 1
    gate.observeEnd('reads-1', 300, 20_000); // unchanged for long: the producer is done, the backlog is not
    expect(drain(gate, 20_000)).toEqual([]);
    expect(gate.watermark).toBe(9_000); // held at reads-1's newest time less the lateness
  });

  it('releases out-of-order inputs in event-time order once the watermark passes them', () => {
    const gate = new EventTimeGate<string>(cfg);
    gate.track('e-0', false);
    gate.offer('e-0', 0, 5000, 'b', 0);
    gate.offer('e-0', 1, 4500, 'a', 0);
    gate.offer('e-0', 2, 7000, 'c', 0);
    expect(drain(gate, 0)).toEqual(['a', 'b']);
    expect(gate.watermark).toBe(6000);
    expect(gate.commitOffset('e-0')).toBe(2);
  });

  it('an input at or before the watermark is late', () => {
    const gate = new EventTimeGate<string>(cfg);
    gate.track('e-0', false);
    gate.offer('e-0', 0, 10_000, 'x', 0);
    drain(gate, 0);
    expect(gate.offer('e-0', 1, 8_999, 'late', 0)).toBe('late');
    expect(gate.offer('e-0', 2, 9_500, 'ok', 0)).toBe('buffered');
  });

  it('an input still catching up holds the watermark back; a caught-up one does not', () => {
    const gate = new EventTimeGate<string>(cfg);
    gate.track('events-0', false);
    gate.track('reads-0', false);
    gate.offer('events-0', 0, 100_000, 'event', 0);
    gate.offer('reads-0', 0, 20_000, 'read', 0);
    gate.offer('reads-0', 1, 25_000, 'read2', 0);
    expect(drain(gate, 0)).toEqual(['read']);
    gate.setCaughtUp('reads-0', true, 0);
    expect(drain(gate, 0)).toEqual([]); // caught up but not yet quiet for idleAdvanceMs: still holds
    expect(drain(gate, 5000)).toEqual(['read2']);
    expect(gate.watermark).toBe(99_000);
  });

  it('a partition that is caught up and then gets more data does not have it dropped as late', () => {
    // Fast replay: reads-0 reaches its end for a moment while events-0 runs ahead.
    const gate = new EventTimeGate<string>(cfg);
    gate.track('events-0', false);
    gate.track('reads-0', false);
    gate.offer('events-0', 0, 100_000, 'event', 0);
    gate.offer('reads-0', 0, 20_000, 'r1', 0);
    gate.offer('reads-0', 1, 25_000, 'r2', 0);
    gate.setCaughtUp('reads-0', true, 10);
    // Caught up, but only for a moment: it still holds the watermark back.
    expect(drain(gate, 20)).toEqual(['r1']);
    expect(gate.watermark).toBe(24_000);
    // More data lands in reads-0 shortly after: buffered, not late.
    expect(gate.offer('reads-0', 2, 30_000, 'r3', 100)).toBe('buffered');
    gate.setCaughtUp('reads-0', true, 100);
    expect(drain(gate, 200)).toEqual(['r2']);
    expect(gate.watermark).toBe(29_000);
    // Only once caught up and quiet for idleAdvanceMs does it stop holding the watermark.
    expect(drain(gate, 5100)).toEqual(['r3']);
    expect(gate.watermark).toBe(99_000);
  });

  it('when every input is quiet, event time follows the wall clock', () => {
    const gate = new EventTimeGate<string>(cfg);
    gate.track('e-0', true);
    gate.offer('e-0', 0, 50_000, 'x', 1000);
    expect(drain(gate, 1000)).toEqual([]);
    expect(drain(gate, 6000)).toEqual([]); // quiet for 5 s: the watermark starts moving
    expect(drain(gate, 7000)).toEqual(['x']); // after the allowed lateness in wall time
    expect(gate.nextWatermark(16_000)).toBe(59_000);
  });

  it('started (or assigned) on quiet inputs, event time follows the wall clock from when they were first seen quiet', () => {
    // No input has arrived since the start: the idle advance once counted from wall time 0, and
    // a detector started on a quiet stack put its watermark decades ahead (every input then late).
    const gate = new EventTimeGate<string>({ ...cfg, confirmIdleWithEndOffsets: true });
    const now = Date.UTC(2026, 11, 7, 2);
    const t = Date.UTC(2026, 10, 9, 23);
    gate.track('reads-0', true, { consumedUpTo: 10, maxTime: t, releasedUpTo: t - 1000 }, 10);
    gate.observeEnd('reads-0', 10, now); // first sight of its end
    gate.observeEnd('reads-0', 10, now + 5000); // unchanged for idleAdvanceMs: idle
    expect(gate.nextWatermark(now + 5000)).toBe(t - 1000);
    expect(gate.nextWatermark(now + 8000)).toBe(t + 2000); // 3 s of wall past the idle 5 s
    expect(gate.offer('reads-0', 10, t + 60_000, 'next read', now + 8000)).toBe('buffered');
  });

  it('a replay at N times real time sets the idle advance rate: quiet spells pass N times faster', () => {
    const gate = new EventTimeGate<string>({ ...cfg, idleAdvanceRate: 10 });
    gate.track('e-0', true);
    gate.offer('e-0', 0, 50_000, 'x', 1000);
    expect(drain(gate, 6000)).toEqual([]); // quiet for 5 s (wall): the watermark starts moving
    expect(drain(gate, 6100)).toEqual(['x']); // the 1 s of lateness passes in 0.1 s
    expect(gate.nextWatermark(16_000)).toBe(149_000); // 10 s of wall = 100 s of event time
  });

  it('backpressure: a topic waits only for another topic that is behind on the broker with older data', () => {
    const apart = () => true;
    // Topic-partitions named as the edge names them: `<topic>:<partition>`.
    const gate = new EventTimeGate<string>(cfg);
    gate.track('reads:0', false);
    gate.track('reads:1', false);
    gate.track('events:0', false);
    // Nothing yet anywhere: nobody waits (each topic's fetch brings what the watermark needs).
    expect(gate.waitsOnOtherTopic('reads', 0, apart)).toBe(false);
    expect(gate.waitsOnOtherTopic('events', 0, apart)).toBe(false);
    gate.offer('reads:0', 0, 50_000, 'r', 0);
    gate.offer('reads:1', 0, 60_000, 'r', 0);
    // events:0, behind with nothing fetched yet, holds the watermark: more reads would only be held.
    expect(gate.waitsOnOtherTopic('reads', 0, apart)).toBe(true);
    expect(gate.waitsOnOtherTopic('events', 0, apart)).toBe(false);
    gate.offer('events:0', 0, 90_000, 'e', 0);
    // Now reads:0 (50 s) is the oldest: reads go on, events wait.
    expect(gate.waitsOnOtherTopic('reads', 0, apart)).toBe(false);
    expect(gate.waitsOnOtherTopic('events', 0, apart)).toBe(true);
    // Reads caught up (nothing left on the broker) but not idle yet: waiting cannot bring them on,
    // so events do not wait for them.
    gate.setCaughtUp('reads:0', true, 0);
    gate.setCaughtUp('reads:1', true, 0);
    expect(gate.waitsOnOtherTopic('events', 100, apart)).toBe(false);
    // Events caught up hours of event time behind the reads: the reads never wait for them.
    const later = new EventTimeGate<string>(cfg);
    later.track('reads:0', false);
    later.track('events:0', false);
    later.offer('events:0', 0, 1_000, 'old event', 0);
    later.setCaughtUp('events:0', true, 0);
    later.offer('reads:0', 0, 9_000_000, 'r', 10);
    expect(later.waitsOnOtherTopic('reads', 20, apart)).toBe(false);
    // ... unless the broker has more events than were fetched (kafkajs behind, or rejoining its group).
    later.observeEnd('events:0', 5, 30);
    expect(later.waitsOnOtherTopic('reads', 40, apart)).toBe(true);
  });

  it('backpressure: never waits for a topic its own fetch serves, nor for a topic with no event time of its own', () => {
    const gate = new EventTimeGate<string>(cfg);
    gate.track('reads:0', false);
    gate.track('events:0', false);
    gate.track('repartition:0', false, null, 0, true);
    gate.offer('reads:0', 0, 90_000, 'r', 0);
    gate.offer('events:0', 0, 50_000, 'e', 0); // events behind on the broker, with the oldest data
    // The raw fetch (reads) beside kafkajs (events, repartition): the reads wait for the events.
    const kafkajs = new Set(['events', 'repartition']);
    const besideRaw = (topic: string) => (other: string) => kafkajs.has(topic) !== kafkajs.has(other);
    expect(gate.waitsOnOtherTopic('reads', 0, besideRaw('reads'))).toBe(true);
    // Every topic through kafkajs, one batch at a time: a batch of reads waiting for the events would
    // hold their fetch too. Nobody waits.
    expect(gate.waitsOnOtherTopic('reads', 0, () => false)).toBe(false);
    // The repartition topic's event time is the bounds of the others: holding it back never brings
    // the watermark on (a 200,000-gasp storm stalled for good with a repartition batch waiting).
    expect(gate.waitsOnOtherTopic('repartition', 0, besideRaw('repartition'))).toBe(false);
    expect(gate.waitsOnOtherTopic('repartition', 0, () => true)).toBe(false);
  });

  it('says which partitions are ahead of the one the watermark waits for (the raw fetch holds them back)', () => {
    const gate = new EventTimeGate<string>(cfg);
    for (const tp of ['reads:0', 'reads:1', 'reads:2', 'events:0']) gate.track(tp, false);
    // Nothing fetched yet: nothing is ahead.
    expect(gate.aheadOfWatermark('reads:0', 0)).toBe(false);
    gate.offer('reads:0', 0, 900_000, 'r', 0);
    gate.offer('reads:1', 0, 1_800_000, 'r', 0);
    gate.offer('reads:2', 0, 1_800_000, 'r', 0);
    gate.offer('events:0', 0, 2_000_000, 'e', 0);
    // reads:0 (fewer meters, or a slower fetch) is the oldest: the others wait for it, it never waits.
    expect(gate.aheadOfWatermark('reads:0', 0)).toBe(false);
    expect(gate.aheadOfWatermark('reads:1', 0)).toBe(true);
    expect(gate.aheadOfWatermark('reads:2', 0)).toBe(true);
    expect(gate.aheadOfWatermark('events:0', 0)).toBe(true);
    // Caught up with the broker, reads:0 moves only with new records: holding the others back cannot
    // bring it on, so nobody waits for it (a 24 h replay crawled on such a wait for caught-up events).
    gate.setCaughtUp('reads:0', true, 0);
    expect(gate.aheadOfWatermark('reads:1', 0)).toBe(false);
    expect(gate.aheadOfWatermark('events:0', 0)).toBe(true); // still behind reads:1 and reads:2
    // Unknown inputs are fetched.
    expect(gate.aheadOfWatermark('reads:9', 0)).toBe(false);
  });

  it('after a restart, inputs released before the saved state are skipped, buffered ones replayed', () => {
    const gate = new EventTimeGate<string>(cfg);
    gate.track('e-0', false, { consumedUpTo: 3, maxTime: 9000, releasedUpTo: 8000 });
    expect(gate.offer('e-0', 0, 7000, 'done', 0)).toBe('replayed');
    expect(gate.offer('e-0', 1, 8500, 'held', 0)).toBe('buffered');
    expect(gate.offer('e-0', 3, 7500, 'new but late', 0)).toBe('late');
  });

  it('a partition handed over behind the watermark (a failover): its inputs since its last commit are released in order, not late', () => {
    // The replacement of a fenced zombie dead-lettered 300 reads of a partition handed back to it as
    // late: its watermark had moved on with its other partitions meanwhile.
    const gate = new EventTimeGate<string>(cfg);
    gate.track('reads-0', false);
    for (let i = 0; i < 5; i++) gate.offer('reads-0', i, 2000 * (i + 1), `r0@${2000 * (i + 1)}`, 0);
    expect(drain(gate, 0)).toEqual(['r0@2000', 'r0@4000', 'r0@6000', 'r0@8000']);
    expect(gate.watermark).toBe(9000);
    // Its last owner committed it with inputs released up to 4000, the one at offset 41 buffered.
    gate.track('reads-1', false, { consumedUpTo: 50, maxTime: 6000, releasedUpTo: 4000 }, 40);
    expect(gate.watermark).toBe(4000);
    expect(gate.offer('reads-1', 40, 3000, 'r1 released before', 0)).toBe('replayed');
    expect(gate.offer('reads-1', 41, 5000, 'r1@5000', 0)).toBe('buffered');
    expect(gate.offer('reads-1', 50, 3500, 'r1 behind its own release', 0)).toBe('late');
    // The partition held already keeps the watermark it had reached as its floor.
    expect(gate.offer('reads-0', 5, 8500, 'r0 behind its floor', 0)).toBe('late');
    expect(gate.meta('reads-0')?.releasedUpTo).toBe(9000);
    expect(gate.meta('reads-1')?.releasedUpTo).toBe(4000);
    expect(gate.offer('reads-1', 51, 9500, 'r1@9500', 0)).toBe('buffered');
    expect(gate.offer('reads-0', 6, 12_000, 'r0@12000', 0)).toBe('buffered');
    expect(gate.offer('reads-1', 52, 12_500, 'r1@12500', 0)).toBe('buffered');
    // Both are held in event-time order again: the old owner's inputs first, then the rest.
    expect(drain(gate, 0)).toEqual(['r1@5000', 'r1@9500', 'r0@10000']);
    expect(gate.watermark).toBe(11_000);
    expect(gate.meta('reads-0')?.releasedUpTo).toBe(11_000);
  });

  it('a partition handed over behind the own watermark forwards its misplaced inputs after its old owner’s announcement', () => {
    const gate = new EventTimeGate<string>(cfg);
    gate.track('reads-0', false, { consumedUpTo: 0, maxTime: 9000, releasedUpTo: 8000, forwardedUpTo: 9000 });
    gate.track('reads-1', false, { consumedUpTo: 0, maxTime: 5000, releasedUpTo: 4000, forwardedUpTo: 4500 });
    expect(gate.pass('reads-1', 0, 5000, 0)).toBe('forward');
    expect(gate.pass('reads-1', 1, 4500, 0)).toBe('late');
    expect(gate.pass('reads-0', 0, 8800, 0)).toBe('late');
    expect(gate.meta('reads-0')?.forwardedUpTo).toBe(9000);
    expect(gate.meta('reads-1')?.forwardedUpTo).toBe(4500);
  });
});

describe('event-time gate: one faulty meter clock cannot move the watermark (issue 19)', () => {
  const MIN = 60_000;
  const guarded = {
    allowedLatenessMs: 1000,
    idleAdvanceMs: 1000,
    maxClockSkewMs: 5 * MIN,
    futureConfirmMs: 2000,
  };
  const NOW = Date.UTC(2026, 11, 6, 10, 0, 0);

  it('live: a read 20 minutes ahead of its Kafka timestamp is a suspect, expires to the dead letters, and the watermark stays', () => {
    const gate = new EventTimeGate<string>(guarded);
    gate.track('reads-0', false);
    gate.track('events-0', false);
    for (const m of ['M1', 'M2', 'M3'])
      expect(
        gate.offer('reads-0', gate.buffered, NOW, `${m}@now`, 0, { meterId: m, kafkaTs: NOW + 50 }),
      ).toBe('buffered');
    expect(
      gate.offer('reads-0', 3, NOW + 20 * MIN, 'M4@+20min', 0, { meterId: 'M4', kafkaTs: NOW + 60 }),
    ).toBe('suspect');
    gate.setCaughtUp('reads-0', true, 0);
    gate.setCaughtUp('events-0', true, 0);
    expect(gate.commitOffset('reads-0')).toBe(0);
    // Idle: the watermark follows the newest *believed* time, not the faulty one.
    expect(drain(gate, 2200)).toEqual(['M1@now', 'M2@now', 'M3@now']);
    expect(gate.watermark).toBeLessThan(NOW + MIN);
    expect(gate.commitOffset('reads-0')).toBe(3); // the suspect is not committed past
    const dead: string[] = [];
    gate.expireSuspects(1000, (h) => dead.push(h.value));
    expect(dead).toEqual([]); // still waiting for confirmation
    gate.expireSuspects(2500, (h) => dead.push(h.value));
    expect(dead).toEqual(['M4@+20min']);
    expect(gate.suspected).toBe(0);
    expect(gate.commitOffset('reads-0')).toBe(4);
    // The head-end's RELAY_OPENED a moment later is not late.
    expect(
      gate.offer('events-0', 0, NOW + 5000, 'M1 RELAY_OPENED', 2600, { meterId: 'M1', kafkaTs: NOW + 5100 }),
    ).toBe('buffered');
  });

  it('replay ahead of the wall clock: a new boundary is believed once a second meter reports it', () => {
    const gate = new EventTimeGate<string>(guarded);
    gate.track('reads-0', false);
    const wall = Date.UTC(2026, 11, 6, 9, 0, 0); // Kafka timestamps: hours behind event time
    expect(gate.offer('reads-0', 0, NOW, 'M1@B0', 0, { meterId: 'M1', kafkaTs: wall })).toBe('suspect');
    expect(gate.offer('reads-0', 1, NOW, 'M2@B0', 0, { meterId: 'M2', kafkaTs: wall })).toBe('buffered');
    expect(gate.suspected).toBe(0); // M1 confirmed by M2
    expect(gate.offer('reads-0', 2, NOW + 15 * MIN, 'M1@B1', 0, { meterId: 'M1', kafkaTs: wall + 5 })).toBe(
      'suspect',
    );
    expect(gate.offer('reads-0', 3, NOW + 15 * MIN, 'M2@B1', 0, { meterId: 'M2', kafkaTs: wall + 6 })).toBe(
      'buffered',
    );
    gate.offer('reads-0', 4, NOW + 30 * MIN, 'M3@B2', 0, { meterId: 'M3', kafkaTs: wall + 7 });
    gate.offer('reads-0', 5, NOW + 30 * MIN, 'M1@B2', 0, { meterId: 'M1', kafkaTs: wall + 8 });
    const dead: string[] = [];
    gate.expireSuspects(10_000, (h) => dead.push(h.value));
    expect(dead).toEqual([]);
    expect(drain(gate, 0)).toEqual(['M1@B0', 'M2@B0', 'M1@B1', 'M2@B1']);
  });

  it('without evidence (or without a skew) every input is believed, as before', () => {
    const gate = new EventTimeGate<string>({ allowedLatenessMs: 1000, idleAdvanceMs: 1000 });
    gate.track('reads-0', false);
    expect(gate.offer('reads-0', 0, NOW + 20 * MIN, 'x', 0, { meterId: 'M1', kafkaTs: NOW })).toBe(
      'buffered',
    );
  });
});
