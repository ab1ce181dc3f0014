import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../src/scenario.js';
import { parseTruth, TruthWriter, type RelayTruth } from '../src/groundTruth.js';
import { runScenario } from './helpers.js';

describe('ground truth', () => {
  it('records every relay change the meters reported, and nothing else', { timeout: 60_000 }, () => {
    const s = loadScenario('ulp-day');
    const { events, truth } = runScenario({ ...s, fleet: { ...s.fleet, meters: 1500 } });
    const relayEvents = events.filter((e) => e.type.startsWith('RELAY') || e.type === 'RECONNECT_ENABLED');
    const unique = new Map(relayEvents.map((e) => [e.event_id, e]));
    const truthRelays = truth.filter((l): l is RelayTruth => l.kind === 'relay');
    expect(truthRelays.length).toBe(unique.size);
    for (const r of truthRelays) expect(unique.get(`${r.meter_id}-${r.type}-${r.at}`)?.cause).toBe(r.cause);
    const interruptions = truth.filter((l) => l.kind === 'interruption');
    expect(interruptions.length).toBe(2 + 4 + 1);
    expect(truth.at(-1)!.kind).toBe('summary');
  });

  it('round-trips through a JSONL file', async () => {
    const { truth } = runScenario('demo');
    const path = join(mkdtempSync(join(tmpdir(), 'truth-')), 'truth.jsonl');
    const w = new TruthWriter(path);
    truth.forEach(w.sink);
    await w.close();
    expect(parseTruth(readFileSync(path, 'utf8'))).toEqual(truth);
  });
});
