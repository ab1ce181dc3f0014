import { describe, expect, it } from 'vitest';
import { buildView, formatDuration, mergeLatest, supplySeries, toRow } from '../src/outagesView.js';
import { renderOutageTable, renderSeriesSvg } from '../src/render.js';
import { LatestTable, OutageTable } from '../src/tables.js';
import { T0, outage } from './fixtures.js';

const H = 3_600_000;
const opts = { now: T0, region: null, restoredWindowMs: 24 * H, chartWindowMs: 24 * H };

const feeder = outage({
  outage_id: 'F1',
  scope: 'FEEDER',
  gardu_id: null,
  customers_affected: 500,
  tusbung_excluded: 20,
});
const child = outage({ outage_id: 'G1', parent_outage_id: 'F1', customers_affected: 120 });
const jakarta = outage({
  outage_id: 'J1',
  region: 'JAKARTA',
  ulp: 'MENTENG',
  feeder_id: 'PNY-J-1',
  gardu_id: 'GD-J-9',
  customers_affected: 40,
  tusbung_excluded: 3,
});
const restored = outage({
  outage_id: 'R1',
  status: 'RESTORED',
  started_at: T0 - 3 * H,
  restored_at: T0 - 2 * H,
  customers_affected: 70,
});
const oldRestored = outage({
  outage_id: 'R0',
  status: 'RESTORED',
  started_at: T0 - 40 * H,
  restored_at: T0 - 30 * H,
});

describe('outage view', () => {
  it('groups active outages by region, ULP and feeder, counting customers of root outages only', () => {
    const v = buildView([feeder, child, jakarta, restored, oldRestored], opts);
    expect(v.regions).toEqual(['BALI', 'JAKARTA']);
    expect(v.totals).toEqual({ active: 2, customers_affected: 540, tusbung_excluded: 23 });
    expect(v.active.map((g) => [g.region, g.customers_affected])).toEqual([
      ['BALI', 500],
      ['JAKARTA', 40],
    ]);
    const bali = v.active[0]!.ulps[0]!.feeders[0]!;
    expect(bali.feeder_id).toBe('PNY-BALI-1');
    expect(bali.outages.map((o) => o.outage_id)).toEqual(['F1', 'G1']); // child right after its parent
    expect(v.restored.map((o) => o.outage_id)).toEqual(['R1']);
  });

  it('filters by region', () => {
    const v = buildView([feeder, child, jakarta], { ...opts, region: 'JAKARTA' });
    expect(v.totals.customers_affected).toBe(40);
    expect(v.regions).toEqual(['BALI', 'JAKARTA']);
    expect(v.active.map((g) => g.region)).toEqual(['JAKARTA']);
  });

  it('charts customers without supply over time from start to restoration', () => {
    const s = supplySeries([toRow(restored), toRow(jakarta)], T0 - 4 * H, T0, 5);
    expect(s.map((p) => p.customers)).toEqual([0, 70, 0, 0, 40]);
    const svg = renderSeriesSvg(s);
    expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('<path d="M');
    expect(svg).not.toMatch(/<script|href=/);
  });

  it('the later record of an outage wins when history and live meet', () => {
    const old = outage({ emitted_at: 1, customers_affected: 1 });
    const newer = outage({ emitted_at: 2, customers_affected: 2 });
    expect(mergeLatest([newer], [old]).get('OUT-1')!.customers_affected).toBe(2);
    expect(mergeLatest([old], [newer]).get('OUT-1')!.customers_affected).toBe(2);
  });

  it('renders the terminal table with ticking durations', () => {
    const text = renderOutageTable(buildView([feeder, child, restored], opts), T0);
    expect(text).toMatch(/Active outages: 1, customers without supply: 500, tusbung excluded: 20/);
    expect(text).toMatch(
      // BALI's row in WITA, its own zone, whatever the terminal's.
      /BALI\s+DENPASAR\s+PNY-BALI-1\s+-\s+FEEDER\s+500\s+20\s+28 Nov 2026, 13:50 WITA\s+10:00\s+F1/,
    );
    expect(text).toMatch(/└ GARDU/);
    expect(text).toMatch(/Recently restored: 1/);
    expect(formatDuration(3_725_000)).toBe('1:02:05');
  });
});

describe('tables', () => {
  it('keeps the latest value per key; a tombstone removes it', () => {
    const t = new LatestTable<number>();
    const seen: [string, number | null][] = [];
    t.onChange((k, v) => seen.push([k, v]));
    t.apply('a', 1);
    t.apply('a', 2);
    t.apply('a', null);
    expect(t.get('a')).toBeUndefined();
    expect(seen).toEqual([
      ['a', 1],
      ['a', 2],
      ['a', null],
    ]);
  });

  it('forgets restored outages past the window', () => {
    const t = new OutageTable();
    for (const o of [restored, oldRestored, feeder]) t.apply(o.outage_id, o);
    expect(t.prune(T0, 24 * H)).toBe(1);
    expect([...t.values()].map((o) => o.outage_id)).toEqual(['R1', 'F1']);
  });
});
