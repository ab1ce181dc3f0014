import { formatDuration, type OutageRow, type OutagesView, type SeriesPoint } from './outagesView.js';
import { zoneOfRegion } from '@ami/lib';
import { formatLocalTime } from './wording.js';

/** Inline SVG step chart of customers without supply (no external scripts or fonts). */
export function renderSeriesSvg(
  series: readonly SeriesPoint[],
  /** The catalogue's words for the right-hand end and the chart's accessible name. */
  words: { now: string; title: string } = { now: 'now', title: 'customers without supply' },
  width = 720,
  height = 180,
): string {
  const pad = { l: 56, r: 12, t: 12, b: 24 };
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  const from = series[0]?.at ?? 0;
  const to = series[series.length - 1]?.at ?? 1;
  const max = Math.max(1, ...series.map((p) => p.customers));
  const x = (t: number) => pad.l + (to === from ? 0 : ((t - from) / (to - from)) * w);
  const y = (c: number) => pad.t + h - (c / max) * h;
  const path = series
    .map((p, i) =>
      i === 0
        ? `M${x(p.at).toFixed(1)},${y(p.customers).toFixed(1)}`
        : `H${x(p.at).toFixed(1)}V${y(p.customers).toFixed(1)}`,
    )
    .join('');
  const hours = Math.round((to - from) / 3_600_000);
  const label = (tx: number, text: string, anchor: string) =>
    `<text x="${tx.toFixed(1)}" y="${height - 6}" text-anchor="${anchor}" font-size="11">${text}</text>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${words.title} (-${hours}h)">`,
    `<line x1="${pad.l}" y1="${pad.t + h}" x2="${pad.l + w}" y2="${pad.t + h}" stroke="#999"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${pad.t + h}" stroke="#999"/>`,
    `<text x="${pad.l - 6}" y="${pad.t + 10}" text-anchor="end" font-size="11">${max}</text>`,
    `<text x="${pad.l - 6}" y="${pad.t + h}" text-anchor="end" font-size="11">0</text>`,
    label(pad.l, `-${hours}h`, 'start'),
    label(pad.l + w / 2, `-${Math.round(hours / 2)}h`, 'middle'),
    label(pad.l + w, words.now, 'end'),
    series.length > 0 ? `<path d="${path}" fill="none" stroke="#c0392b" stroke-width="2"/>` : '',
    '</svg>',
  ].join('');
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

function table(rows: string[][]): string[] {
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(COLUMNS), ...rows.map(line)];
}

/** The terminal view of `ami outages`: active outages grouped, totals, then recently restored. */
export function renderOutageTable(v: OutagesView, now: number, timeZone = 'Asia/Jakarta'): string {
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
    `Recently restored: ${restored.length}`,
    ...(restored.length > 0 ? table(restored) : []),
    '',
  ].join('\n');
}
