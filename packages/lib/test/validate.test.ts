import { describe, expect, it } from 'vitest';
import {
  BadRecordError,
  DEFAULT_LIMITS,
  demandAboveRating,
  rejectIfInvalid,
  SUPPORTED_TIMEZONES,
  TOPOLOGY_REASONS,
  validateEvent,
  validateProfile,
  validateRead,
  type MeterProfile,
  type MeterRead,
} from '../src/index.js';
import { sampleEvent, sampleProfile, sampleRead } from './samples.js';

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const profile = sampleProfile();
const lookup = (id: string) => (id === 'M1' ? profile : undefined);
const read = sampleRead({ read_at: NOW - 900_000 });
const event = sampleEvent({ occurred_at: NOW - 1000 });

const reasonOfRead = (
  r: Partial<MeterRead>,
  extra: Parameters<typeof validateRead>[1] = { now: NOW, lookup },
) => validateRead({ ...read, ...r }, extra)?.reason;

describe('validateRead', () => {
  it('accepts a plausible read, with and without topology', () => {
    expect(validateRead(read, { now: NOW, lookup })).toBeUndefined();
    expect(validateRead(read, { now: NOW })).toBeUndefined();
    expect(reasonOfRead({ demand_w: 1300 * DEFAULT_LIMITS.demandRatingFactor })).toBeUndefined();
    expect(reasonOfRead({ read_at: profile.installed_at })).toBeUndefined();
  });

  it.each([
    [{ energy_import_wh: -1 }, 'negative-energy'],
    [{ demand_w: -5 }, 'negative-demand'],
    [{ demand_w: 1300 * DEFAULT_LIMITS.demandRatingFactor + 1 }, 'demand-above-rating'],
    [{ interval_s: -900 }, 'bad-interval'],
    [{ voltage_v: Number.NaN }, 'voltage-out-of-range'],
    [{ voltage_v: 10_000 }, 'voltage-out-of-range'],
    [{ read_at: NOW + DEFAULT_LIMITS.maxFutureMs + 1 }, 'future-timestamp'],
    [{ read_at: profile.installed_at - 1 }, 'before-installation'],
    [{ meter_id: 'NOBODY' }, 'unknown-meter'],
    [{ gardu_id: 'G-OTHER' }, 'gardu-mismatch'],
    [{ meter_id: '' }, 'missing-field'],
  ] as const)('%o is rejected as %s', (patch, reason) => {
    expect(reasonOfRead(patch)).toBe(reason);
  });

  it('without a topology lookup, topology checks are skipped but ranges are not', () => {
    expect(reasonOfRead({ meter_id: 'NOBODY' }, { now: NOW })).toBeUndefined();
    expect(reasonOfRead({ energy_import_wh: -1 }, { now: NOW })).toBe('negative-energy');
    // demand above rating needs the profile
    expect(reasonOfRead({ demand_w: 1_000_000 }, { now: NOW })).toBeUndefined();
  });

  it('names a register that goes backwards (meter replaced or reset), only against an earlier read', () => {
    const previous = { readAt: read.read_at - 900_000, wh: 2_000_000 };
    expect(reasonOfRead({}, { now: NOW, lookup, previous })).toBe('register-backwards');
    expect(reasonOfRead({ energy_import_wh: 2_000_000 }, { now: NOW, lookup, previous })).toBeUndefined();
    // a late read of an EARLIER instant is lower by nature: not backwards
    expect(
      reasonOfRead({}, { now: NOW, lookup, previous: { readAt: read.read_at + 900_000, wh: 2_000_000 } }),
    ).toBeUndefined();
  });
});

describe('unknown gardu, demand rating', () => {
  const garduKnown = (g: string) => g === 'G1' || g === 'G2';

  it('tells a gardu nobody knows from a meter on another known gardu, when given the gardu lookup', () => {
    expect(reasonOfRead({ gardu_id: 'G-NONE' }, { now: NOW, lookup, garduKnown })).toBe('unknown-gardu');
    expect(reasonOfRead({ gardu_id: 'G2' }, { now: NOW, lookup, garduKnown })).toBe('gardu-mismatch');
    expect(reasonOfRead({ gardu_id: 'G-NONE' }, { now: NOW, lookup })).toBe('gardu-mismatch');
    expect(validateEvent({ ...event, gardu_id: 'G-NONE' }, { now: NOW, lookup, garduKnown })?.reason).toBe(
      'unknown-gardu',
    );
    // An unknown meter stays unknown-meter whatever its gardu.
    expect(reasonOfRead({ meter_id: 'NOBODY', gardu_id: 'G-NONE' }, { now: NOW, lookup, garduKnown })).toBe(
      'unknown-meter',
    );
  });

  it('demand above rating: the factor from the limits; no rating (undefined or 0) is never exceeded', () => {
    const limits = { ...DEFAULT_LIMITS, demandRatingFactor: 1.2 };
    expect(demandAboveRating(1560, 1300, limits)).toBe(false);
    expect(demandAboveRating(1561, 1300, limits)).toBe(true);
    expect(demandAboveRating(1_000_000, undefined)).toBe(false);
    expect(demandAboveRating(1_000_000, 0)).toBe(false);
    expect(reasonOfRead({ demand_w: 1561 }, { now: NOW, lookup, limits })).toBe('demand-above-rating');
  });

  it('the reasons a later meters profile can cure are the topology ones', () => {
    expect([...TOPOLOGY_REASONS].sort()).toEqual([
      'before-installation',
      'demand-above-rating',
      'gardu-mismatch',
      'unknown-gardu',
      'unknown-meter',
    ]);
  });
});

