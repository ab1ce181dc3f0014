import { describe, expect, it } from 'vitest';
import { ConfigError } from '@ami/lib';
import {
  authenticate,
  authorize,
  hashToken,
  newToken,
  parseUsers,
  sessionEnd,
  signInTarget,
  signSession,
  tokenOf,
  verifySession,
} from '../src/auth.js';
import { RateLimiter } from '../src/rateLimit.js';

describe('users and tokens', () => {
  const op = newToken('ani', 'operator');
  const viewer = newToken('budi', 'viewer');
  const users = parseUsers(JSON.stringify([op.entry, viewer.entry]));

  it('stores only the sha256 of a token and finds the user by it', () => {
    expect(op.entry.token_sha256).toBe(hashToken(op.token));
    expect(JSON.stringify(users)).not.toContain(op.token);
    expect(authenticate(users, op.token)?.user).toBe('ani');
    expect(authenticate(users, viewer.token)?.role).toBe('viewer');
    expect(authenticate(users, 'wrong')).toBeUndefined();
    expect(authenticate(users, undefined)).toBeUndefined();
  });

  it('refuses malformed users JSON naming the problem', () => {
    expect(() => parseUsers('not json')).toThrow(ConfigError);
    expect(() => parseUsers('[{"user":"x","role":"admin","token_sha256":"00"}]')).toThrow(/role|sha256/);
    expect(() => parseUsers(JSON.stringify([op.entry, op.entry]))).toThrow(/twice/);
    expect(parseUsers(undefined)).toEqual([]);
  });

  it('reads the token from the bearer header only', () => {
    expect(tokenOf('Bearer abc')).toBe('abc');
    expect(tokenOf('bearer  abc ')).toBe('abc');
    expect(tokenOf('Basic xyz')).toBeUndefined();
    expect(tokenOf('Bearer a b')).toBeUndefined();
    expect(tokenOf(undefined)).toBeUndefined();
  });

  it('a token stops working at its expires_at; an entry without one is refused at start-up', () => {
    const now = Date.parse(op.entry.expires_at);
    expect(authenticate(users, op.token, now - 1)?.user).toBe('ani');
    expect(authenticate(users, op.token, now)).toBeUndefined();
    const { expires_at: _, ...noExpiry } = op.entry;
    expect(() => parseUsers(JSON.stringify([noExpiry]))).toThrow(/expires_at is required/);
    expect(() => parseUsers(JSON.stringify([{ ...op.entry, expires_at: 'soon' }]))).toThrow(/ISO 8601/);
    expect(newToken('x', 'viewer', 1, 0).entry.expires_at).toBe('1970-01-02T00:00:00.000Z');
  });
});

describe('browser sessions', () => {
  const key = Buffer.alloc(32, 7);
  const op = newToken('ani', 'operator', 30, 0);
  const users = parseUsers(JSON.stringify([op.entry]));
  const user = users[0]!;
  const value = signSession(key, user, 3_600_000);

  it('the cookie names the user and its end, never the token, and verifies only unaltered', () => {
    expect(value).not.toContain(op.token);
    expect(value).not.toContain(user.token_sha256);
    expect(verifySession(key, users, value, 1000)?.user).toBe('ani');
    expect(verifySession(Buffer.alloc(32, 8), users, value, 1000)).toBeUndefined();
    const [name, exp, mac] = value.split('.') as [string, string, string];
    expect(
      verifySession(key, users, `${name}.${(parseInt(exp, 36) * 2).toString(36)}.${mac}`, 1000),
    ).toBeUndefined();
    expect(
      verifySession(key, users, `${name}.${exp}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`, 1000),
    ).toBeUndefined();
    expect(verifySession(key, users, 'garbage', 1000)).toBeUndefined();
    expect(verifySession(key, users, undefined, 1000)).toBeUndefined();
  });

  it('ends at its expiry, and when the token is revoked or replaced', () => {
    expect(verifySession(key, users, value, 3_600_000)).toBeUndefined();
    expect(verifySession(key, [], value, 1000)).toBeUndefined();
    const replaced = [{ ...user, token_sha256: hashToken('new token') }];
    expect(verifySession(key, replaced, value, 1000)).toBeUndefined();
    expect(sessionEnd(user, 3_600_000 * 24 * 365, 0)).toBe(Date.parse(user.expires_at));
  });
});

describe('where sign-in goes next', () => {
  it('a page of this service with its query, else /', () => {
    expect(signInTarget('/callcentre?q=111111111111')).toBe('/callcentre?q=111111111111');
    expect(signInTarget('/')).toBe('/');
    expect(signInTarget('/?region=BALI')).toBe('/?region=BALI');
    for (const next of [
      undefined,
      '',
      '/\\evil.example',
      '//evil.example',
      '/%5Cevil.example',
      '\\\\evil.example',
      'https://evil.example/',
      'http:evil.example',
      '/\t/evil.example',
      '/\u3002/evil',
      '/callcentre\r\nSet-Cookie: a=b',
      '/api/commands',
      '/login?next=//evil.example',
      '/' + 'a'.repeat(3000),
    ])
      expect(signInTarget(next)).toBe('/');
  });
});

describe('roles', () => {
  const expires_at = '2099-01-01T00:00:00Z';
  const operator = { user: 'ani', role: 'operator' as const, token_sha256: '', expires_at };
  const viewer = { user: 'budi', role: 'viewer' as const, token_sha256: '', expires_at };

  it('operators may view and send every command', () => {
    for (const a of [
      'view',
      'command',
      'command:DISCONNECT',
      'command:ENABLE_RECONNECT',
      'command:SET_POWER_LIMIT',
      'command:READ_NOW',
    ] as const)
      expect(authorize(operator, a)).toEqual({ ok: true });
  });

  it('viewers may only view (403), and no token is 401', () => {
    expect(authorize(viewer, 'view')).toEqual({ ok: true });
    for (const a of [
      'command',
      'command:DISCONNECT',
      'command:ENABLE_RECONNECT',
      'command:READ_NOW',
    ] as const)
      expect(authorize(viewer, a)).toMatchObject({ ok: false, status: 403 });
    expect(authorize(undefined, 'view')).toMatchObject({ ok: false, status: 401 });
  });
});

describe('rate limiter', () => {
  it('allows a burst up to capacity, then refills at the rate', () => {
    let now = 0;
    const rl = new RateLimiter(60, 3, () => now);
    expect([1, 2, 3].map(() => rl.take('ani').ok)).toEqual([true, true, true]);
    const refused = rl.take('ani');
    expect(refused).toEqual({ ok: false, retryAfterMs: 1000 });
    expect(rl.take('budi').ok).toBe(true); // per user
    now = 1000;
    expect(rl.take('ani').ok).toBe(true);
  });

  it('costs can be more than one and never exceed capacity', () => {
    const rl = new RateLimiter(100, 100, () => 0);
    expect(rl.take('a', 80).ok).toBe(true);
    expect(rl.take('a', 30).ok).toBe(false);
    expect(rl.take('a', 101)).toEqual({ ok: false, retryAfterMs: Number.POSITIVE_INFINITY });
  });
});

describe('web config', () => {
  it('defaults to port 8080 on loopback and fails fast on bad values', async () => {
    const { loadWebConfig } = await import('../src/config.js');
    const cfg = loadWebConfig({});
    expect([cfg.WEB_PORT, cfg.WEB_BIND, cfg.WEB_VIEWS_REQUIRE_AUTH]).toEqual([8080, '127.0.0.1', false]);
    expect(() => loadWebConfig({ WEB_PORT: 'eighty' })).toThrow(/WEB_PORT/);
  });
});
