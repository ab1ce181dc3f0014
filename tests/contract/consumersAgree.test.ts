import { describe, expect, it } from 'vitest';
import { avroType, BadRecordError, frame, type MeterProfile } from '@ami/lib';
import { sampleProfile, sampleRead } from '@ami/lib/testing/samples';
import { RowBinaryWriter } from '@ami/loader/rowbinary';
import { TABLES } from '@ami/loader/tables';
import { transcodeRead } from '@ami/loader/transcodeRead';
import { ProfileTable as WebProfileTable } from '@ami/web/tables';
import { Topology } from '@ami/detector/topology';

/**
 * Every consumer of `<prefix>.meters` agrees on which profiles are valid (issue 19, defect 9),
 * and every reads consumer refuses the same field values, on the loader's fast path too (defect 10).
 */
const good = sampleProfile();

const bad: Array<[string, Partial<MeterProfile>, string]> = [
  ['an IDPEL of 10 digits', { idpel: '5200000001' }, 'bad-idpel'],
  ['a negative daya', { daya_va: -5 }, 'bad-daya'],
  ['an unknown time zone', { timezone: 'Asia/Atlantis' }, 'unsupported-timezone'],
  ['2 phases', { phases: 2 }, 'bad-phases'],
  ['no gardu', { gardu_id: '' }, 'missing-field'],
];

function loaderVerdict(p: MeterProfile): string {
  try {
    TABLES.meters.toRow(p, { key: p.meter_id, offset: 0 });
    return 'ok';
  } catch (err) {
    return (err as BadRecordError).reason;
  }
}

function webVerdict(p: MeterProfile): string {
  const table = new WebProfileTable();
  try {
    table.apply(p.meter_id, p);
    return 'ok';
  } catch (err) {
    expect(table.size).toBe(0);
    return (err as BadRecordError).reason;
  }
}

describe('one MeterProfile validation for every consumer', () => {
  it.each(bad)('%s: the loader and the web service refuse it with the same reason', (_, patch, reason) => {
    const p = { ...good, ...patch };
    expect(loaderVerdict(p)).toBe(reason);
    expect(webVerdict(p)).toBe(reason);
  });

  it('a valid profile is accepted by both', () => {
    expect(loaderVerdict(good)).toBe('ok');
    expect(webVerdict(good)).toBe('ok');
  });

  it('the web service indexes profiles by meter_id, not by the Kafka key', () => {
    const table = new WebProfileTable();
    table.apply('some-other-key', good);
    expect(table.byMeter('M1')).toEqual(good);
    expect(table.byIdpel('520000000001')?.meter_id).toBe('M1');
    expect(table.get('some-other-key')).toBeUndefined();
    table.apply('M1', null); // the tombstone of the meter's key
    expect(table.byMeter('M1')).toBeUndefined();
  });

  it('the detector topology keeps a profile by the meter id it is given', () => {
    const topo = new Topology();
    topo.apply(good.meter_id, good);
    expect(topo.meter('M1')?.garduId).toBe('G1');
  });
});

describe('read fields every reads consumer refuses', () => {
  const read = sampleRead();
  const type = avroType('MeterRead');

  it.each([
    ['power_limit_va -5', { power_limit_va: -5 }, 'bad-power-limit'],
    ['interval_s 0 on an INTERVAL read', { interval_s: 0 }, 'bad-interval'],
  ] as const)(
    '%s: the loader refuses it on its fast path and names it on the full path',
    (_, patch, reason) => {
      const r = { ...read, ...patch };
      expect(() => transcodeRead(frame(1, type.toBuffer(r)), new RowBinaryWriter(64))).toThrow(
        BadRecordError,
      );
      try {
        TABLES.reads.toRow(r, { key: 'G1', offset: 0 });
        expect.unreachable();
      } catch (err) {
        expect((err as BadRecordError).reason).toBe(reason);
      }
    },
  );

  it('an ON_DEMAND read with interval_s 0 is loaded', () => {
    const r = { ...read, interval_s: 0, kind: 'ON_DEMAND' } as const;
    expect(() => transcodeRead(frame(1, type.toBuffer(r)), new RowBinaryWriter(64))).not.toThrow();
  });
});
