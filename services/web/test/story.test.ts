import { describe, expect, it } from 'vitest';
import type { StoryData } from '../src/store.js';
import { buildStory } from '../src/story.js';
import { T0, profile, suspected } from './fixtures.js';

const H = 3_600_000;
const data = (over: Partial<StoryData> = {}): StoryData => ({
  events: [{ at: T0 - 5 * H, type: 'RELAY_OPENED', relay: 'OPEN', cause: 'REMOTE_DISCONNECT' }],
  outages: [
    {
      outage_id: 'OUT-9',
      scope: 'GARDU',
      started_at: T0 - 2 * H,
      restored_at: null,
      customers_affected: 87,
      momentary: false,
    },
  ],
  commands: [
    {
      command_id: 'c1',
      at: T0 - 5 * H - 60_000,
      issued_by: 'ani',
      role: 'operator',
      type: 'DISCONNECT',
      audit_result: 'SENT',
      detail: '',
      answer: { status: 'ACCEPTED', reason: null, decided_at: T0 - 5 * H - 59_000 },
    },
  ],
  latest_read: {
    read_at: T0 - 15 * 60_000,
    energy_import_wh: 1_234_567,
    voltage_v: 220.5,
    relay: 'CLOSED',
    kind: 'INTERVAL',
  },
  bills: [
    {
      billing_period: '2026-10-01',
      kwh: 150.25,
      amount_rp: 217_066,
      estimated: false,
      minimum_applied: false,
      reads_received: 2976,
      as_of: T0 - 28 * 24 * H,
    },
  ],
  ...over,
});

describe('the customer story', () => {
  it('shows the suspected outage being verified at its gardu, apart from confirmed ones', () => {
    const p = profile();
    const pending = suspected({ status: 'VERIFIED', pings_sent: 3, pings_silent: 3 });
    const s = buildStory(data(), [], p, 'id', T0, pending);
    expect(s.timeline.map((e) => e.kind)).toEqual(['suspected', 'outage', 'event', 'command']);
    expect(s.timeline[0]!.text).toMatch(
      /^Dugaan padam di gardu .+, belum terkonfirmasi: Terverifikasi ping; /,
    );
    expect(s.timeline[0]!.at_text).toMatch(/WITA$/);
    const en = buildStory(null, [], p, 'en', T0, pending);
    expect(en.timeline[0]!.text).toMatch(/^Suspected outage at .+, not confirmed yet: Verified by ping; /);
  });

  it('one timeline, newest first, local WITA times, in Indonesian', () => {
    const s = buildStory(data(), [], profile(), 'id', T0);
    expect(s.timeline.map((e) => e.kind)).toEqual(['outage', 'event', 'command']);
    expect(s.timeline[0]!.text).toBe('Padam gardu OUT-9: 87 pelanggan terdampak, belum menyala');
    expect(s.timeline[1]!.text).toBe('Relay terbuka (pemutusan jarak jauh (tusbung))');
    expect(s.timeline[2]!.text).toMatch(
      /^Perintah DISCONNECT oleh ani \(operator\): diterima head-end 28 Nov 2026, 08\.59 WITA$/,
    );
    expect(s.timeline[0]!.at_text).toBe('28 Nov 2026, 12.00 WITA');
    expect(s.latest_read_text).toBe('28 Nov 2026, 13.45 WITA: stand 1.234,6 kWh, 220,5 V, relay tertutup');
  });

  it('bills by month, and the current period with no read says so plainly', () => {
    const s = buildStory(data(), [], profile(), 'id', T0);
    expect(s.bills[0]).toMatchObject({
      billing_period: '2026-11-01',
      kwh_text: '—',
      amount_text: '—',
      basis_text: 'belum ada pembacaan pada periode ini',
    });
    expect(s.bills[1]).toMatchObject({
      period_text: '2026-10',
      kwh_text: '150,3',
      amount_text: 'Rp 217.066',
      basis_text: 'pasti (dari register)',
    });
    const noRead = buildStory(
      data({
        bills: [
          {
            billing_period: '2026-11-01',
            kwh: 0,
            amount_rp: 0,
            estimated: true,
            minimum_applied: false,
            reads_received: 0,
            as_of: T0,
          },
        ],
      }),
      [],
      profile(),
      'en',
      T0,
    );
    expect(noRead.bills).toHaveLength(1);
    expect(noRead.bills[0]).toMatchObject({
      kwh: null,
      amount_rp: null,
      basis_text: 'no read in this period yet',
    });
  });

  it('marks estimated bills and the minimum charge', () => {
    const s = buildStory(
      data({
        bills: [
          {
            billing_period: '2026-11-01',
            kwh: 3,
            amount_rp: 88_000,
            estimated: true,
            minimum_applied: true,
            reads_received: 40,
            as_of: T0,
          },
        ],
      }),
      [],
      profile(),
      'id',
      T0,
    );
    expect(s.bills[0]!.basis_text).toBe(
      'perkiraan (interpolasi); rekening minimum 40 jam berlaku (berjalan, sampai 28 Nov 2026, 14.00 WITA)',
    );
  });

  it('a refused command shows the head-end’s reason; ClickHouse down still shows the calls', () => {
    const d = data();
    d.commands[0]!.answer = { status: 'REFUSED', reason: 'AMR_METER: no control', decided_at: T0 };
    expect(buildStory(d, [], profile(), 'en', T0).timeline.at(-1)!.text).toMatch(
      /refused by the head-end: AMR_METER: no control/,
    );
    const down = buildStory(null, [], profile(), 'id', T0);
    expect(down.available).toBe(false);
    expect(down.latest_read_text).toMatch(/tidak tersedia/);
  });
});
