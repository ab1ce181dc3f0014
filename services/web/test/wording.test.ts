import { describe, expect, it } from 'vitest';
import type { MeterState } from '@ami/lib';
import { billingPeriodOf, describeMeter, formatRupiah } from '../src/wording.js';
import { T0, outage, profile, status } from './fixtures.js';

const text = (a: ReturnType<typeof describeMeter>) => [a.headline, a.detail, ...a.advice].join(' ');
const OUTAGE_WORDS = /outage|padam/i;
const DISCONNECT_WORDS = /disconnect|tusbung|arrears|pemutusan/i;

function answer(state: MeterState, outageId: string | null = null) {
  return describeMeter({
    profile: profile(),
    status: status({
      state,
      relay: state === 'ENERGIZED' || state === 'OUTAGE' ? 'CLOSED' : 'OPEN',
      outage_id: outageId,
    }),
    outage: outageId ? outage({ outage_id: outageId }) : undefined,
  });
}

describe('call-centre wording', () => {
  it('never says outage for a disconnected meter, even one inside a gardu outage', () => {
    for (const s of ['DISCONNECTED', 'RECONNECT_ENABLED'] as const) {
      const a = answer(s, 'OUT-1');
      expect(text(a)).not.toMatch(OUTAGE_WORDS);
      expect(a.outage_id).toBeNull();
    }
    expect(text(answer('DISCONNECTED'))).toMatch(/tusbung/);
  });

  it('never says disconnected for a meter in an outage, and names the outage and since when', () => {
    const a = answer('OUTAGE', 'OUT-1');
    expect(text(a)).not.toMatch(DISCONNECT_WORDS);
    expect(a.detail).toContain('OUT-1');
    expect(a.detail).toContain('gardu GD-BALI-01');
    expect(a.detail).toContain('28 Nov 2026, 13:50 WITA'); // started 05:50 UTC
    expect(a.outage_id).toBe('OUT-1');
  });

  it('an outage not yet confirmed is still an outage, never a disconnection', () => {
    const a = answer('OUTAGE');
    expect(a.headline).toMatch(/outage/i);
    expect(text(a)).not.toMatch(DISCONNECT_WORDS);
  });

  it('energized, power-limit trip and unknown say neither outage nor disconnected', () => {
    for (const s of ['ENERGIZED', 'POWER_LIMIT_TRIP', 'UNKNOWN'] as const) {
      expect(text(answer(s))).not.toMatch(OUTAGE_WORDS);
      expect(text(answer(s))).not.toMatch(DISCONNECT_WORDS);
    }
  });

  it('tells the customer to press the up and down buttons for 3 to 5 seconds when reconnection is enabled', () => {
    expect(answer('RECONNECT_ENABLED').advice.join(' ')).toMatch(
      /press the up and down buttons together for 3 to 5 seconds/,
    );
  });

  it('a meter with no status record is energized', () => {
    expect(describeMeter({ profile: profile() }).state).toBe('ENERGIZED');
  });

  it('says an AMR meter is not AMI and shows no remote state', () => {
    const a = describeMeter({ profile: profile({ kdpm: 'A' }), status: status({ state: 'OUTAGE' }) });
    expect(a.ami).toBe(false);
    expect(a.state).toBeNull();
    expect(a.headline).toMatch(/AMR.*not an AMI meter/);
    expect(a.kdpm_label).toMatch(/NOT an AMI/);
    expect(text(a)).not.toMatch(OUTAGE_WORDS);
  });

  it('gives consumption in kWh and rupiah, flagging an estimate', () => {
    const a = describeMeter({
      profile: profile(),
      consumption: {
        billing_period: '2026-11-01',
        kwh: 123.456,
        amount_rp: 178_364.5,
        estimated: true,
        as_of: T0,
      },
    });
    expect(a.consumption_text).toMatch(/123\.5 kWh, Rp 178\.365 \(estimated/);
    expect(describeMeter({ profile: profile() }).consumption_text).toMatch(/not available/);
    expect(formatRupiah(1_444.7)).toBe('Rp 1.445');
  });

  it('billing period is the local month: 16:00 UTC on 31 Oct is November in WITA, October in WIB', () => {
    const t = Date.UTC(2026, 9, 31, 16, 0, 0);
    expect(billingPeriodOf(t, 'Asia/Makassar')).toBe('2026-11-01');
    expect(billingPeriodOf(t, 'Asia/Jakarta')).toBe('2026-10-01');
  });
});
