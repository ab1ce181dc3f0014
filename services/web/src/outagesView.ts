import { formatZoned, zoneOfRegion, type Outage, type OutageScope } from '@ami/lib';

/**
 * What the grid operators' dashboard and `ami outages` show, computed from the
 * latest record per outage_id. Pure functions over plain data.
 */

export interface OutageRow {
  outage_id: string;
  scope: OutageScope;
  status: Outage['status'];
  region: string;
  ulp: string;
  feeder_id: string;
  gardu_id: string | null;
  parent_outage_id: string | null;
  started_at: number;
  restored_at: number | null;
  customers_affected: number;
  customers_total: number;
  tusbung_excluded: number;
  last_gasps: number;
}

export interface FeederGroup {
  feeder_id: string;
  customers_affected: number;
  /** Root outages first by gardu and start; an outage rolled up into a wider one follows its parent. */
  outages: OutageRow[];
}
export interface UlpGroup {
  ulp: string;
  customers_affected: number;
  feeders: FeederGroup[];
}
export interface RegionGroup {
  region: string;
  customers_affected: number;
  ulps: UlpGroup[];
}

export interface SeriesPoint {
  at: number;
  customers: number;
}

export interface OutagesView {
  generated_at: number;
  region: string | null;
  regions: string[];
  totals: { active: number; customers_affected: number; tusbung_excluded: number };
  active: RegionGroup[];
  restored: OutageRow[];
  series: SeriesPoint[];
}

export const isActive = (o: Pick<Outage, 'status'>): boolean => o.status !== 'RESTORED';
/** Roots carry the customer counts; a child (a gardu inside a feeder outage) would count them twice. */
export const isRoot = (o: Pick<Outage, 'parent_outage_id'>): boolean => o.parent_outage_id === null;

export function toRow(o: Outage): OutageRow {
  return {
    outage_id: o.outage_id,
    scope: o.scope,
    status: o.status,
    region: o.region,
    ulp: o.ulp,
    feeder_id: o.feeder_id,
    gardu_id: o.gardu_id,
    parent_outage_id: o.parent_outage_id,
    started_at: o.started_at,
    restored_at: o.restored_at,
    customers_affected: o.customers_affected,
    customers_total: o.customers_total,
    tusbung_excluded: o.tusbung_excluded,
    last_gasps: o.last_gasps,
  };
}

const byText =
  <T>(key: (x: T) => string) =>
  (a: T, b: T) =>
    key(a).localeCompare(key(b));
const rootCustomers = (rows: readonly OutageRow[]) =>
  rows.filter(isRoot).reduce((s, r) => s + r.customers_affected, 0);

function groupBy<T>(items: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of items) {
    const k = key(x);
    const list = m.get(k);
    if (list) list.push(x);
    else m.set(k, [x]);
  }
  return new Map([...m].sort(([a], [b]) => a.localeCompare(b)));
}

/** Roots in gardu/start order, each followed by the outages rolled up into it. */
export function orderWithChildren(rows: readonly OutageRow[]): OutageRow[] {
  const cmp = (a: OutageRow, b: OutageRow) =>
    (a.gardu_id ?? '').localeCompare(b.gardu_id ?? '') ||
    a.started_at - b.started_at ||
    a.outage_id.localeCompare(b.outage_id);
  const ids = new Set(rows.map((r) => r.outage_id));
  // A child whose parent is not in this group is shown as a root.
  const roots = rows.filter((r) => r.parent_outage_id === null || !ids.has(r.parent_outage_id)).sort(cmp);
  const children = groupBy(
    rows.filter((r) => !roots.includes(r)),
    (r) => r.parent_outage_id!,
  );
  return roots.flatMap((r) => [r, ...(children.get(r.outage_id) ?? []).sort(cmp)]);
}

