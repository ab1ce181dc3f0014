import { BadRecordError } from './errors.js';
import type { MeterEvent, MeterProfile, MeterRead } from './records.js';

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
  | 'missing-field';

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
  if (r.energy_import_wh < 0)
    return { reason: 'negative-energy', detail: `register ${r.energy_import_wh} Wh is negative` };
  if (r.demand_w < 0) return { reason: 'negative-demand', detail: `demand ${r.demand_w} W is negative` };
  if (r.interval_s < 0 || r.interval_s > lim.maxIntervalS)
    return { reason: 'bad-interval', detail: `interval_s ${r.interval_s} is outside 0..${lim.maxIntervalS}` };
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
  if (e.occurred_at > opts.now + lim.maxFutureMs)
    return {
      reason: 'future-timestamp',
      detail: `occurred_at ${iso(e.occurred_at)} is more than ${lim.maxFutureMs / 3_600_000} h ahead of ${iso(opts.now)}`,
    };
  if (e.power_limit_va !== null && e.power_limit_va < 0)
    return { reason: 'negative-demand', detail: `power_limit_va ${e.power_limit_va} is negative` };
  return checkMeter(e, e.occurred_at, opts.lookup?.(e.meter_id), opts.lookup !== undefined, opts.garduKnown);
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
