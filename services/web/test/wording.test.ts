import { describe, expect, it } from 'vitest';
import type { MeterState } from '@ami/lib';
import type { Lang } from '../src/catalogue.js';
import { billingPeriodOf, describeMeter, formatRupiah } from '../src/wording.js';
import { T0, outage, profile, status } from './fixtures.js';

const text = (a: ReturnType<typeof describeMeter>) => [a.headline, a.detail, ...a.advice].join(' ');
/** Outage words in both languages: padam and gangguan are Indonesian for outage and fault. */
const OUTAGE_WORDS = /outage|padam|gangguan/i;
const DISCONNECT_WORDS = /disconnect|tusbung|arrears|pemutusan|tunggakan|diputus/i;

function answer(state: MeterState, outageId: string | null = null, lang: Lang = 'id') {
  return describeMeter({
    profile: profile(),
    status: status({
      state,
      relay: state === 'ENERGIZED' || state === 'OUTAGE' ? 'CLOSED' : 'OPEN',
      outage_id: outageId,
    }),
    outage: outageId ? outage({ outage_id: outageId }) : undefined,
    lang,
  });
}

describe.each(['id', 'en'] as const)('call-centre wording (%s)', (lang) => {
  it('never says outage for a disconnected meter, even one inside a gardu outage', () => {
    for (const s of ['DISCONNECTED', 'RECONNECT_ENABLED'] as const) {
      const a = answer(s, 'OUT-1', lang);
      expect(text(a)).not.toMatch(OUTAGE_WORDS);
      expect(a.outage_id).toBeNull();
    }
    expect(text(answer('DISCONNECTED', null, lang))).toMatch(/tusbung/);
  });

  it('never says disconnected for a meter in an outage, and names the outage and since when in WITA', () => {
    const a = answer('OUTAGE', 'OUT-1', lang);
    expect(text(a)).not.toMatch(DISCONNECT_WORDS);
    expect(a.detail).toContain('OUT-1');
    expect(a.detail).toContain('gardu GD-BALI-01');
    // Started 05:50 UTC: 13:50 in Bali (WITA, UTC+8); Indonesian writes 13.50.
    expect(a.detail).toContain(lang === 'id' ? '28 Nov 2026, 13.50 WITA' : '28 Nov 2026, 13:50 WITA');
    expect(a.outage_id).toBe('OUT-1');
  });

  it('an outage not yet confirmed is still an outage, never a disconnection', () => {
    const a = answer('OUTAGE', null, lang);
    expect(a.headline).toMatch(lang === 'id' ? /Padam/ : /outage/i);
    expect(text(a)).not.toMatch(DISCONNECT_WORDS);
  });

  it('energized, power-limit trip and unknown say neither outage nor disconnected', () => {
    for (const s of ['ENERGIZED', 'POWER_LIMIT_TRIP', 'UNKNOWN'] as const) {
      expect(text(answer(s, null, lang))).not.toMatch(OUTAGE_WORDS);
      expect(text(answer(s, null, lang))).not.toMatch(DISCONNECT_WORDS);
    }
  });

  it('tells the customer to press the up and down buttons for 3 to 5 seconds when reconnection is enabled', () => {
    expect(answer('RECONNECT_ENABLED', null, lang).advice.join(' ')).toMatch(
      lang === 'id'
        ? /menekan tombol atas dan bawah bersamaan selama 3-5 detik/
        : /press the up and down buttons together for 3 to 5 seconds/,
    );
  });

  it('links each state to the SOP answers that go with it', () => {
    expect(answer('DISCONNECTED', null, lang).faq).toContain('penormalan');
    expect(answer('OUTAGE', 'OUT-1', lang).faq).toContain('padam-vs-tusbung');
    expect(describeMeter({ profile: profile({ kdpm: 'A' }), lang }).faq).toEqual(['kdpm']);
  });

  it('says an AMR meter is not AMI and shows no remote state', () => {
    const a = describeMeter({ profile: profile({ kdpm: 'A' }), status: status({ state: 'OUTAGE' }), lang });
    expect(a.ami).toBe(false);
    expect(a.state).toBeNull();
    expect(a.headline).toMatch(lang === 'id' ? /AMR.*bukan meter AMI/ : /AMR.*not an AMI meter/);
    expect(a.kdpm_label).toMatch(lang === 'id' ? /BUKAN meter AMI/ : /NOT an AMI/);
    expect(text(a)).not.toMatch(/outage|padam/i);
  });
});

describe('call-centre wording', () => {
  it('is Indonesian unless English is asked for', () => {
    expect(describeMeter({ profile: profile() }).headline).toMatch(/Bertegangan/);
    expect(describeMeter({ profile: profile() }).lang).toBe('id');
  });

  it('a meter with no status record is energized', () => {
    expect(describeMeter({ profile: profile() }).state).toBe('ENERGIZED');
  });

  it('gives consumption in kWh and rupiah, flagging an estimate, with the local time', () => {
    const consumption = {
      billing_period: '2026-11-01',
      kwh: 123.456,
      amount_rp: 178_364.5,
      estimated: true,
      as_of: T0,
      reads_received: 96,
    };
    const id = describeMeter({ profile: profile(), consumption });
    expect(id.consumption_text).toBe(
      'Periode tagihan ini (2026-11) sampai 28 Nov 2026, 14.00 WITA: 123,5 kWh, Rp 178.365 (perkiraan: pembacaan batas periode diinterpolasi).',
    );
    const en = describeMeter({ profile: profile(), consumption, lang: 'en' });
    expect(en.consumption_text).toMatch(/123\.5 kWh, Rp 178\.365 \(estimated/);
    expect(describeMeter({ profile: profile() }).consumption_text).toMatch(/belum tersedia/);
    expect(formatRupiah(1_444.7)).toBe('Rp 1.445');
  });

  it('a period with no read says so plainly, never "0 kWh, Rp 0 (estimated)"', () => {
    const a = describeMeter({
      profile: profile(),
      consumption: {
        billing_period: '2026-11-01',
        kwh: 0,
        amount_rp: 0,
        estimated: true,
        as_of: T0,
        reads_received: 0,
      },
    });
    expect(a.consumption_text).toMatch(/belum ada pembacaan meter pada periode ini/);
    expect(a.consumption_text).not.toMatch(/0 kWh|Rp 0/);
  });

  it('billing period is the local month: 16:00 UTC on 31 Oct is November in WITA, October in WIB', () => {
    const t = Date.UTC(2026, 9, 31, 16, 0, 0);
    expect(billingPeriodOf(t, 'Asia/Makassar')).toBe('2026-11-01');
    expect(billingPeriodOf(t, 'Asia/Jakarta')).toBe('2026-10-01');
  });
});
