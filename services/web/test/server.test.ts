import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, ServiceMetrics, type MeterCommand } from '@ami/lib';
import { newToken } from '../src/auth.js';
import { webConfigSchema } from '../src/config.js';
import { WebServer, type WebBackend } from '../src/server.js';
import { FixedUsers } from '../src/users.js';
import type { AuditRow } from '../src/store.js';
import { LatestTable, ProfileTable } from '../src/tables.js';
import type { MeterStatus } from '@ami/lib';
import { outage, profile, status, suspected, workspaceFakes } from './fixtures.js';

/** The HTTP layer against an in-memory backend: auth, roles, refusals, rate limits. */
const op = newToken('ani', 'operator');
const viewer = newToken('budi', 'viewer');
const profiles = new ProfileTable();
profiles.apply('MTR-1', profile({ meter_id: 'MTR-1', idpel: '111111111111' }));
profiles.apply('MTR-A', profile({ meter_id: 'MTR-A', idpel: '333333333333', kdpm: 'A' }));
profiles.apply('MTR-2', profile({ meter_id: 'MTR-2', idpel: '222222222222', gardu_id: 'GD-BALI-02' }));
const statuses = new LatestTable<MeterStatus>();
statuses.apply('MTR-1', status({ meter_id: 'MTR-1', state: 'DISCONNECTED', relay: 'OPEN' }));
const audited: AuditRow[] = [];
const sent: MeterCommand[] = [];
let kafkaDown = false;

const backend: WebBackend = {
  ...workspaceFakes(),
  profiles,
  status: (id) => statuses.get(id),
  outage: () => undefined,
  outages: () => [outage()],
  // OUT-1's suspicion is already confirmed (its Outage is known): shown once, as confirmed.
  suspected: () => [
    suspected({ outage_id: 'OUT-1' }),
    suspected({
      outage_id: 'OUT-S2',
      gardu_id: 'GD-BALI-02',
      status: 'VERIFIED',
      pings_sent: 3,
      pings_silent: 3,
    }),
  ],
  billing: async () => null,
  audit: async (rows) => void audited.push(...rows),
  send: async (c) => {
    if (kafkaDown) throw new Error('broker gone');
    sent.push(...c);
  },
  ready: () => true,
};

const cfg = webConfigSchema.parse({ WEB_PORT: '0', WEB_COMMAND_REQUESTS_PER_MIN: '5' });
const server = new WebServer(
  cfg,
  new FixedUsers([op.entry, viewer.entry]),
  backend,
  createLogger('test', 'silent'),
  new ServiceMetrics('web-test'),
);
let base = '';

beforeAll(async () => {
  base = `http://127.0.0.1:${(await server.listen()).port}`;
});
afterAll(() => server.close());

async function post(
  token: string | null,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}/api/commands`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('command API', () => {
  it('401 without a valid token, 403 for a viewer, and nothing is sent or audited', async () => {
    const body = { type: 'DISCONNECT', idpels: ['111111111111'] };
    expect((await post(null, body)).status).toBe(401);
    expect((await post('not-a-token', body)).status).toBe(401);
    const v = await post(viewer.token, body);
    expect(v.status).toBe(403);
    expect(v.json.error).toBe('Pengguna budi (peran viewer) tidak boleh mengirim perintah jarak jauh.');
    expect(sent).toHaveLength(0);
    expect(audited).toHaveLength(0);
  });

  it('a login cookie alone cannot send commands', async () => {
    const login = await fetch(`${base}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: op.token, next: '/' }),
      redirect: 'manual',
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const res = await fetch(`${base}/api/commands`, {
      method: 'POST',
      headers: { Cookie: cookie, 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'DISCONNECT', idpels: ['111111111111'] }),
    });
    expect(res.status).toBe(401);
  });

  it('an operator campaign reports sent and refused meters, audits all, sends only the valid', async () => {
    const r = await post(op.token, {
      type: 'DISCONNECT',
      idpels: ['111111111111', '333333333333', '999999999999'],
      reason: 'TUL VI-01',
    });
    expect(r.status).toBe(207);
    expect(r.json).toMatchObject({ sent: 1, refused: 2, failed: 0, issued_by: 'ani' });
    expect(sent.map((c) => [c.meter_id, c.type, c.issued_by, c.reason])).toEqual([
      ['MTR-1', 'DISCONNECT', 'ani', 'TUL VI-01'],
    ]);
    expect(audited.map((a) => [a.target, a.result])).toEqual([
      ['idpel:111111111111', 'SENT'],
      ['idpel:333333333333', 'REFUSED'],
      ['idpel:999999999999', 'REFUSED'],
    ]);
  });

  it('400 with a clear error for an unreadable request; 422 when every meter is refused', async () => {
    const bad = await post(op.token, { type: 'SET_POWER_LIMIT', idpels: ['111111111111'] });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/needs power_limit_va/);
    const none = await post(op.token, {
      type: 'SET_POWER_LIMIT',
      idpels: ['111111111111'],
      power_limit_va: 9000,
    });
    expect(none.status).toBe(422);
    expect(JSON.stringify(none.json)).toMatch(/POWER_LIMIT_OUT_OF_RANGE/);
  });

  it('503 and a SEND_FAILED audit row when Kafka refuses', async () => {
    kafkaDown = true;
    const r = await post(op.token, { type: 'READ_NOW', meter_ids: ['MTR-1'] });
    kafkaDown = false;
    expect(r.status).toBe(503);
    expect(r.json).toMatchObject({ sent: 0, failed: 1 });
    expect(audited.slice(-2).map((a) => a.result)).toEqual(['SENT', 'SEND_FAILED']);
  });

  it('429 with Retry-After once a user exceeds the request rate', async () => {
    let last = 0;
    for (let i = 0; i < 6; i++)
      last = (await post(op.token, { type: 'READ_NOW', meter_ids: ['MTR-1'] })).status;
    expect(last).toBe(429);
  });
});

