import { describe, expect, it } from 'vitest';
import { buildView } from '../src/outagesView.js';
import { renderOutageTable } from '../src/render.js';
import {
  buildSuspectedView,
  localSuspected,
  suspicionOf,
  verificationText,
  toSuspectedRow,
} from '../src/suspectedView.js';
import { SuspectedTable } from '../src/tables.js';
import { describeMeter } from '../src/wording.js';
import { T0, outage, profile, status, suspected } from './fixtures.js';

const H = 3_600_000;
const none = new Set<string>();

const gardu = suspected();
const verified = suspected({
  outage_id: 'OUT-S2',
  gardu_id: 'GD-BALI-02',
  status: 'VERIFIED',
  started_at: T0 - 60_000,
  pings_sent: 10,
  pings_answered: 1,
  pings_silent: 7,
  reason: 'SILENT: 7 of 10 pinged meters did not answer',
});
const jakarta = suspected({
  outage_id: 'OUT-J1',
  region: 'JAKARTA',
  ulp: 'MENTENG',
  feeder_id: 'PNY-J-1',
  gardu_id: 'GD-J-9',
});

describe('suspected outages on the dashboard', () => {
  it('lists SUSPECTED and VERIFIED ones by region, ULP and start; CONFIRMED and CANCELLED drop out', () => {
    const v = buildSuspectedView(
      [
        jakarta,
        verified,
        gardu,
        suspected({ outage_id: 'OUT-C', status: 'CONFIRMED' }),
        suspected({ outage_id: 'OUT-X', status: 'CANCELLED', reason: 'SUPPLY_BACK: restored in 40 s' }),
      ],
      none,
      null,
    );
    expect(v.rows.map((r) => [r.outage_id, r.status])).toEqual([
      ['OUT-S1', 'SUSPECTED'],
      ['OUT-S2', 'VERIFIED'],
      ['OUT-J1', 'SUSPECTED'],
    ]);
    expect(v.totals).toEqual({ suspected: 2, verified: 1, customers_total: 390 });
  });

  it('filters by region and leaves out one whose confirmed outage is already known (shown once)', () => {
    expect(buildSuspectedView([gardu, jakarta], none, 'JAKARTA').rows.map((r) => r.outage_id)).toEqual([
      'OUT-J1',
    ]);
    expect(
      buildSuspectedView([gardu, jakarta], new Set(['OUT-S1']), null).rows.map((r) => r.outage_id),
    ).toEqual(['OUT-J1']);
  });

  it('says how each is being verified, with local times and zone labels, in both languages', () => {
    const [s, vf] = localSuspected(buildSuspectedView([gardu, verified], none, null).rows, 'id');
    expect(s).toMatchObject({
      status_text: 'Diduga',
      where_text: 'gardu GD-BALI-01',
      verification_text: 'belum ada ping (bukti last gasp)',
      // 05:58 UTC is 13:58 in Bali (WITA).
      started_text: '28 Nov 2026, 13.58 WITA',
    });
    expect(vf).toMatchObject({
      status_text: 'Terverifikasi ping',
      verification_text: '10 ping: 1 menjawab, 7 tidak menjawab, 2 menunggu',
      pings_waiting: 2,
    });
    const [en] = localSuspected([toSuspectedRow(verified)], 'en');
    expect(en!.verification_text).toBe('10 pings: 1 answered, 7 silent, 2 waiting');
    expect(en!.started_text).toBe('28 Nov 2026, 13:59 WITA');
    const jkt = localSuspected([toSuspectedRow(jakarta)], 'en')[0]!;
    expect(jkt.started_text).toMatch(/ WIB$/);
  });

  it('never shows a negative number of pings waiting', () => {
    expect(
      verificationText({ pings_sent: 2, pings_answered: 2, pings_silent: 1, pings_waiting: 0 }, 'en'),
    ).toBe('2 pings: 2 answered, 1 silent, 0 waiting');
    expect(
      toSuspectedRow(suspected({ pings_sent: 2, pings_answered: 2, pings_silent: 1 })).pings_waiting,
    ).toBe(0);
  });

  it('the table keeps a suspicion only while pending: the latest record per outage_id is its state', () => {
    const t = new SuspectedTable();
    const changes: (string | null)[] = [];
    t.onChange((_k, v) => changes.push(v?.status ?? null));
    t.apply('OUT-S1', gardu);
    t.apply('OUT-S1', { ...gardu, status: 'VERIFIED', pings_sent: 4, pings_silent: 4 });
    expect(t.get('OUT-S1')?.status).toBe('VERIFIED');
    t.apply('OUT-S1', { ...gardu, status: 'CONFIRMED', confirmed_outage_id: 'OUT-S1' });
    expect(t.get('OUT-S1')).toBeUndefined();
    t.apply('OUT-S2', verified);
    t.apply('OUT-S2', { ...verified, status: 'CANCELLED' });
    expect(t.size).toBe(0);
    expect(changes).toEqual(['SUSPECTED', 'VERIFIED', null, 'VERIFIED', null]);
  });

  it('`ami outages` shows them apart, marked as suspected, each in its region’s zone', () => {
    const now = T0;
    const view = buildView([outage()], { now, region: null, restoredWindowMs: 24 * H, chartWindowMs: H });
    const rows = buildSuspectedView([gardu, verified, jakarta], new Set(['OUT-1']), null).rows;
    const text = renderOutageTable(view, now, 'Asia/Jakarta', rows);
    expect(text).toMatch(/Active outages: 1, customers without supply: 120/);
    expect(text).toMatch(/Suspected outages \(not confirmed, being verified\): 3/);
    expect(text).toMatch(
      /BALI\s+DENPASAR\s+PNY-BALI-1\s+GD-BALI-01\s+GARDU\s+SUSPECTED\?\s+12\s+130\s+28 Nov 2026, 13:58 WITA\s+02:00\s+no pings yet \(last-gasp evidence\)\s+OUT-S1/,
    );
    expect(text).toMatch(/VERIFIED\?.*10 pings: 1 answered, 7 silent, 2 waiting\s+OUT-S2/);
    expect(text).toMatch(/MENTENG.*28 Nov 2026, 12:58 WIB/);
    // Confirmed rows come first; the suspected section sits after them, before the restored list.
    expect(text.indexOf('OUT-1')).toBeLessThan(text.indexOf('Suspected outages'));
    expect(text.indexOf('Suspected outages')).toBeLessThan(text.indexOf('Recently restored'));
    const empty = renderOutageTable(view, now, 'Asia/Jakarta', []);
    expect(empty).toMatch(/Suspected outages \(not confirmed, being verified\): 0\n/);
  });
});

