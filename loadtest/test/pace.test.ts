import { describe, expect, it } from 'vitest';
import { Pacer, parsePace } from '../src/pace.js';

describe('pace', () => {
  it('parses max, realtime, Nx and N/s', () => {
    expect(parsePace('max')).toEqual({ mode: 'max' });
    expect(parsePace('realtime')).toEqual({ mode: 'factor', factor: 1 });
    expect(parsePace('24x')).toEqual({ mode: 'factor', factor: 24 });
    expect(parsePace('40k/s')).toEqual({ mode: 'rate', perSecond: 40_000 });
    expect(() => parsePace('fast')).toThrow(/speed must be/);
  });

  it('schedules by delivery time at Nx and by count at N/s', () => {
    let now = 1000;
    const f = new Pacer({ mode: 'factor', factor: 60 }, () => now);
    expect(f.origin).toBeUndefined();
    expect(f.dueAt(900_000, 10)).toBe(1000);
    expect(f.dueAt(960_000, 10)).toBe(2000);
    // The report's clock maps delivery times from here, not from the recording's start.
    expect(f.origin).toEqual({ at: 900_000, wall: 1000 });
    const r = new Pacer({ mode: 'rate', perSecond: 100 }, () => now);
    expect(r.dueAt(5, 50)).toBe(1000);
    expect(r.dueAt(5, 50)).toBe(1500);
    now = 0;
  });
});
