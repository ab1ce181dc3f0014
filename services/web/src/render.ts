import { formatDuration, type OutageRow, type OutagesView, type SeriesPoint } from './outagesView.js';
import { stepChart, zoneOfRegion } from '@ami/lib';
import { verificationText, type SuspectedRow } from './suspectedView.js';
import { formatLocalTime } from './wording.js';

/** Inline SVG step chart of customers without supply (no external scripts or fonts). */
export function renderSeriesSvg(
  series: readonly SeriesPoint[],
  /** The catalogue's words for the right-hand end and the chart's accessible name. */
  words: { now: string; title: string } = { now: 'now', title: 'customers without supply' },
  width = 720,
  height = 180,
): string {
  return stepChart({
    points: series.map((p) => [p.at, p.customers] as const),
    title: words.title,
    endLabel: words.now,
    width,
    height,
  });
}

const COLUMNS = [
  'REGION',
  'ULP',
  'FEEDER',
  'GARDU',
  'SCOPE',
  'CUSTOMERS',
  'TUSBUNG EXCL',
  'STARTED',
  'DURATION',
  'OUTAGE',
];

function rowCells(r: OutageRow, now: number, child: boolean): string[] {
  return [
    r.region,
    r.ulp,
    r.feeder_id,
    r.gardu_id ?? '-',
    (child ? '└ ' : '') + r.scope,
    String(r.customers_affected),
    String(r.tusbung_excluded),
    // Each row in its region's zone (WIB/WITA/WIT): the operator reads the customers' clock.
    formatLocalTime(r.started_at, zoneOfRegion(r.region), 'en'),
    formatDuration((r.restored_at ?? now) - r.started_at),
    r.outage_id,
  ];
}

const SUSPECTED_COLUMNS = [
  'REGION',
  'ULP',
  'FEEDER',
  'GARDU',
  'SCOPE',
  'STATUS',
  'LAST GASPS',
  'CUSTOMERS',
  'STARTED',
  'SINCE',
  'VERIFICATION',
  'OUTAGE',
];

function suspectedCells(r: SuspectedRow, now: number): string[] {
  return [
    r.region,
    r.ulp,
    r.feeder_id,
    r.gardu_id ?? '-',
    r.scope,
    // Marked apart from confirmed outages: suspected, or verified by ping, never yet confirmed.
    `${r.status}?`,
    String(r.last_gasps),
    String(r.customers_total),
    formatLocalTime(r.started_at, zoneOfRegion(r.region), 'en'),
    formatDuration(now - r.started_at),
    verificationText(r, 'en'),
    r.outage_id,
  ];
}

function table(rows: string[][], columns: readonly string[] = COLUMNS): string[] {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line([...columns]), ...rows.map(line)];
}

/**
 * The terminal view of `ami outages`: active outages grouped, totals, the suspected outages being
 * verified (apart: not counted as customers without supply), then recently restored.
 */
export function renderOutageTable(
  v: OutagesView,
  now: number,
  timeZone = 'Asia/Jakarta',
  suspected: readonly SuspectedRow[] = [],
): string {
  const active = v.active.flatMap((g) =>
    g.ulps.flatMap((u) =>
      u.feeders.flatMap((f) => f.outages.map((r) => rowCells(r, now, r.parent_outage_id !== null))),
    ),
  );
  const restored = v.restored.map((r) => rowCells(r, now, false));
  const t = v.totals;
  return [
    `Active outages${v.region ? ` in ${v.region}` : ''}: ${t.active}, customers without supply: ${t.customers_affected}, tusbung excluded: ${t.tusbung_excluded}  (${formatLocalTime(now, timeZone, 'en')})`,
    '',
    ...(active.length > 0 ? table(active) : ['(none)']),
    '',
    `Suspected outages (not confirmed, being verified): ${suspected.length}`,
    ...(suspected.length > 0
      ? table(
          suspected.map((r) => suspectedCells(r, now)),
          SUSPECTED_COLUMNS,
        )
      : []),
    '',
    `Recently restored: ${restored.length}`,
    ...(restored.length > 0 ? table(restored) : []),
    '',
  ].join('\n');
}
