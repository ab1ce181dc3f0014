import { describe, expect, it } from 'vitest';
import { dueAt, Pacer, parseSpeed } from '../src/clock.js';

describe('simulated clock', () => {
  it('parses speeds', () => {
    expect(parseSpeed('realtime')).toEqual({ mode: 'realtime' });
    expect(parseSpeed('60x')).toEqual({ mode: 'factor', factor: 60 });
    expect(parseSpeed('max')).toEqual({ mode: 'max' });
    expect(() => parseSpeed('fast')).toThrow(/realtime, Nx/);
    expect(() => parseSpeed('0x')).toThrow();
  });

  it('maps sim time to wall time', () => {
    expect(dueAt({ mode: 'realtime' }, 1000, 50, 61_000)).toBe(60_050);
    expect(dueAt({ mode: 'factor', factor: 60 }, 0, 0, 3_600_000)).toBe(60_000);
    expect(dueAt({ mode: 'max' }, 0, 7, 3_600_000)).toBe(7);
  });

  it('waits until a batch is due, never in max mode', async () => {
    let now = 1000;
    const waits: number[] = [];
    const wait = async (ms: number) => {
      waits.push(ms);
      now += ms;
    };
    const p = new Pacer({ mode: 'factor', factor: 10 }, 0, () => now, wait);
    await p.until(10_000);
    await p.until(5_000);
    expect(waits).toEqual([1000]);
    const max = new Pacer({ mode: 'max' }, 0, () => now, wait);
    await max.until(1e12);
    expect(waits).toEqual([1000]);
  });
});

describe('simulated start', () => {
  it('takes the flag, else the scenario, else now rounded down to the interval', async () => {
    const { startFor } = await import('../src/run.js');
    const { parseScenarioText } = await import('../src/scenario.js');
    const s = parseScenarioText('name: x\nstart: 2026-11-21T00:00:00+07:00\n');
    expect(startFor(s, undefined)).toBe(Date.parse('2026-11-20T17:00:00Z'));
    expect(startFor(s, '2026-12-01T00:00:00Z')).toBe(Date.parse('2026-12-01T00:00:00Z'));
    expect(startFor(s, 'now', Date.parse('2026-11-28T21:07:31Z'))).toBe(Date.parse('2026-11-28T21:00:00Z'));
    expect(startFor(parseScenarioText('name: y\n'), undefined, Date.parse('2026-11-28T21:07:31Z'))).toBe(
      Date.parse('2026-11-28T21:00:00Z'),
    );
    expect(() => startFor(s, 'tomorrow')).toThrow(/ISO timestamp or "now"/);
  });
});
