import { describe, expect, it } from 'vitest';
import { formatZoned, zoneLabel } from '@ami/lib';
import {
  chooseLang,
  COMPLAINT_TYPES,
  FAQ,
  LANGS,
  MESSAGES,
  placeholders,
  render,
  searchFaq,
  t,
} from '../src/catalogue.js';
import { CALL_KEYWORD } from '../src/calls.js';

describe('message catalogue', () => {
  it('has every message in Indonesian and English, with the same placeholders', () => {
    for (const [key, entry] of Object.entries(MESSAGES)) {
      for (const l of LANGS) expect(entry[l].trim(), `${key} (${l})`).not.toBe('');
      expect(placeholders(entry.id), key).toEqual(placeholders(entry.en));
    }
  });

  it('every complaint type, sub-type and FAQ entry is in both languages', () => {
    for (const [code, type] of Object.entries(COMPLAINT_TYPES)) {
      for (const l of LANGS) expect(type.label[l], code).not.toBe('');
      for (const [sub, label] of Object.entries(type.subtypes))
        for (const l of LANGS) expect(label[l], `${code}/${sub}`).not.toBe('');
    }
    const ids = FAQ.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const f of FAQ) for (const l of LANGS) expect(f.q[l] && f.a[l], f.id).toBeTruthy();
  });

  it('keeps the domain words agents use', () => {
    const id = Object.values(MESSAGES)
      .map((e) => e.id)
      .join(' ');
    for (const w of ['IDPEL', 'KDPM', 'tusbung', 'gardu', 'APKT', 'PTL', 'KWH METER AMI', 'Issue Closed'])
      expect(id, w).toContain(w);
  });

  it('logs calls in the SOP’s own words (seed: CC PLN 123 SOP, "Pencatatan & Pemilihan Tipe & Sub Tipe Keluhan")', () => {
    // Quoted from the SOP; its APKT type list itself is a screen capture the text does not carry.
    const SOP = {
      heading: 'Pencatatan & Pemilihan Tipe & Sub Tipe Keluhan',
      keyword: 'Semua pencatatan laporan harus menggunakan kata kunci "KWH METER AMI".',
      closed:
        'Jika Pelanggan telah memahami penjelasan yang disampaikan (tidak menjadi keluhan), maka catat laporan tsb pada APKT KELUHAN (Issue Closed di CC PLN123)',
      forwarded:
        'Jika Pelanggan keberatan & memerlukan tindaklanjut dari Unit terkait (menjadi keluhan, PTL menyala), maka catat laporan tsb pada APKT KELUHAN ke Unit',
    };
    expect(SOP.heading).toContain(t('id', 'call.type'));
    expect(SOP.heading).toContain(t('id', 'call.subtype'));
    expect(SOP.keyword).toContain(`"${CALL_KEYWORD}"`);
    const closed = t('id', 'call.outcome.ISSUE_CLOSED');
    for (const phrase of [
      'telah memahami penjelasan',
      '(tidak menjadi keluhan)',
      'APKT KELUHAN',
      'Issue Closed di CC PLN123',
    ]) {
      expect(SOP.closed).toContain(phrase);
      expect(closed).toContain(phrase);
    }
    const forwarded = t('id', 'call.outcome.FORWARDED_TO_UNIT');
    for (const phrase of [
      'Pelanggan keberatan & memerlukan tindaklanjut dari Unit',
      'menjadi keluhan, PTL menyala',
      'APKT KELUHAN ke Unit',
    ]) {
      expect(SOP.forwarded).toContain(phrase);
      expect(forwarded).toContain(phrase);
    }
    // The status and the saved message name the closure as the SOP does.
    expect(t('id', 'status.ISSUE_CLOSED')).toBe('Issue Closed di CC PLN123');
    expect(t('id', 'call.saved_closed')).toContain('Issue Closed di CC PLN123');
  });

  it('fills placeholders and renders nested messages in the reader language', () => {
    expect(t('id', 'error.no_customer', { q: '"1"' })).toBe(
      'Tidak ada pelanggan dengan IDPEL atau nomor meter "1".',
    );
    expect(
      render('en', {
        key: 'error.transition',
        params: { id: 'c1' },
        keys: { status: 'status.CLOSED', action: 'action.close' },
      }),
    ).toBe('Complaint c1 is Closed by the ULP: cannot be closed.');
  });

  it('is Indonesian unless ?lang or the remembered choice says English', () => {
    expect(chooseLang(undefined, undefined)).toBe('id');
    expect(chooseLang('en', 'id')).toBe('en');
    expect(chooseLang(undefined, 'en')).toBe('en');
    expect(chooseLang('fr', 'xx')).toBe('id');
  });

  it('finds the SOP answers by words in either language', () => {
    expect(searchFaq('gratis').map((f) => f.id)).toContain('biaya');
    expect(searchFaq('tombol 3-5 detik').map((f) => f.id)).toContain('penormalan');
    expect(searchFaq('AMR kdpm').map((f) => f.id)).toContain('kdpm');
    expect(searchFaq('free').map((f) => f.id)).toContain('biaya');
    expect(searchFaq('zzz-nothing')).toEqual([]);
  });
});

describe('local time with the zone label', () => {
  const t0 = Date.UTC(2026, 10, 28, 16, 30); // 23:30 WIB, 00:30 WITA next day, 01:30 WIT
  it('labels Indonesia’s zones WIB, WITA and WIT and shows the local wall clock', () => {
    expect(formatZoned(t0, 'Asia/Jakarta', 'id-ID')).toBe('28 Nov 2026, 23.30 WIB');
    expect(formatZoned(t0, 'Asia/Makassar', 'id-ID')).toBe('29 Nov 2026, 00.30 WITA');
    expect(formatZoned(t0, 'Asia/Jayapura', 'en-GB')).toBe('29 Nov 2026, 01:30 WIT');
    expect(formatZoned(t0, 'Asia/Makassar', 'id-ID', 'time')).toBe('00.30.00 WITA');
  });
  it('labels any other zone by its UTC offset', () => {
    expect(zoneLabel('UTC')).toBe('UTC');
    expect(zoneLabel('Asia/Tokyo')).toBe('UTC+9');
  });
});
