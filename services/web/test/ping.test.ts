import { describe, expect, it } from 'vitest';
import type { CommandResult } from '@ami/lib';
import { PingTracker, pingText, reasonText, type PingContext } from '../src/ping.js';
import { T0 } from './fixtures.js';

/** The head-end's answer to a READ_NOW, as schemas/CommandResult.avsc carries it. */
const result = (over: Partial<CommandResult> = {}): CommandResult => ({
  command_id: 'c1',
  meter_id: 'MTR-0001',
  type: 'READ_NOW',
  status: 'ACCEPTED',
  reason: null,
  decided_at: T0 + 4200,
  event_id: null,
  answered_in_ms: 4200,
  read_at: T0 + 4000,
  energy_import_wh: 12_345_600,
  voltage_v: 221,
  relay: 'CLOSED',
  ...over,
});
const refused = (reason: string, over: Partial<CommandResult> = {}) =>
  result({
    status: 'REFUSED',
    reason,
    answered_in_ms: null,
    read_at: null,
    energy_import_wh: null,
    voltage_v: null,
    relay: null,
    ...over,
  });

const bali: PingContext = { timeZone: 'Asia/Makassar', kdpm: 'L', gardu_id: 'GD-BALI-01', timeoutMs: 90_000 };

function pinged(): PingTracker {
  const p = new PingTracker(90_000);
  p.sent('c1', 'MTR-0001', T0);
  return p;
}

describe('ping the meter now', () => {
  it('waits, then shows the answer the head-end carries: powered, relay, stand in kWh, voltage, latency', () => {
    const p = pinged();
    expect(p.answer('c1', T0 + 1000)?.state).toBe('WAITING');
    expect(pingText(p.answer('c1', T0 + 1000)!, bali, 'id')).toBe(
      'Menunggu jawaban meter lewat PLC… (dikirim 28 Nov 2026, 14.00 WITA)',
    );
    p.onResult(result(), T0 + 4300);
    const a = p.answer('c1', T0 + 5000)!;
    expect(a).toMatchObject({
      state: 'ANSWERED',
      read: { stand_kwh: 12_345.6, voltage_v: 221, relay: 'CLOSED', powered: true, answered_in_ms: 4200 },
      result: { status: 'ACCEPTED' },
    });
    expect(pingText(a, bali, 'id')).toBe(
      'Meter menjawab 28 Nov 2026, 14.00 WITA (dalam 4,2 detik): bertegangan, relay tertutup, stand 12.345,6 kWh, 221 V.',
    );
    expect(pingText(a, bali, 'en')).toBe(
      'The meter answered 28 Nov 2026, 14:00 WITA (in 4.2 s): powered, relay closed, stand 12,345.6 kWh, 221 V.',
    );
  });

  it('a meter that does not answer within its medium’s time-out: "tidak menjawab", never "refused"', () => {
    const p = pinged();
    p.onResult(refused('NO_ANSWER: no answer over PLC within 45 s', { decided_at: T0 + 45_000 }), T0);
    const a = p.answer('c1', T0 + 46_000)!;
    expect(a.state).toBe('NO_ANSWER');
    expect(a.read).toBeNull();
    expect(pingText(a, bali, 'id')).toBe(
      'Meter tidak menjawab dalam batas waktu PLC (28 Nov 2026, 14.00 WITA): meter mungkin tanpa suplai atau di luar jangkauan komunikasi.',
    );
    expect(pingText(a, bali, 'en')).toMatch(
      /did not answer within the PLC time-out .*: it may be without supply or out of reach\.$/,
    );
  });

  it('a busy concentrator: try again, in both languages', () => {
    const p = pinged();
    p.onResult(refused('CONCENTRATOR_BUSY: 40 pings queued at DCU GD-BALI-01'), T0);
    const a = p.answer('c1', T0 + 1)!;
    expect(a.state).toBe('BUSY');
    expect(pingText(a, bali, 'id')).toMatch(/^Konsentrator sibuk, coba lagi/);
    expect(pingText(a, bali, 'en')).toMatch(/^The concentrator is busy, try again/);
  });

  it('another refusal shows the head-end’s reason; the head-end silent past the web’s wait: timed out', () => {
    const p = pinged();
    p.onResult(refused('UNKNOWN_METER: x'), T0);
    expect(p.answer('c1', T0 + 1)).toMatchObject({
      state: 'REFUSED',
      result: { reason: 'UNKNOWN_METER: x' },
    });
    expect(p.result('c1')?.status).toBe('REFUSED');

    p.sent('c2', 'MTR-0002', T0);
    expect(p.answer('c2', T0 + 89_999)?.state).toBe('WAITING');
    const late = p.answer('c2', T0 + 90_000)!;
    expect(late.state).toBe('TIMED_OUT');
    expect(pingText(late, bali, 'id')).toBe(
      'Head-end belum memberi hasil dalam 90 detik: keadaan meter belum diketahui; coba lagi nanti.',
    );
  });

  it('an ACCEPTED result without the answer fields (an older head-end) is not an answer', () => {
    const p = pinged();
    const {
      answered_in_ms: _a,
      read_at: _r,
      energy_import_wh: _e,
      voltage_v: _v,
      relay: _l,
      ...old
    } = result();
    p.onResult(old, T0);
    expect(p.answer('c1', T0 + 1)?.state).toBe('WAITING');
    expect(p.answer('c1', T0 + 90_000)?.state).toBe('TIMED_OUT');
  });

  it('an answer with no voltage is a meter not powered', () => {
    const p = pinged();
    p.onResult(result({ voltage_v: 0, relay: 'OPEN' }), T0);
    expect(p.answer('c1', T0 + 1)?.read).toMatchObject({ powered: false, relay: 'OPEN' });
  });

  it('words the head-end’s reasons agents meet, and shows others as sent', () => {
    expect(reasonText('NO_ANSWER: no answer over RF within 10 s', 'id')).toBe(
      'tidak menjawab (meter mungkin tanpa suplai atau di luar jangkauan)',
    );
    expect(reasonText('CONCENTRATOR_BUSY: queue full', 'en')).toBe('concentrator busy, try again');
    expect(reasonText('AMR_METER: no two-way control', 'id')).toBe('AMR_METER: no two-way control');
    expect(reasonText('NO_ANSWERING_MACHINE', 'id')).toBe('NO_ANSWERING_MACHINE');
  });

  it('forgets pings and results older than the keep window', () => {
    const p = new PingTracker(30_000, 60_000);
    p.sent('c1', 'MTR-0001', T0);
    p.prune(T0 + 120_000);
    expect(p.answer('c1', T0 + 120_000)).toBeUndefined();
  });
});
