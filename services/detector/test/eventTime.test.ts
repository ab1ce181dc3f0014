import { describe, expect, it } from 'vitest';
import { EventTimeGate } from '../src/eventTime.js';

const cfg = { allowedLatenessMs: 1000, idleAdvanceMs: 5000 };

function drain(gate: EventTimeGate<string>, now: number): string[] {
  const got: string[] = [];
  gate.release(gate.nextWatermark(now), (h) => got.push(h.value));
  return got;
}

describe('event-time gate', () => {
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

  it('after a restart, inputs released before the saved state are skipped, buffered ones replayed', () => {
    const gate = new EventTimeGate<string>(cfg);
    gate.track('e-0', false, { consumedUpTo: 3, maxTime: 9000, releasedUpTo: 8000 });
    expect(gate.offer('e-0', 0, 7000, 'done', 0)).toBe('replayed');
    expect(gate.offer('e-0', 1, 8500, 'held', 0)).toBe('buffered');
    expect(gate.offer('e-0', 3, 7500, 'new but late', 0)).toBe('late');
  });
});
