import { BadRecordError } from './errors.js';
import type { Kdpm, MeterEvent, MeterProfile, MeterRead } from './records.js';

/**
 * Range checks over decoded records: pure functions, no Kafka. A record can
 * be valid Avro and still make no sense (a negative register, a read from
 * next year, a meter nobody installed). Each check names a stable `reason`
 * that goes into the DLQ header `ami.reason` and the `ami_dlq_messages_total`
 * metric label.
 */

export type InvalidReason =
  | 'negative-energy'
  | 'negative-demand'
  | 'demand-above-rating'
  | 'bad-interval'
  | 'voltage-out-of-range'
  | 'future-timestamp'
  | 'before-installation'
  | 'unknown-meter'
  | 'unknown-gardu'
  | 'gardu-mismatch'
  | 'register-backwards'
  | 'missing-field'
  | 'bad-power-limit'
  | 'out-of-range'
  | 'bad-idpel'
  | 'bad-kdpm'
  | 'bad-phases'
  | 'bad-daya'
  | 'unsupported-timezone';

export interface Invalid {
  reason: InvalidReason;
  detail: string;
}

export interface ValidationLimits {
  /** A timestamp more than this far ahead of the wall clock is not believed (meter clock gone wild). */
  maxFutureMs: number;
  /**
   * Demand may exceed the contracted power (daya, VA) by this factor before it
   * is rejected: the MCB trips a little above daya and the interval mean of a
   * watt figure stays below VA at a power factor below 1.
   */
  demandRatingFactor: number;
  /** Mains voltage accepted: 0 (dark) up to this many volts (230 V nominal). */
  maxVoltage: number;
  /** Read intervals accepted (on-demand reads may carry 0). */
  maxIntervalS: number;
}

export const DEFAULT_LIMITS: ValidationLimits = {
  maxFutureMs: 24 * 3_600_000,
  demandRatingFactor: 1.5,
  maxVoltage: 500,
  maxIntervalS: 86_400,
};

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));

/** What the topology checks need of a meter (a MeterProfile fits; installation and rating are optional). */
export type KnownMeter = Pick<MeterProfile, 'gardu_id'> &
  Partial<Pick<MeterProfile, 'installed_at' | 'daya_va'>>;

/** The topology a check can use: the meter if known (undefined = not in ami.meters). */
export type ProfileLookup = (meterId: string) => KnownMeter | undefined;

/** Whether any known meter hangs off this gardu (tells `unknown-gardu` from `gardu-mismatch`). */
export type GarduLookup = (garduId: string) => boolean;

/**
 * Reasons that depend on the meters table, not on the record alone: a later
 * profile (a new meter, a move to another gardu, a corrected installation
 * date, a higher daya) can make such a record good. A consumer that follows
 * `ami.meters` should catch up with it before dead-lettering for these.
 */
export const TOPOLOGY_REASONS: ReadonlySet<string> = new Set<InvalidReason>([
  'unknown-meter',
  'unknown-gardu',
  'gardu-mismatch',
  'before-installation',
  'demand-above-rating',
]);

function checkMeter(
  rec: { meter_id: string; gardu_id: string },
  at: number,
  profile: KnownMeter | undefined,
  lookupKnown: boolean,
  garduKnown?: GarduLookup,
): Invalid | undefined {
  if (rec.meter_id === '') return { reason: 'missing-field', detail: 'meter_id is empty' };
  if (!lookupKnown) return undefined;
  if (rec.gardu_id === '') return { reason: 'missing-field', detail: 'gardu_id is empty' };
  if (!profile)
    return { reason: 'unknown-meter', detail: `meter ${rec.meter_id} is not in the meters table` };
  if (profile.gardu_id !== rec.gardu_id)
    return garduKnown && !garduKnown(rec.gardu_id)
      ? {
          reason: 'unknown-gardu',
          detail: `gardu ${rec.gardu_id} has no meter in the meters table (meter ${rec.meter_id} belongs to gardu ${profile.gardu_id})`,
        }
      : {
          reason: 'gardu-mismatch',
          detail: `meter ${rec.meter_id} belongs to gardu ${profile.gardu_id}, the record says ${rec.gardu_id}`,
        };
  if (profile.installed_at !== undefined && at < profile.installed_at)
    return {
      reason: 'before-installation',
      detail: `${iso(at)} is before meter ${rec.meter_id} was installed (${iso(profile.installed_at)})`,
    };
  return undefined;
}

