import { describe, expect, it } from 'vitest';
import { ValidationError } from '@ami/lib';
import { Fleet } from '../src/fleet.js';
import {
  listScenarios,
  loadScenario,
  parseDuration,
  parseScenarioText,
  resolveWhen,
} from '../src/scenario.js';
import { Simulation } from '../src/simulation.js';

describe('scenarios', () => {
  it('the named library loads and validates, including ulp-day and regional-blackout', () => {
    const names = listScenarios();
    for (const required of [
      'ulp-day',
      'regional-blackout',
      'gardu-outage',
      'gardu-outage-lossy',
      'feeder-outage',
      'momentaries',
      'tusbung-campaign',
      'tusbung-during-outage',
      'power-limit-trips',
      'duplicates-out-of-order',
      'mixed-ami-amr',
      'demo',
    ]) {
      expect(names).toContain(required);
    }
    for (const n of names) expect(loadScenario(n).name).toBe(n);
  });

  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2d')).toBe(172_800_000);
    expect(parseDuration(45)).toBe(45_000);
    expect(() => parseDuration('soon')).toThrow(/not a duration: "soon"/);
  });

  it('resolves "21st 08:00" to the next 21st in local time', () => {
    const start = Date.parse('2026-11-20T00:00:00Z');
    expect(new Date(resolveWhen('21st 08:00', start, 7)).toISOString()).toBe('2026-11-21T01:00:00.000Z');
    expect(new Date(resolveWhen('21st 08:00', start, 8)).toISOString()).toBe('2026-11-21T00:00:00.000Z');
    expect(new Date(resolveWhen('21st 08:00', Date.parse('2026-11-22T00:00:00Z'), 7)).toISOString()).toBe(
      '2026-12-21T01:00:00.000Z',
    );
    expect(resolveWhen('1h', start)).toBe(start + 3_600_000);
  });

  it('reports every problem with its path', () => {
    const text = `
name: broken
duration: forever
actions:
  - { type: outage, scope: STREET, at: 1h, duration: 10m }
  - { type: tusbung, share: 1.5, at: 1h }
  - { type: earthquake }
`;
    let err: unknown;
    try {
      parseScenarioText(text, 'broken.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/invalid broken\.yaml/);
    expect(msg).toMatch(/duration: a duration such as 90s/);
    expect(msg).toMatch(/actions\.0\.scope/);
    expect(msg).toMatch(/actions\.1\.share/);
    expect(msg).toMatch(/actions\.2\.type/);
  });

  it('rejects unknown keys and malformed YAML', () => {
    expect(() => parseScenarioText('name: x\ncolour: blue\n')).toThrow(/Unrecognized key.*colour/);
    expect(() => parseScenarioText('name: [unclosed\n')).toThrow(/not valid YAML/);
    expect(() => loadScenario('no-such-scenario')).toThrow(/not one of demo, ulp-day/);
  });

  it('a target that matches nothing is a clear error', () => {
    const s = parseScenarioText(
      'name: x\nactions:\n  - { type: outage, scope: GARDU, target: { region: MEDAN }, at: 1h, duration: 1h }\n',
    );
    const fleet = new Fleet({ meters: 300, seed: 1, regions: ['BALI'] });
    expect(() => new Simulation({ fleet, scenario: s, startMs: 0 })).toThrow(/no gardu matches target/);
  });
});
