import { describe, expect, it } from 'vitest';
import { buildSilentView, type Count, type SilentGarduCounts } from '../src/silentView.js';

const c = (meters: number, silent: number): Count => ({ meters, silent });
const zero = c(0, 0);

function gardu(id: string, by: Partial<SilentGarduCounts['by_kdpm']>, feeder = 'PNY-1'): SilentGarduCounts {
  return {
    region: 'BALI',
    ulp: 'DENPASAR',
    feeder_id: feeder,
    gardu_id: id,
    by_kdpm: { L: zero, R: zero, S: zero, F: zero, ...by },
    examples: [`${id}-M1`],
  };
}

const noOutage = { gardus: new Set<string>(), feeders: new Set<string>() };

describe('meters gone silent, by gardu and by concentrator', () => {
  // GD-A: every PLC meter silent, its RF meters report: the concentrator.
  const dcuDown = gardu('GD-A', { L: c(80, 80), R: c(20, 0) });
  // GD-B: three scattered meters of both kinds: each meter's own comms.
  const scattered = gardu('GD-B', { L: c(100, 2), S: c(10, 1) });
  // GD-C: every AMI meter silent, no outage known: the supply or the gardu as a whole.
  const allSilent = gardu('GD-C', { L: c(40, 40), F: c(5, 5) });
  // GD-D: nothing silent (ClickHouse answers only gardus with silent meters, but be sure).
  const quiet = gardu('GD-D', { L: c(50, 0) });

  it('tells a concentrator fault from scattered meters and from a gardu gone silent', () => {
    const v = buildSilentView([scattered, dcuDown, allSilent, quiet], noOutage, 'id');
    expect(v.by_gardu.map((g) => [g.gardu_id, g.diagnosis, g.ami.silent, g.ami.meters])).toEqual([
      ['GD-A', 'CONCENTRATOR', 80, 100],
      ['GD-C', 'ALL_SILENT', 45, 45],
      ['GD-B', 'METERS', 3, 110],
    ]);
    const a = v.by_gardu[0]!;
    expect(a.plc).toEqual(c(80, 80));
    expect(a.direct).toEqual(c(20, 0));
    expect(a.diagnosis_text).toBe(
      'konsentrator gardu GD-A senyap: semua meter PLC tanpa data, meter RF/seluler/FO tetap melapor (gangguan komunikasi)',
    );
    expect(v.totals).toEqual({ silent: 128, gardus: 3, concentrators_down: 1 });
  });

  it('lists the concentrators (PLC meters only), those with nothing reporting first', () => {
    const v = buildSilentView(
      [scattered, dcuDown, allSilent, gardu('GD-R', { R: c(30, 4) })],
      noOutage,
      'en',
    );
    expect(
      v.by_concentrator.map((d) => [d.concentrator_text, d.plc.silent, d.plc.meters, d.all_silent]),
    ).toEqual([
      ['DCU of gardu GD-A', 80, 80, true],
      ['DCU of gardu GD-C', 40, 40, true],
      ['DCU of gardu GD-B', 2, 100, false],
    ]);
    expect(v.by_concentrator.map((d) => d.diagnosis_text)).toEqual([
      'no PLC meter behind it reports',
      'no PLC meter behind it reports',
      'some PLC meters silent',
    ]);
    // RF, cellular and fibre meters talk direct: no concentrator row for GD-R.
    expect(v.by_gardu.find((g) => g.gardu_id === 'GD-R')).toMatchObject({
      diagnosis: 'METERS',
      direct: c(30, 4),
    });
  });

  it('a gardu or feeder in an outage (confirmed or suspected) is silent for want of supply, not comms', () => {
    const onFeeder = gardu('GD-F', { L: c(10, 10) }, 'PNY-9');
    const v = buildSilentView(
      [dcuDown, allSilent, onFeeder],
      { gardus: new Set(['GD-C']), feeders: new Set(['PNY-9']) },
      'id',
    );
    expect(v.by_gardu.map((g) => [g.gardu_id, g.diagnosis])).toEqual([
      ['GD-A', 'CONCENTRATOR'],
      ['GD-C', 'OUTAGE'],
      ['GD-F', 'OUTAGE'],
    ]);
    expect(v.by_gardu[1]!.diagnosis_text).toBe(
      'gardu GD-C dalam padam (terkonfirmasi atau diduga): senyap karena tanpa suplai',
    );
    expect(v.by_concentrator.find((d) => d.gardu_id === 'GD-C')!.diagnosis_text).toBe(
      'gardu GD-C dalam padam (terkonfirmasi atau diduga): senyap karena tanpa suplai',
    );
    expect(v.totals.concentrators_down).toBe(1);
  });
});
