import {
  AmiError,
  isSupportedTimezone,
  SUPPORTED_TIMEZONES,
  ValidationError,
  type SupportedTimezone,
} from '@ami/lib';

/**
 * Time zones the billing and reliability SQL know. ClickHouse needs a time
 * zone as a constant, not a column, so the SQL picks among these with
 * multiIf; every consumer of the meters topic refuses (DLQ) a meter in any
 * other zone (`validateProfile` in @ami/lib, where the list lives).
 */
export const TIMEZONES = SUPPORTED_TIMEZONES;
export type Timezone = SupportedTimezone;
export const DEFAULT_TIMEZONE: Timezone = 'Asia/Jakarta';
export { isSupportedTimezone };

/** Epoch seconds of local midnight `date` (YYYY-MM-DD) in `tz`. */
export function localMidnight(date: string, tz: string): number {
  const utcMidnight = Date.parse(`${date}T00:00:00Z`) / 1000;
  return utcMidnight - offsetSeconds(tz, utcMidnight);
}

/** Offset of `tz` from UTC at epoch second `t` (Indonesia has no DST). */
function offsetSeconds(tz: string, t: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(t * 1000));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc =
    Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second')) / 1000;
  return asUtc - t;
}

/** YYYY-MM → first day of that month and of the next, as YYYY-MM-DD. */
export function monthBounds(period: string): { from: string; to: string } {
  const m = /^(\d{4})-(\d{2})$/.exec(period);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12)
    throw new ValidationError(`not a month (YYYY-MM): ${period}`);
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const next = mo === 12 ? `${y + 1}-01` : `${y}-${String(mo + 1).padStart(2, '0')}`;
  return { from: `${period}-01`, to: `${next}-01` };
}

/** The day after `date` (YYYY-MM-DD). */
export function nextDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}

const DAY_S = 86_400;
const HOUR_S = 3600;

/**
 * The local-day boundary, stated once: the UTC second of the day at which a local day (and so a
 * local month) starts in each supported zone, distinct and earliest first. For Indonesia's zones
 * (no daylight saving time): WIT 15:00, WITA 16:00, WIB 17:00 UTC. Derived from the zones' own
 * offsets; the read buckets (002_reads_buckets.sql, 008_reads_days.sql) and the day units of
 * billingDays.ts are laid out on these instants (test/timezones.test.ts checks the migrations).
 */
export const LOCAL_MIDNIGHTS_UTC_S: readonly number[] = [
  ...new Set(TIMEZONES.map((tz) => ((-offsetSeconds(tz, 0) % DAY_S) + DAY_S) % DAY_S)),
].sort((a, b) => a - b);

/**
 * A day unit starts at the earliest local midnight (15:00 UTC): its day number is that of
 * `t - UNIT_OFFSET_S`, and every zone's local day of that date starts inside it.
 */
export const UNIT_OFFSET_S = LOCAL_MIDNIGHTS_UTC_S[0]!;

/**
 * Read buckets: one from each local midnight to the next, and one from the latest to the
 * earliest of the next day. The SQL below handles midnights one hour apart (Indonesia's).
 */
const hourBucketStarts = LOCAL_MIDNIGHTS_UTC_S.slice(0, -1);
const dayBucketStart = LOCAL_MIDNIGHTS_UTC_S.at(-1)!;
if (hourBucketStarts.some((s, i) => s % HOUR_S !== 0 || LOCAL_MIDNIGHTS_UTC_S[i + 1]! - s !== HOUR_S))
  throw new AmiError(
    `local midnights ${LOCAL_MIDNIGHTS_UTC_S.join(', ')} s UTC are not whole hours one apart`,
    {
      retriable: false,
      code: 'unsupported-timezones',
    },
  );

/** The bucket (its start, epoch seconds) of an instant: no bucket straddles a local midnight. */
export function bucketOf(t: number): number {
  const secondOfDay = ((t % DAY_S) + DAY_S) % DAY_S;
  if (hourBucketStarts.includes(secondOfDay - (secondOfDay % HOUR_S))) return t - (secondOfDay % HOUR_S);
  return Math.floor((t - dayBucketStart) / DAY_S) * DAY_S + dayBucketStart;
}

/** bucketOf in ClickHouse SQL over a DateTime column (the materialized views of 002 and 008). */
export function bucketSql(column: string): string {
  const hours = hourBucketStarts.map((s) => s / HOUR_S).join(', ');
  return `if(toHour(${column}) IN (${hours}), toStartOfHour(${column}), toStartOfDay(${column} - ${dayBucketStart}) + ${dayBucketStart})`;
}

/** The day unit (a Date) of a DateTime column in ClickHouse SQL (008: partitions, arrival stamps). */
export function unitSql(column: string): string {
  return `toDate(${column} - ${UNIT_OFFSET_S})`;
}
