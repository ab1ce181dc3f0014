import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MeterEvent } from '@ami/lib';
import {
  readManifest,
  readRecording,
  readRecordingMeta,
  recordSimulation,
  RecordingWriter,
} from '../src/recording.js';
import { Fleet } from '@ami/simulator/fleet';
import { loadScenario } from '@ami/simulator/scenario';
import { read } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'loadtest-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('recording', () => {
  it('writes deliveries to an Avro container and reads them back in order', async () => {
    const path = join(dir, 'r.avro');
    const w = new RecordingWriter(path, {
      format: 'ami-loadtest-recording/1',
      source: 'simulator',
      clock: 'sim',
      startMs: 0,
      endMs: 10,
    });
    const ev: MeterEvent = {
      event_id: 'e1',
      meter_id: 'M00000001',
      gardu_id: 'JATIM-SIDOAR-G0001',
      occurred_at: 5,
      type: 'LAST_GASP',
      relay: 'CLOSED',
      cause: 'NONE',
      power_limit_va: null,
    };
    await w.write({ at: 1, reads: [read(1, 1), read(2, 1)], events: [] });
    await w.write({ at: 5, reads: [], events: [ev] });
    const m = await w.close();
    expect(m).toMatchObject({ reads: 2, events: 1, lastGasps: 1, deliveries: 2 });
    expect(readManifest(path).reads).toBe(2);
    expect((await readRecordingMeta(path)).source).toBe('simulator');
    const back = [];
    for await (const d of readRecording(path)) back.push(d);
    expect(back.map((d) => d.at)).toEqual([1, 5]);
    expect(back[0]!.reads[1]).toEqual(read(2, 1));
    expect(back[1]!.events[0]).toEqual(ev);
  });

  it("keeps a simulator recording's fleet options, so a replay publishes the recorded topology", async () => {
    const path = join(dir, 'sim.avro');
    const fleet = new Fleet({
      meters: 300,
      seed: 7,
      regions: ['BALI'],
      garduSize: { min: 20, max: 40 },
      amrShare: 0.2,
    });
    const scenario = loadScenario('gardu-outage');
    const m = await recordSimulation({
      path,
      fleet,
      scenario,
      startMs: Date.UTC(2026, 0, 1),
      durationMs: 3_600_000,
    });
    const rebuilt = new Fleet(readManifest(path).fleet!);
    expect(m.fleet).toEqual(fleet.options);
    expect([...rebuilt.profiles()]).toEqual([...fleet.profiles()]);
  });
});