/** Active outages grouped region > ULP > feeder (gardu on each row). */
export function groupActive(rows: readonly OutageRow[]): RegionGroup[] {
  return [...groupBy(rows, (r) => r.region)].map(([region, inRegion]) => ({
    region,
    customers_affected: rootCustomers(inRegion),
    ulps: [...groupBy(inRegion, (r) => r.ulp)].map(([ulp, inUlp]) => ({
      ulp,
      customers_affected: rootCustomers(inUlp),
      feeders: [...groupBy(inUlp, (r) => r.feeder_id)].map(([feeder_id, inFeeder]) => ({
        feeder_id,
        customers_affected: rootCustomers(inFeeder),
        outages: orderWithChildren(inFeeder),
      })),
    })),
  }));
}

/**
 * Customers without supply (root outages) at each step from `from` to `to`:
 * an outage counts from started_at until restored_at (or now, if open).
 */
export function supplySeries(
  rows: readonly OutageRow[],
  from: number,
  to: number,
  points = 97,
): SeriesPoint[] {
  const roots = rows.filter(isRoot);
  const step = (to - from) / Math.max(1, points - 1);
  return Array.from({ length: points }, (_, i) => {
    const at = Math.round(from + i * step);
    const customers = roots
      .filter((r) => r.started_at <= at && (r.restored_at === null || r.restored_at > at))
      .reduce((s, r) => s + r.customers_affected, 0);
    return { at, customers };
  });
}

export interface ViewOptions {
  now: number;
  region: string | null;
  restoredWindowMs: number;
  chartWindowMs: number;
  restoredLimit?: number;
}

/** The whole dashboard from the latest outage records (live and history, merged by id). */
export function buildView(outages: Iterable<Outage>, o: ViewOptions): OutagesView {
  const all = [...outages].map(toRow);
  const regions = [...new Set(all.map((r) => r.region))].sort();
  const rows = o.region ? all.filter((r) => r.region === o.region) : all;
  const active = rows.filter(isActive);
  const restored = rows
    .filter((r) => !isActive(r) && r.restored_at !== null && r.restored_at >= o.now - o.restoredWindowMs)
    .sort((a, b) => b.restored_at! - a.restored_at! || byText<OutageRow>((r) => r.outage_id)(a, b))
    .slice(0, o.restoredLimit ?? 50);
  const activeRoots = active.filter(isRoot);
  return {
    generated_at: o.now,
    region: o.region,
    regions,
    totals: {
      active: activeRoots.length,
      customers_affected: rootCustomers(active),
      tusbung_excluded: activeRoots.reduce((s, r) => s + r.tusbung_excluded, 0),
    },
    active: groupActive(active),
    restored,
    series: supplySeries(rows, o.now - o.chartWindowMs, o.now),
  };
}

/** Merges history rows (ClickHouse) with live ones (Kafka): per id the later emitted record wins. */
export function mergeLatest(history: Iterable<Outage>, live: Iterable<Outage>): Map<string, Outage> {
  const out = new Map<string, Outage>();
  for (const o of [...history, ...live]) {
    const prev = out.get(o.outage_id);
    if (!prev || o.emitted_at >= prev.emitted_at) out.set(o.outage_id, o);
  }
  return out;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mmss = `${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

/** An outage row with its times as people read them: local, with the region's zone label. */
export type LocalOutageRow = OutageRow & { started_text: string; restored_text: string | null };

/** The view with every outage's times in its region's local time (WIB/WITA/WIT), in `locale`. */
export function withLocalTimes(view: OutagesView, locale: string): OutagesView {
  const local = (o: OutageRow): LocalOutageRow => {
    const tz = zoneOfRegion(o.region);
    return {
      ...o,
      started_text: formatZoned(o.started_at, tz, locale),
      restored_text: o.restored_at === null ? null : formatZoned(o.restored_at, tz, locale),
    };
  };
  return {
    ...view,
    active: view.active.map((r) => ({
      ...r,
      ulps: r.ulps.map((u) => ({
        ...u,
        feeders: u.feeders.map((f) => ({ ...f, outages: f.outages.map(local) })),
      })),
    })),
    restored: view.restored.map(local),
  };
}
