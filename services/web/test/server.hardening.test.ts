import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ServiceMetrics, type MeterCommand } from '@ami/lib';
import { newToken, parseUsers } from '../src/auth.js';
import { webConfigSchema } from '../src/config.js';
import { WebServer, type WebBackend } from '../src/server.js';
import { FixedUsers, UsersFile } from '../src/users.js';
import type { AuditRow } from '../src/store.js';
import { LatestTable, ProfileTable } from '../src/tables.js';
import type { MeterStatus } from '@ami/lib';
import { outage, profile, workspaceFakes } from './fixtures.js';
import { rawGet, rawRequest } from './rawHttp.js';

/** What a hostile client found (issue 19): malformed targets, open redirects, echoed backend errors. */
const op = newToken('ani', 'operator');
const viewer = newToken('budi', 'viewer');
const profiles = new ProfileTable();
profiles.apply('MTR-1', profile({ meter_id: 'MTR-1', idpel: '111111111111', daya_va: 2200 }));
const audited: AuditRow[] = [];
const sent: MeterCommand[] = [];
const faults = { audit: null as Error | null, send: null as Error | null };
const logLines: string[] = [];
const logger = pino(
  { level: 'warn' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(chunk.toString());
      done();
    },
  }),
);

const backend: WebBackend = {
  ...workspaceFakes(),
  profiles,
  status: (id) => new LatestTable<MeterStatus>().get(id),
  outage: () => undefined,
  outages: () => [outage()],
  billing: async () => null,
  audit: async (rows) => {
    if (faults.audit) throw faults.audit;
    audited.push(...rows);
  },
  send: async (c) => {
    if (faults.send) throw faults.send;
    sent.push(...c);
  },
  ready: () => true,
};

function start(env: Record<string, string>, users = [op.entry, viewer.entry]) {
  const cfg = webConfigSchema.parse({ WEB_PORT: '0', ...env });
  return new WebServer(
    cfg,
    new FixedUsers(users),
    backend,
    logger,
    new ServiceMetrics(`web-h-${Math.random()}`),
  );
}

const server = start({});
let port = 0;
let base = '';
beforeAll(async () => {
  port = (await server.listen()).port;
  base = `http://127.0.0.1:${port}`;
});
afterAll(() => server.close());

