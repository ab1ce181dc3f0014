/**
 * Times shown to people: the local wall clock of the customer's or region's
 * IANA zone with Indonesia's zone label (WIB UTC+7, WITA UTC+8, WIT UTC+9).
 * Pure; every page, answer, CLI table and the demo format times here.
 */

/** Indonesia's zones by IANA name; any other zone is labelled by its UTC offset. */
const ZONE_LABELS: Readonly<Record<string, string>> = {
  'Asia/Jakarta': 'WIB',
  'Asia/Pontianak': 'WIB',
  'Asia/Makassar': 'WITA',
  'Asia/Ujung_Pandang': 'WITA',
  'Asia/Jayapura': 'WIT',
};

/** Zone of a region when no customer zone is at hand (contract regions; Bali and Makassar are WITA). */
const REGION_ZONES: Readonly<Record<string, string>> = {
  BALI: 'Asia/Makassar',
  MAKASSAR: 'Asia/Makassar',
  SULSELRABAR: 'Asia/Makassar',
  PAPUA: 'Asia/Jayapura',
};

export function zoneOfRegion(region: string): string {
  return REGION_ZONES[region.toUpperCase()] ?? 'Asia/Jakarta';
}

/** WIB / WITA / WIT, or `UTC+h` for a zone outside Indonesia. */
export function zoneLabel(timeZone: string, epochMs = Date.now()): string {
  const known = ZONE_LABELS[timeZone];
  if (known) return known;
  const name = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'shortOffset' })
    .formatToParts(new Date(epochMs))
    .find((p) => p.type === 'timeZoneName')?.value;
  const offset = (name ?? '').replace(/^(GMT|UTC)/, '');
  return offset === '' || /^[+-]0$/.test(offset) ? 'UTC' : `UTC${offset}`;
}

export type TimeStyle = 'datetime' | 'time' | 'date';

const FORMATS: Record<TimeStyle, Intl.DateTimeFormatOptions> = {
  datetime: { day: '2-digit', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' },
  time: { hour: '2-digit', minute: '2-digit', second: '2-digit' },
  date: { day: '2-digit', month: 'short', year: 'numeric' },
};

/**
 * `28 Nov 2026 13.50 WITA` (id) or `28 Nov 2026, 13:50 WITA` (en): local time
 * in `timeZone` with its label. `locale` is a BCP 47 tag ('id-ID', 'en-GB').
 */
export function formatZoned(
  epochMs: number,
  timeZone: string,
  locale = 'id-ID',
  style: TimeStyle = 'datetime',
): string {
  const text = new Intl.DateTimeFormat(locale, { timeZone, hourCycle: 'h23', ...FORMATS[style] }).format(
    new Date(epochMs),
  );
  return style === 'date' ? text : `${text} ${zoneLabel(timeZone, epochMs)}`;
}