describe('validateEvent', () => {
  it('accepts a plausible event', () => {
    expect(validateEvent(event, { now: NOW, lookup })).toBeUndefined();
  });

  it.each([
    [{ occurred_at: NOW + 2 * DEFAULT_LIMITS.maxFutureMs }, 'future-timestamp'],
    [{ occurred_at: profile.installed_at - 60_000 }, 'before-installation'],
    [{ meter_id: 'NOBODY' }, 'unknown-meter'],
    [{ gardu_id: 'G9' }, 'gardu-mismatch'],
    [{ event_id: '' }, 'missing-field'],
    [{ power_limit_va: -1 }, 'bad-power-limit'],
    [{ type: 'POWER_LIMIT_CHANGED', power_limit_va: null }, 'bad-power-limit'],
    [{ type: 'POWER_LIMIT_CHANGED', power_limit_va: 0 }, 'bad-power-limit'],
    [{ occurred_at: -1 }, 'out-of-range'],
    [{ occurred_at: Number.NaN }, 'out-of-range'],
  ] as const)('%o is rejected as %s', (patch, reason) => {
    expect(validateEvent({ ...event, ...patch }, { now: NOW, lookup })?.reason).toBe(reason);
  });

  it('accepts a power limit change with its new limit', () => {
    const change = { ...event, type: 'POWER_LIMIT_CHANGED', power_limit_va: 900 } as const;
    expect(validateEvent(change, { now: NOW, lookup })).toBeUndefined();
  });
});

describe('validateRead: fields every consumer refuses (issue 19)', () => {
  it.each([
    [{ power_limit_va: -5 }, 'bad-power-limit'],
    [{ interval_s: 0 }, 'bad-interval'],
    [{ read_at: -900_000 }, 'out-of-range'],
    [{ read_at: 4_294_967_296_000 }, 'out-of-range'],
  ] as const)('%o is rejected as %s', (patch, reason) => {
    expect(reasonOfRead(patch)).toBe(reason);
  });

  it('an on-demand read may cover no interval', () => {
    expect(reasonOfRead({ interval_s: 0, kind: 'ON_DEMAND' })).toBeUndefined();
  });
});

describe('validateProfile: the one check of a MeterProfile', () => {
  it('accepts a plausible profile in each supported zone', () => {
    for (const timezone of SUPPORTED_TIMEZONES)
      expect(validateProfile({ ...profile, timezone })).toBeUndefined();
  });

  it.each([
    [{ meter_id: '' }, 'missing-field'],
    [{ gardu_id: '' }, 'missing-field'],
    [{ feeder_id: '' }, 'missing-field'],
    [{ tariff: '' }, 'missing-field'],
    [{ idpel: '5200000001' }, 'bad-idpel'],
    [{ idpel: '52000000000A' }, 'bad-idpel'],
    [{ idpel: '5200000000011' }, 'bad-idpel'],
    [{ kdpm: 'X' }, 'bad-kdpm'],
    [{ phases: 2 }, 'bad-phases'],
    [{ phases: 0 }, 'bad-phases'],
    [{ daya_va: -5 }, 'bad-daya'],
    [{ daya_va: 0 }, 'bad-daya'],
    [{ timezone: 'Europe/Paris' }, 'unsupported-timezone'],
    [{ timezone: 'Mars/Olympus' }, 'unsupported-timezone'],
    [{ installed_at: -1 }, 'out-of-range'],
  ] as const)('%o is refused as %s', (patch, reason) => {
    expect(validateProfile({ ...profile, ...patch } as MeterProfile)?.reason).toBe(reason);
  });
});

describe('rejectIfInvalid', () => {
  it('throws a BadRecordError carrying the reason', () => {
    expect(() => rejectIfInvalid(undefined)).not.toThrow();
    try {
      rejectIfInvalid(validateRead({ ...read, energy_import_wh: -7 }, { now: NOW }));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(BadRecordError);
      expect((err as BadRecordError).reason).toBe('negative-energy');
    }
  });
});
