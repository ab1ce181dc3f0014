import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import {
  auditDatabases,
  AvroCodec,
  createClickHouse,
  createKafka,
  createRegistry,
  sqlIdent,
  topicNames,
  valueSubject,
  type MeterProfile,
} from '@ami/lib';
import { Rng } from '@ami/simulator/prng';
import { migrate } from '@ami/loader/migrate';
import { newToken } from '@ami/web/auth';
import { rawRequest, type RawAnswer } from '@ami/web/testing/rawHttp';
import { eventually, testConfig, testLogger, uniqueName } from '../support/fixtures.js';
import { ServiceProcess } from '../support/pipeline.js';

/**
 * HTTP fuzz of the web service as a real `ami web` process on the main stack
 * (its own topic prefix and database). Seeded and bounded (WEB_FUZZ_COUNT
 * requests or WEB_FUZZ_MS, whichever ends first), it sends malformed request
 * targets and percent-encodings, raw bytes and control characters, odd
 * methods, huge and invalid headers, and invalid JSON and form bodies to every
 * route, without a token and with each kind of credential, over raw sockets
 * (fetch would normalise them). Every answer must be a 4xx, or a documented
 * 2xx/3xx for a request that happens to be valid; never a 5xx, never silence,
 * and the process must still be serving afterwards.
 */

const SEED = Number(process.env.WEB_FUZZ_SEED ?? 20261206);
const COUNT = Number(process.env.WEB_FUZZ_COUNT ?? 2000);
const BUDGET_MS = Number(process.env.WEB_FUZZ_MS ?? 20_000);
const WORKERS = 8;

const ROUTES: readonly [method: string, path: string][] = [
  ['GET', '/'],
  ['GET', '/callcentre'],
  ['GET', '/login'],
  ['POST', '/login'],
  ['POST', '/logout'],
  ['GET', '/api/outages'],
  ['GET', '/api/outages/stream'],
  ['GET', '/api/customers'],
  ['GET', '/api/customers/510000000001'],
  ['POST', '/api/commands'],
  ['GET', '/api/whoami'],
  ['GET', '/metrics'],
  ['GET', '/healthz'],
  ['GET', '/readyz'],
];

const BAD_ESCAPES = [
  '%',
  '%Z',
  '%E0%A4%A',
  '%FF%FE',
  '%C0%AF',
  '%C0%80',
  '%ED%A0%80',
  '%F0%9F%92',
  '%F4%90%80%80',
  '%00',
  '%0D%0A',
  '%5C',
  '%2F%2F',
  '%25%',
];
const METHODS = [
  'GET',
  'POST',
  'PUT',
  'DELETE',
  'PATCH',
  'OPTIONS',
  'HEAD',
  'TRACE',
  'BREW',
  'get',
  'CONNECT',
];
const BODIES = [
  '{"type":',
  '{"type":"DISCONNECT","meter_ids":["\\ud800"]}',
  '{"type":"SET_POWER_LIMIT","meter_ids":["MTR-F1"],"power_limit_va":1e400}',
  '{"type":"SET_POWER_LIMIT","meter_ids":["MTR-F1"],"power_limit_va":3000000000}',
  '{"type":"SET_POWER_LIMIT","meter_ids":["MTR-F1"],"power_limit_va":-0.5}',
  '{"type":"READ_NOW","meter_ids":["MTR-F1"],"reason":"\\u0000\\u001b[31m"}',
  '{"__proto__":{"admin":true},"type":"READ_NOW","meter_ids":["MTR-F1"]}',
  '{"constructor":{"prototype":{"x":1}},"type":"READ_NOW","meter_ids":["MTR-F1"]}',
  '{"type":"READ_NOW","idpels":' + JSON.stringify(Array.from({ length: 500 }, () => 'x'.repeat(64))) + '}',
  '['.repeat(20_000),
  '{"type":"READ_NOW","meter_ids":["MTR-F1"]}',
  '{"type":"SET_POWER_LIMIT","idpels":["510000000001"],"power_limit_va":900,"reason":"fuzz"}',
  'token=%E0%A4%A&next=//evil.example',
  'token=&next=/\\evil.example',
  'token=a&token=b&next=a&next=b',
  'null',
  '',
];
const CONTENT_TYPES = [
  'application/json',
  'application/x-www-form-urlencoded',
  'text/plain',
  'application/json; charset=utf-16',
  'multipart/form-data; boundary=x',
  '\u00ff/\u00fe',
  'application/json, application/json',
];