describe('malformed request targets', () => {
  it('a malformed percent-encoding in the path gets 400, and the next request is still answered', async () => {
    const r = await rawGet(port, '/api/customers/%E0%A4%A');
    expect(r.status).toBe(400);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('every kind of broken target gets a 4xx and the service keeps serving', async () => {
    const targets = [
      '/api/customers/%',
      '/api/customers/%FF%FE',
      '/api/customers/%ED%A0%80',
      '/api/customers/%00',
      '/%E0%A4%A',
      '/api/customers?q=%E0%A4%A',
      '/api/customers?q=%ZZ',
      '/api/outages?region=%00',
      '/api/outages?region=a&region=b',
      '*',
      'http://evil.example/',
      '/api/customers/' + 'x'.repeat(5000),
      '/api/customers/%F0%9F%92',
    ];
    for (const t of targets) {
      const r = await rawGet(port, t);
      expect({ t, status: r.status >= 400 && r.status < 500 }).toEqual({ t, status: true });
    }
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('a bad method, a bad body or a bad header gets a 4xx', async () => {
    const answers = await Promise.all([
      rawRequest(port, 'BREW /api/commands HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
      rawRequest(port, 'GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\nConnection: close\r\n\r\n'),
      rawRequest(
        port,
        `POST /api/commands HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${op.token}\r\nContent-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{"type"`,
      ),
      rawRequest(
        port,
        `POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoken=%E0`,
      ),
    ]);
    expect(answers.map((a) => a.status >= 400 && a.status < 500)).toEqual([true, true, true, true]);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

describe('sign-in', () => {
  const login = async (url: string, next: string, token = viewer.token) =>
    fetch(`${url}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token, next }),
      redirect: 'manual',
    });

  it('redirects only to a page of this service, whatever next says', async () => {
    const hostile = [
      '/\\evil.example',
      '//evil.example',
      '/%5Cevil.example',
      '/%2F%2Fevil.example',
      '\\\\evil.example',
      '/\\/evil.example',
      'https://evil.example/',
      'http:evil.example',
      'javascript:alert(1)',
      '/\t/evil.example',
      ' //evil.example',
      '/\r\nSet-Cookie: x=1',
      '/callcentre@evil.example',
      '//%09/evil.example',
      '/.//evil.example',
      '/api/commands',
    ];
    for (const next of hostile) {
      const res = await login(base, next);
      expect(res.status).toBe(303);
      const location = res.headers.get('location')!;
      const target = new URL(location, base);
      expect({ next, origin: target.origin, path: target.pathname }).toEqual({
        next,
        origin: base,
        path: '/',
      });
      expect(location).not.toMatch(/[\\\s]/);
    }
    const ok = await login(base, '/callcentre?q=111111111111');
    expect(ok.headers.get('location')).toBe('/callcentre?q=111111111111');
  });

  it('the login cookie does not hold the token; it is HttpOnly, SameSite and Secure when configured', async () => {
    const secure = start({ WEB_VIEWS_REQUIRE_AUTH: 'true', WEB_COOKIE_SECURE: 'true' });
    const url = `http://127.0.0.1:${(await secure.listen()).port}`;
    try {
      const res = await login(url, '/');
      const cookie = res.headers.get('set-cookie')!;
      expect(cookie).not.toContain(viewer.token);
      expect(cookie).not.toContain(encodeURIComponent(viewer.token));
      expect(cookie).toMatch(/HttpOnly/i);
      expect(cookie).toMatch(/SameSite=Strict/i);
      expect(cookie).toMatch(/;\s*Secure/i);
      const pair = cookie.split(';')[0]!;
      expect((await fetch(`${url}/api/outages`, { headers: { Cookie: pair } })).status).toBe(200);
      // A forged or altered cookie is refused.
      const forged = pair.slice(0, -2) + (pair.endsWith('AA') ? 'BB' : 'AA');
      expect((await fetch(`${url}/api/outages`, { headers: { Cookie: forged } })).status).toBe(401);
    } finally {
      await secure.close();
    }
  });
});

describe('tokens and metrics', () => {
  it('an expired token is refused', async () => {
    const old = newToken('cici', 'operator');
    const users = parseUsers(
      JSON.stringify([{ ...old.entry, expires_at: new Date(Date.now() - 1000).toISOString() }]),
    );
    const s = start({}, users);
    const url = `http://127.0.0.1:${(await s.listen()).port}`;
    try {
      const res = await fetch(`${url}/api/whoami`, { headers: { Authorization: `Bearer ${old.token}` } });
      expect(res.status).toBe(401);
    } finally {
      await s.close();
    }
  });

  it('removing a user from the users file revokes the token and its sign-in without a restart; a broken file fails closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ami-users-'));
    const file = join(dir, 'users.json');
    writeFileSync(file, JSON.stringify([op.entry, viewer.entry]));
    const users = new UsersFile(file, logger, 20);
    const cfg = webConfigSchema.parse({ WEB_PORT: '0', WEB_VIEWS_REQUIRE_AUTH: 'true' });
    const s = new WebServer(cfg, users, backend, logger, new ServiceMetrics('web-h-revoke'));
    const url = `http://127.0.0.1:${(await s.listen()).port}`;
    const whoami = (headers: Record<string, string>) =>
      fetch(`${url}/api/outages`, { headers }).then((r) => r.status);
    const until = async (probe: () => Promise<boolean>) => {
      const deadline = Date.now() + 5000;
      while (!(await probe())) {
        if (Date.now() > deadline) throw new Error('not in time');
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    try {
      const login = await fetch(`${url}/login`, {
        method: 'POST',
        body: new URLSearchParams({ token: viewer.token, next: '/' }),
        redirect: 'manual',
      });
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      expect(await whoami({ Authorization: `Bearer ${viewer.token}` })).toBe(200);
      expect(await whoami({ Cookie: cookie })).toBe(200);

      writeFileSync(file, JSON.stringify([op.entry]));
      await until(async () => (await whoami({ Authorization: `Bearer ${viewer.token}` })) === 401);
      expect(await whoami({ Cookie: cookie })).toBe(401);
      expect(await whoami({ Authorization: `Bearer ${op.token}` })).toBe(200);

      writeFileSync(file, '[{"user":');
      await until(async () => (await whoami({ Authorization: `Bearer ${op.token}` })) === 401);
      expect(logLines.some((l) => l.includes('users file invalid'))).toBe(true);
    } finally {
      await s.close();
      users.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('/metrics needs a token when the views do', async () => {
    const s = start({ WEB_VIEWS_REQUIRE_AUTH: 'true' });
    const url = `http://127.0.0.1:${(await s.listen()).port}`;
    try {
      expect((await fetch(`${url}/metrics`)).status).toBe(401);
      const res = await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${viewer.token}` } });
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/ami_web_command_meters_total/);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('command input at the edge', () => {
  const post = async (body: string) => {
    const res = await fetch(`${base}/api/commands`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${op.token}` },
      body,
    });
    return { status: res.status, text: await res.text() };
  };

  it('refuses numbers and strings that Kafka or ClickHouse could not take (400), auditing and sending nothing', async () => {
    const before = [audited.length, sent.length];
    const bad = [
      '{"type":"SET_POWER_LIMIT","meter_ids":["MTR-1"],"power_limit_va":3000000000}',
      '{"type":"SET_POWER_LIMIT","meter_ids":["MTR-1"],"power_limit_va":1e308}',
      '{"type":"SET_POWER_LIMIT","meter_ids":["MTR-1"],"power_limit_va":-5}',
      '{"type":"READ_NOW","meter_ids":["MTR-1"],"reason":"\\ud800"}',
      '{"type":"READ_NOW","meter_ids":["MTR-1\\u0000"]}',
      '{"type":"READ_NOW","meter_ids":["MTR-1"],"reason":"a\\u0007b"}',
      '{"type":"READ_NOW","idpels":["\\udfff11111111111"]}',
      '{"type":"READ_NOW","meter_ids":[1]}',
      '{"type":"READ_NOW","meter_ids":"MTR-1"}',
      '[]',
      '"x"',
      'null',
    ];
    for (const body of bad) {
      const r = await post(body);
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
      expect(JSON.parse(r.text)).toHaveProperty('error');
    }
    expect([audited.length, sent.length]).toEqual(before);
  });

  it('never echoes a backend error to the client; the error id leads to the log', async () => {
    faults.audit = new Error('Code: 53. DB::Exception: Type mismatch in secret_db.command_audit');
    const r = await post('{"type":"READ_NOW","meter_ids":["MTR-1"]}');
    faults.audit = null;
    expect(r.status).toBe(503);
    expect(r.text).not.toMatch(/DB::Exception|secret_db/);
    const { error_id } = JSON.parse(r.text) as { error_id: string };
    expect(error_id).toMatch(/\w{8}/);
    expect(logLines.filter((l) => l.includes(error_id) && l.includes('DB::Exception'))).toHaveLength(1);

    faults.send = new Error('KafkaJSProtocolError: broker-7.internal:9093 NOT_LEADER');
    const s = await post('{"type":"READ_NOW","meter_ids":["MTR-1"]}');
    faults.send = null;
    expect(s.status).toBe(503);
    expect(s.text).not.toMatch(/broker-7|NOT_LEADER/);
    expect(audited.at(-1)).toMatchObject({ result: 'SEND_FAILED' });
  });
});
