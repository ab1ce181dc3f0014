import { isSupportedTimezone, SUPPORTED_TIMEZONES, type SupportedTimezone } from '@ami/lib';

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
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) throw new Error(`not a month (YYYY-MM): ${period}`);
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const next = mo === 12 ? `${y + 1}-01` : `${y}-${String(mo + 1).padStart(2, '0')}`;
  return { from: `${period}-01`, to: `${next}-01` };
}

/** The day after `date` (YYYY-MM-DD). */
export function nextDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
}
