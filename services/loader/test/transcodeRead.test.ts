import { describe, expect, it } from 'vitest';
import { avroType, DEFAULT_LIMITS, frame, type MeterRead } from '@ami/lib';
import { sampleRead } from '@ami/lib/testing/samples';
import { RowBinaryWriter } from '../src/rowbinary.js';
import { transcodeRead, transcodeReadAt } from '../src/transcodeRead.js';
import { ProfileTable } from '../src/profiles.js';
import type { InputChecks } from '../src/tables.js';

const INSTALLED = Date.UTC(2024, 0, 1);

const read = (patch: Partial<MeterRead> = {}) =>
  sampleRead({ gardu_id: 'G-ü1', power_limit_va: 0, ...patch });

describe('transcodeReadAt (values indexed in a fetch response)', () => {
  const type = avroType('MeterRead');
  const table = new ProfileTable();
  table.apply('M1', { gardu_id: 'G-ü1', installed_at: INSTALLED, daya_va: 1300 });
  table.apply('M2', { gardu_id: 'G-2', installed_at: INSTALLED, daya_va: 0 });
  const limits = { ...DEFAULT_LIMITS, demandRatingFactor: 1.5 };
  const viaLookup: InputChecks = { lookup: table.lookup, garduKnown: table.garduKnown, limits };
  const viaFits: InputChecks = { ...viaLookup, readFits: table.readFits };

  const cases: [string, MeterRead][] = [
    ['good', read()],
    ['daya 0 never exceeded', read({ meter_id: 'M2', gardu_id: 'G-2', demand_w: 99_999 })],
    ['unknown meter', read({ meter_id: 'M9' })],
    ['other gardu', read({ gardu_id: 'G-2' })],
    ['gardu same length, other bytes', read({ gardu_id: 'G-ü2' })],
    ['empty gardu', read({ gardu_id: '' })],
    ['before installation', read({ read_at: INSTALLED - 1000 })],
    ['demand above 1.5 x daya', read({ demand_w: 1951 })],
    ['demand at 1.5 x daya', read({ demand_w: 1950 })],
  ];

  /** Outcome (the row bytes, or the error) of one read placed at an offset inside a bigger buffer. */
  function outcome(r: MeterRead, checks: InputChecks): string {
    const value = frame(1, type.toBuffer(r));
    const buf = Buffer.concat([Buffer.from('junk before'), value, Buffer.from('junk after')]);
    const w = new RowBinaryWriter(8);
    try {
      transcodeReadAt(buf, 11, 11 + value.length, w, checks);
      return w.take().toString('hex');
    } catch (err) {
      return `refused: ${(err as Error).message}`;
    }
  }

  for (const [name, r] of cases)
    it(`same answer with ProfileTable.readFits as with lookup: ${name}`, () => {
      const fits = outcome(r, viaFits);
      expect(fits).toBe(outcome(r, viaLookup));
      // And the same bytes as the whole-buffer entry point.
      if (!fits.startsWith('refused')) {
        const w = new RowBinaryWriter(8);
        transcodeRead(frame(1, type.toBuffer(r)), w, viaFits);
        expect(w.take().toString('hex')).toBe(fits);
      }
    });

  it('refuses a value cut short inside the buffer (no reading past its end)', () => {
    const value = frame(1, type.toBuffer(read()));
    const buf = Buffer.concat([value, value]);
    expect(() => transcodeReadAt(buf, 0, value.length - 3, new RowBinaryWriter(), viaFits)).toThrow();
  });
});