interface Credentials {
  viewer: string;
  operator: string;
  expired: string;
  cookie: string;
}

interface Case {
  how: string;
  bytes: Buffer;
  /** A malformed path: must be refused (4xx), never served. */
  mustRefuse: boolean;
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(0, items.length - 1)]!;

function authHeader(rng: Rng, c: Credentials): [string, string] {
  return pick<[string, string]>(rng, [
    ['none', ''],
    ['viewer', `Authorization: Bearer ${c.viewer}\r\n`],
    ['operator', `Authorization: Bearer ${c.operator}\r\n`],
    ['expired', `Authorization: Bearer ${c.expired}\r\n`],
    ['garbage', `Authorization: Bearer ${'x'.repeat(rng.int(1, 900))}\r\n`],
    ['basic', 'Authorization: Basic YWRtaW46YWRtaW4=\r\n'],
    ['cookie', `Cookie: ${c.cookie}\r\n`],
    ['forged-cookie', `Cookie: ${c.cookie.slice(0, -3)}abc\r\n`],
    ['bad-cookie', 'Cookie: ami_session=%E0%A4%A; ami_session=..; =;;\r\n'],
  ]);
}

/** One request: a route, then up to three mutations of its target, method, headers and body. */
function makeCase(rng: Rng, c: Credentials): Case {
  let [method, target] = pick(rng, ROUTES);
  const how: string[] = [`${method} ${target}`];
  let mustRefuse = false;
  let headers = '';
  let body: Buffer | null = null;
  let contentType: string | null = null;
  let hostHeader = 'Host: 127.0.0.1\r\n';
  const [authKind, auth] = authHeader(rng, c);
  how.push(`auth=${authKind}`);
  for (let m = rng.int(1, 3); m > 0; m--) {
    const kind = rng.int(0, 12);
    if (kind === 0) {
      const e = pick(rng, BAD_ESCAPES);
      // A bad escape in a path segment that the router decodes (a parameter): must be refused.
      target = target.startsWith('/api/customers/') ? `/api/customers/${e}` : `${target}/${e}`;
      mustRefuse ||= target.startsWith('/api/customers/');
      how.push(`escape ${e}`);
    } else if (kind === 1) {
      target += `${target.includes('?') ? '&' : '?'}${pick(rng, ['q', 'region', 'next', '__proto__', 'q[]'])}=${pick(rng, BAD_ESCAPES)}`;
      how.push('query escape');
    } else if (kind === 2) {
      const bytes = String.fromCharCode(rng.int(0x80, 0xff), rng.int(0x80, 0xff));
      target += bytes;
      how.push('raw high bytes in target');
    } else if (kind === 3) {
      target =
        pick(rng, ['//evil.example/', '/\\evil', '/./', '/../../etc/passwd', '*', 'http://evil/', '']) +
        target;
      how.push('odd target prefix');
    } else if (kind === 4) {
      target += 'a'.repeat(pick(rng, [200, 5000, 70_000]));
      how.push('long target');
    } else if (kind === 5) {
      method = pick(rng, METHODS);
      how.push(`method ${method}`);
    } else if (kind === 6) {
      headers += pick(rng, [
        `X-Big: ${'a'.repeat(20_000)}\r\n`,
        'Bad Header: x\r\n',
        'X-Nul: a\u0000b\r\n',
        'Content-Length: 5\r\nContent-Length: 6\r\n',
        'Transfer-Encoding: chunked, identity\r\n',
        'Expect: 100-continue\r\n',
        'X-Forwarded-Proto: https\r\nX-Forwarded-For: 10.0.0.1\r\n',
        `X-Unicode: ${'\u00e9\u00ff'.repeat(50)}\r\n`,
        'Accept: */*;q=NaN\r\n',
        'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: x\r\nSec-WebSocket-Version: 13\r\n',
        'Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n',
      ]);
      how.push('odd header');
    } else if (kind === 7) {
      hostHeader = pick(rng, ['', 'Host: \r\n', 'Host: a\r\nHost: b\r\n']);
      how.push('odd host');
    } else if (kind === 8 || kind === 9) {
      body = Buffer.from(pick(rng, BODIES), 'utf8');
      contentType = pick(rng, CONTENT_TYPES);
      how.push(`body ${body.subarray(0, 40).toString()} as ${contentType}`);
    } else if (kind === 10) {
      body = Buffer.from(Array.from({ length: rng.int(1, 300) }, () => rng.int(0, 255)));
      contentType = pick(rng, CONTENT_TYPES);
      how.push('random bytes body');
    } else if (kind === 12) {
      // The route's own valid body, so that valid requests are mixed in (documented 2xx/3xx answers).
      [body, contentType] =
        target === '/login'
          ? [Buffer.from(`token=${c.viewer}&next=%2Fcallcentre`), 'application/x-www-form-urlencoded']
          : [Buffer.from('{"type":"READ_NOW","meter_ids":["MTR-F1","MTR-NONE"]}'), 'application/json'];
      how.push('valid body');
    } else {
      headers += `Content-Type: ${pick(rng, CONTENT_TYPES)}\r\n`;
      how.push('content type without body');
    }
  }
  const bodyHeaders =
    body === null
      ? ''
      : `${contentType ? `Content-Type: ${contentType}\r\n` : ''}Content-Length: ${body.length}\r\n`;
  const head = `${method} ${target} HTTP/1.1\r\n${hostHeader}${auth}${headers}${bodyHeaders}Connection: close\r\n\r\n`;
  return {
    how: how.join(' | '),
    bytes: Buffer.concat([Buffer.from(head, 'latin1'), body ?? Buffer.alloc(0)]),
    mustRefuse,
  };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('web service under HTTP fuzz (real process)', () => {
  const cfg = testConfig();
  const db = uniqueName('it_webfuzz');
  const ch = createClickHouse(cfg);
  const dir = mkdtempSync(join(tmpdir(), 'ami-web-fuzz-'));
  const viewer = newToken('budi', 'viewer');
  const operator = newToken('ani', 'operator');
  const expired = newToken('old', 'operator', 1, Date.now() - 3 * 86_400_000);
  let web: ServiceProcess;
  let port = 0;
  let base = '';
  let producer: Producer | undefined;
  const creds: Credentials = {
    viewer: viewer.token,
    operator: operator.token,
    expired: expired.token,
    cookie: '',
  };

  beforeAll(async () => {
    await migrate(ch, db, testLogger);
    const usersFile = join(dir, 'users.json');
    writeFileSync(usersFile, JSON.stringify([viewer.entry, operator.entry, expired.entry]));
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    web = new ServiceProcess(
      'web',
      ['web'],
      {
        AMI_TOPIC_PREFIX: cfg.AMI_TOPIC_PREFIX,
        CLICKHOUSE_DB: db,
        WEB_PORT: String(port),
        AMI_WEB_USERS_FILE: usersFile,
        WEB_VIEWS_REQUIRE_AUTH: 'true',
        WEB_COMMAND_REQUESTS_PER_MIN: '600',
        LOG_LEVEL: 'warn',
        // The stack's audit user may use only the default database's audit inbox: this database's is written as the admin.
        CLICKHOUSE_AUDIT_USER: cfg.CLICKHOUSE_USER,
        CLICKHOUSE_AUDIT_PASSWORD: cfg.CLICKHOUSE_PASSWORD,
      },
      join(dir, 'web.log'),
    );
    await eventually(async () => ((await fetch(`${base}/readyz`)).ok ? true : undefined), {
      what: 'web service ready',
      timeoutMs: 90_000,
    });
    // One meter, so that some fuzzed commands are valid and go all the way to Kafka and the audit.
    const kafka = createKafka(cfg, testLogger, 'web-fuzz-producer');
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const codec = new AvroCodec(createRegistry(cfg));
    const topic = topicNames(cfg.AMI_TOPIC_PREFIX).meters;
    const meter: MeterProfile = {
      meter_id: 'MTR-F1',
      idpel: '510000000001',
      kdpm: 'L',
      phases: 1,
      tariff: 'R-1',
      daya_va: 1300,
      gardu_id: 'GD-1',
      feeder_id: 'PNY-1',
      ulp: 'SIDOARJO',
      region: 'JATIM',
      timezone: 'Asia/Jakarta',
      installed_at: Date.UTC(2025, 0, 1),
    };
    const encode = codec.encoder('MeterProfile', await codec.register('MeterProfile', valueSubject(topic)));
    await producer.send({ topic, acks: -1, messages: [{ key: meter.meter_id, value: encode(meter) }] });
    await eventually(
      async () =>
        (
          await fetch(`${base}/api/customers/MTR-F1`, {
            headers: { Authorization: `Bearer ${viewer.token}` },
          })
        ).ok
          ? true
          : undefined,
      { what: 'the fuzz meter known to the web service' },
    );
    const login = await fetch(`${base}/login`, {
      method: 'POST',
      body: new URLSearchParams({ token: viewer.token, next: '/' }),
      redirect: 'manual',
    });
    creds.cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  }, 150_000);

  afterAll(async () => {
    await producer?.disconnect();
    await web?.kill('SIGTERM');
    for (const d of [db, auditDatabases(db).trail, auditDatabases(db).inbox])
      await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(d)}` });
    await ch.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers every malformed request with a 4xx (or a documented answer to a valid one), never a 5xx, and stays up', async () => {
    const rng = new Rng(SEED);
    const deadline = Date.now() + BUDGET_MS;
    const results: { c: Case; a: RawAnswer }[] = [];
    let sent = 0;
    const worker = async () => {
      while (sent < COUNT && Date.now() < deadline) {
        sent++;
        const c = makeCase(rng, creds);
        results.push({ c, a: await rawRequest(port, c.bytes, 10_000, true) });
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, worker));

    const byStatus = new Map<number, number>();
    for (const { a } of results) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
    console.log(
      `web fuzz: seed ${SEED}, ${results.length} requests; answers by status:`,
      Object.fromEntries([...byStatus].sort(([a], [b]) => a - b)),
    );
    const bad = results.filter(
      ({ c, a }) =>
        a.status === 0 || a.status >= 500 || (c.mustRefuse && (a.status < 400 || a.status >= 500)),
    );
    expect(bad.slice(0, 5).map(({ c, a }) => `${a.status} <- ${c.how}`)).toEqual([]);
    expect(results.length).toBeGreaterThanOrEqual(Math.min(COUNT, 200));
    expect([...byStatus.keys()].some((s) => s >= 400 && s < 500)).toBe(true);

    // Still serving, the same process, and nothing ended up as an unexpected error in its log.
    expect(web.alive).toBe(true);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const who = await fetch(`${base}/api/whoami`, { headers: { Authorization: `Bearer ${operator.token}` } });
    expect(await who.json()).toEqual({ user: 'ani', role: 'operator' });
    expect(web.restarts).toBe(0);
    expect(web.log()).not.toMatch(/unhandled promise rejection|request failed/);
  });
});