describe('the head-end’s answers', () => {
  it('an operator’s READ_NOW reads like a ping: the meter’s answer, or "tidak menjawab" in words', async () => {
    const base0 = {
      meter_id: 'MTR-1',
      type: 'READ_NOW' as const,
      event_id: null,
      decided_at: Date.UTC(2026, 10, 28, 6),
    };
    backend.pings.onResult(
      {
        ...base0,
        command_id: 'rn-1',
        status: 'ACCEPTED',
        reason: null,
        answered_in_ms: 1500,
        read_at: base0.decided_at,
        energy_import_wh: 2_000_500,
        voltage_v: 219,
        relay: 'OPEN',
      },
      Date.now(),
    );
    backend.pings.onResult(
      { ...base0, command_id: 'rn-2', status: 'REFUSED', reason: 'NO_ANSWER: no answer over RF within 20 s' },
      Date.now(),
    );
    backend.pings.onResult(
      {
        ...base0,
        command_id: 'dc-1',
        type: 'DISCONNECT',
        status: 'REFUSED',
        reason: 'CONCENTRATOR_BUSY: queue full',
      },
      Date.now(),
    );
    const res = await fetch(`${base}/api/command-results?ids=rn-1,rn-2,dc-1&lang=id`, {
      headers: { Authorization: `Bearer ${op.token}` },
    });
    const { results } = (await res.json()) as { results: { command_id: string; text: string }[] };
    expect(results.map((r) => r.text)).toEqual([
      'Meter menjawab 28 Nov 2026, 14.00 WITA (dalam 1,5 detik): bertegangan, relay terbuka, stand 2.000,5 kWh, 219 V.',
      'Meter tidak menjawab dalam batas waktu RF (28 Nov 2026, 14.00 WITA): meter mungkin tanpa suplai atau di luar jangkauan komunikasi.',
      'Head-end: DISCONNECT ditolak: konsentrator sibuk, coba lagi',
    ]);
  });
});

describe('views', () => {
  it('answers the call centre by IDPEL or meter id, 404 for an unknown one', async () => {
    const a = (await (await fetch(`${base}/api/customers/111111111111`)).json()) as {
      state: string;
      headline: string;
    };
    expect(a).toMatchObject({ state: 'DISCONNECTED' });
    expect(a.headline).not.toMatch(/outage/i);
    expect((await fetch(`${base}/api/customers?q=MTR-A`)).status).toBe(200);
    expect((await fetch(`${base}/api/customers/000000000000`)).status).toBe(404);
  });

  it('lists suspected outages apart from confirmed ones, never as customers without supply', async () => {
    const v = (await (await fetch(`${base}/api/outages?lang=id`)).json()) as {
      totals: { active: number; customers_affected: number };
      suspected: {
        outage_id: string;
        status_text: string;
        verification_text: string;
        started_text: string;
      }[];
      suspected_totals: { verified: number };
    };
    expect(v.totals).toMatchObject({ active: 1, customers_affected: 120 });
    expect(v.suspected).toEqual([
      expect.objectContaining({
        outage_id: 'OUT-S2',
        status_text: 'Terverifikasi ping',
        verification_text: '3 ping: 0 menjawab, 3 tidak menjawab, 0 menunggu',
        started_text: expect.stringMatching(/ WITA$/),
      }),
    ]);
    expect(v.suspected_totals.verified).toBe(1);
    const a = (await (await fetch(`${base}/api/customers/222222222222?lang=id`)).json()) as {
      headline: string;
      suspected: { outage_id: string } | null;
    };
    expect(a.headline).toBe(
      'Kemungkinan padam di gardu GD-BALI-02: terverifikasi dengan ping, menunggu konfirmasi',
    );
    expect(a.suspected?.outage_id).toBe('OUT-S2');
  });

  it('serves the outage view, the pages and health', async () => {
    const v = (await (await fetch(`${base}/api/outages`)).json()) as {
      totals: { active: number };
      chart_svg: string;
    };
    expect(v.totals.active).toBe(1);
    expect(v.chart_svg).toMatch(/^<svg/);
    expect(await (await fetch(`${base}/`)).text()).toMatch(/EventSource/);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/ami_web_command_meters_total/);
  });

  it('with WEB_VIEWS_REQUIRE_AUTH, pages redirect to sign-in and APIs need a viewer token', async () => {
    const locked = new WebServer(
      { ...cfg, WEB_VIEWS_REQUIRE_AUTH: true },
      new FixedUsers([viewer.entry]),
      backend,
      createLogger('test', 'silent'),
      new ServiceMetrics('web-test2'),
    );
    const url = `http://127.0.0.1:${(await locked.listen()).port}`;
    try {
      expect((await fetch(`${url}/callcentre`, { redirect: 'manual' })).status).toBe(303);
      expect((await fetch(`${url}/api/outages`)).status).toBe(401);
      expect(
        (await fetch(`${url}/api/outages`, { headers: { Authorization: `Bearer ${viewer.token}` } })).status,
      ).toBe(200);
      const login = await fetch(`${url}/login`, {
        method: 'POST',
        body: new URLSearchParams({ token: viewer.token, next: '/callcentre' }),
        redirect: 'manual',
      });
      expect(login.status).toBe(303);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      expect((await fetch(`${url}/callcentre`, { headers: { Cookie: cookie } })).status).toBe(200);
    } finally {
      await locked.close();
    }
  });
});
