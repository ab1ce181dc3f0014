/**
 * The one chart writer: small self-contained SVG charts (no dependency, no script, no font), for
 * the load test's report (polyline charts over time, bars of percentiles) and the operators'
 * dashboard (a step chart of the last hours). Good enough to look at instead of reading.
 */

export interface ChartSeries {
  name: string;
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/** Text and attribute values. */
function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1, 2, 5 × 10^k ticks covering [0, max]. */
function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 0.5; v += step) ticks.push(v);
  return ticks;
}

export function formatNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(a >= 1e10 ? 0 : 1)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(a >= 1e4 ? 0 : 1)}k`;
  if (a > 0 && a < 1) return v.toFixed(2);
  return `${Math.round(v * 10) / 10}`;
}

export function lineChart(o: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  width?: number;
  height?: number;
  hlines?: { y: number; label: string }[];
}): string {
  const all = o.series.flatMap((s) => s.points);
  const xMax = Math.max(1e-9, ...all.map((p) => p[0]));
  const xMin = Math.min(xMax, ...all.map((p) => p[0]));
  const yMax = Math.max(1e-9, ...all.map((p) => p[1]), ...(o.hlines ?? []).map((h) => h.y));
  const { H, m, pw, ph, Y, parts } = openChart(
    o.title,
    plotArea(o.width ?? 760, o.height ?? 320, { l: 64, r: 16, t: 32, b: 64 }),
    yMax,
  );
  const xTicks = niceTicks(xMax - xMin).map((t) => t + xMin);
  const X = (x: number) => m.l + ((x - xMin) / Math.max(1e-9, xMax - xMin)) * pw;
  for (const t of xTicks) {
    if (t > xMax + 1e-9) continue;
    parts.push(`<line x1="${X(t)}" x2="${X(t)}" y1="${m.t}" y2="${m.t + ph}" stroke="#f0f0f0"/>`);
    parts.push(`<text x="${X(t)}" y="${m.t + ph + 16}" text-anchor="middle">${formatNumber(t)}</text>`);
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  for (const h of o.hlines ?? []) {
    parts.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(h.y)}" y2="${Y(h.y)}" stroke="#555" stroke-dasharray="5,4"/>`,
    );
    parts.push(
      `<text x="${m.l + pw - 4}" y="${Y(h.y) - 4}" text-anchor="end" fill="#555">${esc(h.label)}</text>`,
    );
  }
  o.series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const pts = s.points.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.6" points="${pts}"/>`,
    );
  });
  parts.push(`<text x="${m.l + pw / 2}" y="${H - 34}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  parts.push(
    `<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  let lx = m.l;
  o.series.forEach((s, i) => {
    parts.push(`<rect x="${lx}" y="${H - 18}" width="12" height="3" fill="${COLORS[i % COLORS.length]}"/>`);
    parts.push(`<text x="${lx + 16}" y="${H - 13}">${esc(s.name)}</text>`);
    lx += 24 + s.name.length * 6.2;
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export function barChart(o: {
  title: string;
  yLabel: string;
  groups: { name: string; bars: { label: string; value: number }[] }[];
  width?: number;
  height?: number;
}): string {
  const yMax = Math.max(1e-9, ...o.groups.flatMap((g) => g.bars.map((b) => b.value)));
  const { m, pw, ph, Y, parts } = openChart(
    o.title,
    plotArea(o.width ?? 760, o.height ?? 300, { l: 64, r: 16, t: 32, b: 48 }),
    yMax,
  );
  const gw = pw / Math.max(1, o.groups.length);
  o.groups.forEach((g, gi) => {
    const bw = (gw * 0.8) / Math.max(1, g.bars.length);
    g.bars.forEach((b, bi) => {
      const x = m.l + gi * gw + gw * 0.1 + bi * bw;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${Y(b.value).toFixed(1)}" width="${(bw * 0.9).toFixed(1)}" height="${(m.t + ph - Y(b.value)).toFixed(1)}" fill="${COLORS[bi % COLORS.length]}"/>`,
      );
      parts.push(
        `<text x="${(x + bw * 0.45).toFixed(1)}" y="${(Y(b.value) - 3).toFixed(1)}" text-anchor="middle" font-size="10">${formatNumber(b.value)}</text>`,
      );
      parts.push(
        `<text x="${(x + bw * 0.45).toFixed(1)}" y="${m.t + ph + 14}" text-anchor="middle" font-size="10">${esc(b.label)}</text>`,
      );
    });
    parts.push(
      `<text x="${m.l + gi * gw + gw / 2}" y="${m.t + ph + 32}" text-anchor="middle" font-weight="bold">${esc(g.name)}</text>`,
    );
  });
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  parts.push(
    `<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  parts.push('</svg>');
  return parts.join('\n');
}

interface PlotArea {
  /** The canvas. */
  W: number;
  H: number;
  /** Margins around the plot area, and its width and height. */
  m: { l: number; r: number; t: number; b: number };
  pw: number;
  ph: number;
}

function plotArea(W: number, H: number, m: PlotArea['m']): PlotArea {
  return { W, H, m, pw: W - m.l - m.r, ph: H - m.t - m.b };
}

/**
 * The opening of a chart: canvas, title and the horizontal grid with its y labels, the y scale
 * from 0 to the first 1-2-5 tick at or above `yMax`.
 */
function openChart(
  title: string,
  a: PlotArea,
  yMax: number,
): PlotArea & { Y: (y: number) => number; parts: string[] } {
  const { W, H, m, pw, ph } = a;
  const yTicks = niceTicks(yMax);
  const yTop = yTicks[yTicks.length - 1]!;
  const Y = (y: number) => m.t + ph - (y / yTop) * ph;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  for (const t of yTicks) {
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(t)}" y2="${Y(t)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.l - 6}" y="${Y(t) + 4}" text-anchor="end">${formatNumber(t)}</text>`);
  }
  return { ...a, Y, parts };
}

/**
 * A step chart of a value over the last hours (x: epoch ms), labelled in hours before its end:
 * `-Nh`, `-N/2h` and `endLabel` (say "now"). `title` is its accessible name; it takes the width
 * of its container.
 */
export function stepChart(o: {
  points: readonly (readonly [number, number])[];
  title: string;
  endLabel: string;
  width?: number;
  height?: number;
}): string {
  const {
    W: width,
    H: height,
    m: pad,
    pw: w,
    ph: h,
  } = plotArea(o.width ?? 720, o.height ?? 180, { l: 56, r: 12, t: 12, b: 24 });
  const from = o.points[0]?.[0] ?? 0;
  const to = o.points[o.points.length - 1]?.[0] ?? 1;
  const max = Math.max(1, ...o.points.map((p) => p[1]));
  const x = (t: number) => pad.l + (to === from ? 0 : ((t - from) / (to - from)) * w);
  const y = (c: number) => pad.t + h - (c / max) * h;
  const path = o.points
    .map(([at, v], i) =>
      i === 0 ? `M${x(at).toFixed(1)},${y(v).toFixed(1)}` : `H${x(at).toFixed(1)}V${y(v).toFixed(1)}`,
    )
    .join('');
  const hours = Math.round((to - from) / 3_600_000);
  const label = (tx: number, text: string, anchor: string) =>
    `<text x="${tx.toFixed(1)}" y="${height - 6}" text-anchor="${anchor}" font-size="11">${esc(text)}</text>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${esc(o.title)} (-${hours}h)">`,
    `<line x1="${pad.l}" y1="${pad.t + h}" x2="${pad.l + w}" y2="${pad.t + h}" stroke="#999"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${pad.t + h}" stroke="#999"/>`,
    `<text x="${pad.l - 6}" y="${pad.t + 10}" text-anchor="end" font-size="11">${max}</text>`,
    `<text x="${pad.l - 6}" y="${pad.t + h}" text-anchor="end" font-size="11">0</text>`,
    label(pad.l, `-${hours}h`, 'start'),
    label(pad.l + w / 2, `-${Math.round(hours / 2)}h`, 'middle'),
    label(pad.l + w, o.endLabel, 'end'),
    o.points.length > 0 ? `<path d="${path}" fill="none" stroke="#c0392b" stroke-width="2"/>` : '',
    '</svg>',
  ].join('');
}