/**
 * Checks one read. `profile` is the meter's profile when the caller knows the
 * meters table (pass `lookup` to enable topology checks), `previousWh` the
 * meter's last register seen at an earlier read_at (undefined: none known).
 */
export function validateRead(
  r: MeterRead,
  opts: {
    now: number;
    lookup?: ProfileLookup;
    /** With `lookup`: tells a gardu nobody knows (`unknown-gardu`) from a meter on another gardu. */
    garduKnown?: GarduLookup;
    previous?: { readAt: number; wh: number };
    limits?: ValidationLimits;
  },
): Invalid | undefined {
  const lim = opts.limits ?? DEFAULT_LIMITS;
  const when = checkTimestamp(r.read_at, 'read_at');
  if (when) return when;
  if (r.energy_import_wh < 0)
    return { reason: 'negative-energy', detail: `register ${r.energy_import_wh} Wh is negative` };
  if (r.demand_w < 0) return { reason: 'negative-demand', detail: `demand ${r.demand_w} W is negative` };
  if (r.interval_s < 0 || r.interval_s > lim.maxIntervalS)
    return { reason: 'bad-interval', detail: `interval_s ${r.interval_s} is outside 0..${lim.maxIntervalS}` };
  // Only an on-demand read may cover no interval.
  if (r.interval_s === 0 && r.kind !== 'ON_DEMAND')
    return { reason: 'bad-interval', detail: `an ${r.kind} read with interval_s 0` };
  if (r.power_limit_va < 0)
    return { reason: 'bad-power-limit', detail: `power_limit_va ${r.power_limit_va} is negative` };
  if (!Number.isFinite(r.voltage_v) || r.voltage_v < 0 || r.voltage_v > lim.maxVoltage)
    return {
      reason: 'voltage-out-of-range',
      detail: `voltage ${r.voltage_v} V is outside 0..${lim.maxVoltage}`,
    };
  if (r.read_at > opts.now + lim.maxFutureMs)
    return {
      reason: 'future-timestamp',
      detail: `read_at ${iso(r.read_at)} is more than ${lim.maxFutureMs / 3_600_000} h ahead of ${iso(opts.now)}`,
    };
  const profile = opts.lookup?.(r.meter_id);
  const topo = checkMeter(r, r.read_at, profile, opts.lookup !== undefined, opts.garduKnown);
  if (topo) return topo;
  if (profile && demandAboveRating(r.demand_w, profile.daya_va, lim))
    return {
      reason: 'demand-above-rating',
      detail: `demand ${r.demand_w} W is above ${lim.demandRatingFactor} x the meter's ${profile.daya_va} VA`,
    };
  if (opts.previous && opts.previous.readAt < r.read_at && r.energy_import_wh < opts.previous.wh)
    return {
      reason: 'register-backwards',
      detail: `register ${r.energy_import_wh} Wh at ${iso(r.read_at)} is below ${opts.previous.wh} Wh at ${iso(opts.previous.readAt)} (meter replaced or reset?)`,
    };
  return undefined;
}

/** Checks one event (timestamps, topology, power limit). */
export function validateEvent(
  e: MeterEvent,
  opts: { now: number; lookup?: ProfileLookup; garduKnown?: GarduLookup; limits?: ValidationLimits },
): Invalid | undefined {
  const lim = opts.limits ?? DEFAULT_LIMITS;
  if (e.event_id === '') return { reason: 'missing-field', detail: 'event_id is empty' };
  const when = checkTimestamp(e.occurred_at, 'occurred_at');
  if (when) return when;
  if (e.occurred_at > opts.now + lim.maxFutureMs)
    return {
      reason: 'future-timestamp',
      detail: `occurred_at ${iso(e.occurred_at)} is more than ${lim.maxFutureMs / 3_600_000} h ahead of ${iso(opts.now)}`,
    };
  if (e.power_limit_va !== null && e.power_limit_va < 0)
    return { reason: 'bad-power-limit', detail: `power_limit_va ${e.power_limit_va} is negative` };
  if (e.type === 'POWER_LIMIT_CHANGED' && (e.power_limit_va === null || e.power_limit_va === 0))
    return {
      reason: 'bad-power-limit',
      detail: `POWER_LIMIT_CHANGED with power_limit_va ${e.power_limit_va}`,
    };
  return checkMeter(e, e.occurred_at, opts.lookup?.(e.meter_id), opts.lookup !== undefined, opts.garduKnown);
}