describe('the call-centre answer under a suspected outage', () => {
  const p = profile();

  it('says a possible outage at the gardu since a WITA time, being verified, and links the FAQ', () => {
    const a = describeMeter({ profile: p, status: undefined, suspected: gardu, lang: 'id' });
    expect(a.state).toBe('ENERGIZED');
    expect(a.headline).toBe('Kemungkinan padam di gardu GD-BALI-01: sedang diverifikasi');
    expect(a.detail).toMatch(
      /^Kemungkinan padam di gardu GD-BALI-01 sejak 28 Nov 2026, 13\.58 WITA, sedang diverifikasi: 12 last gasp dari 130 pelanggan; belum ada ping/,
    );
    expect(a.faq).toEqual(['last-gasp', 'padam-vs-tusbung']);
    expect(a.suspected).toMatchObject({ outage_id: 'OUT-S1', status: 'SUSPECTED', scope: 'GARDU' });
    expect(a.suspected!.started_text).toBe('28 Nov 2026, 13.58 WITA');
    const en = describeMeter({ profile: p, status: status(), suspected: verified, lang: 'en' });
    expect(en.headline).toBe('Possible outage at gardu GD-BALI-02: verified by ping, awaiting confirmation');
    expect(en.detail).toMatch(
      /A possible outage at gardu GD-BALI-02 since 28 Nov 2026, 13:59 WITA, being verified/,
    );
    expect(en.detail).toContain('10 pings: 1 answered, 7 silent, 2 waiting');
  });

  it('a disconnected meter (tusbung) stays disconnected: never called an outage, suspected or not', () => {
    const a = describeMeter({
      profile: p,
      status: status({ state: 'DISCONNECTED', relay: 'OPEN' }),
      suspected: gardu,
      lang: 'id',
    });
    expect(a.suspected).toBeNull();
    expect([a.headline, a.detail, ...a.advice].join(' ')).not.toMatch(/padam|gangguan/i);
  });

  it('a confirmed outage keeps its own words; an ended suspicion says nothing', () => {
    const o = outage();
    const a = describeMeter({
      profile: p,
      status: status({ state: 'OUTAGE', outage_id: o.outage_id }),
      outage: o,
      suspected: gardu,
      lang: 'id',
    });
    expect(a.headline).toMatch(/^Padam: tidak ada suplai/);
    expect(a.suspected).toBeNull();
    const cancelled = describeMeter({ profile: p, suspected: { ...gardu, status: 'CANCELLED' }, lang: 'id' });
    expect(cancelled.headline).toMatch(/^Bertegangan/);
  });

  it('finds the suspicion covering a meter: its own, its gardu’s or its feeder’s, the narrowest first', () => {
    const feeder = suspected({ outage_id: 'OUT-F', scope: 'FEEDER', gardu_id: null, started_at: T0 - H });
    const meter = suspected({
      outage_id: 'OUT-M',
      scope: 'METER',
      gardu_id: 'GD-BALI-01',
      meter_ids: ['MTR-0001'],
    });
    const elsewhere = suspected({ outage_id: 'OUT-E', gardu_id: 'GD-BALI-09' });
    expect(suspicionOf(p, [feeder, gardu, meter])?.outage_id).toBe('OUT-M');
    expect(suspicionOf(p, [feeder, gardu])?.outage_id).toBe('OUT-S1');
    expect(suspicionOf(p, [feeder, elsewhere])?.outage_id).toBe('OUT-F');
    expect(suspicionOf(p, [elsewhere, { ...gardu, status: 'CANCELLED' }])).toBeUndefined();
    expect(suspicionOf(profile({ meter_id: 'MTR-0002' }), [meter])).toBeUndefined();
  });
});