/** Epoch ms a record may carry: from 1970 to the end of ClickHouse `DateTime` (2106), as every consumer stores it. */
const MAX_TIMESTAMP_MS = 4_294_967_296_000;

function checkTimestamp(ms: number, field: string): Invalid | undefined {
  if (Number.isFinite(ms) && ms >= 0 && ms < MAX_TIMESTAMP_MS) return undefined;
  return { reason: 'out-of-range', detail: `${field} ${ms} is outside 1970..2106` };
}

/**
 * Time zones of the programme's customers. Billing and reliability SQL need a
 * zone as a constant (ClickHouse 18.16), so they pick among these: a profile in
 * any other zone is refused by every consumer of the meters topic.
 */
export const SUPPORTED_TIMEZONES = [
  'Asia/Jakarta',
  'Asia/Pontianak',
  'Asia/Makassar',
  'Asia/Jayapura',
] as const;
export type SupportedTimezone = (typeof SUPPORTED_TIMEZONES)[number];

export function isSupportedTimezone(tz: string): tz is SupportedTimezone {
  return (SUPPORTED_TIMEZONES as readonly string[]).includes(tz);
}

/** IDPEL, PLN's customer id: 12 digits. */
export const IDPEL_PATTERN = /^\d{12}$/;
const KDPM: ReadonlySet<string> = new Set<Kdpm>(['L', 'R', 'S', 'F', 'A']);

/**
 * THE check of a MeterProfile (a record of `<prefix>.meters`), used by every
 * consumer of that topic (loader, detector, head-end, web), so they agree on
 * which meters exist: a profile refused here is not in anyone's meters table
 * (the loader and the web feed dead-letter it with the reason). A tombstone is
 * not a profile and is not checked here.
 */
export function validateProfile(p: MeterProfile): Invalid | undefined {
  for (const field of ['meter_id', 'gardu_id', 'feeder_id', 'tariff'] as const)
    if (p[field] === '') return { reason: 'missing-field', detail: `${field} is empty` };
  if (!IDPEL_PATTERN.test(p.idpel))
    return { reason: 'bad-idpel', detail: `IDPEL ${JSON.stringify(p.idpel.slice(0, 40))} is not 12 digits` };
  if (!KDPM.has(p.kdpm))
    return { reason: 'bad-kdpm', detail: `KDPM ${String(p.kdpm)} is not one of L, R, S, F, A` };
  if (p.phases !== 1 && p.phases !== 3)
    return { reason: 'bad-phases', detail: `phases ${p.phases} is not 1 or 3` };
  if (!Number.isInteger(p.daya_va) || p.daya_va <= 0)
    return { reason: 'bad-daya', detail: `daya_va ${p.daya_va} is not a positive number of VA` };
  if (!isSupportedTimezone(p.timezone))
    return {
      reason: 'unsupported-timezone',
      detail: `time zone ${JSON.stringify(p.timezone.slice(0, 60))} is not one of ${SUPPORTED_TIMEZONES.join(', ')}`,
    };
  return checkTimestamp(p.installed_at, 'installed_at');
}

/**
 * Demand above the contracted power times `demandRatingFactor` (false when the
 * rating is not known). A daya of 0 (no contract recorded) is never exceeded.
 */
export function demandAboveRating(
  demandW: number,
  dayaVa: number | undefined,
  limits: ValidationLimits = DEFAULT_LIMITS,
): boolean {
  return dayaVa !== undefined && dayaVa > 0 && demandW > dayaVa * limits.demandRatingFactor;
}

/** Throws the BadRecordError (reason for the DLQ) when `invalid` is set. */
export function rejectIfInvalid(invalid: Invalid | undefined): void {
  if (invalid) throw new BadRecordError(invalid.reason, invalid.detail);
}
