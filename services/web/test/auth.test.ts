import { describe, expect, it } from 'vitest';
import { ConfigError } from '@ami/lib';
import { authenticate, authorize, hashToken, newToken, parseUsers, tokenOf } from '../src/auth.js';
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

  it('reads the bearer header first, else the login cookie', () => {
    expect(tokenOf('Bearer abc', 'ami_token=def')).toBe('abc');
    expect(tokenOf(undefined, 'x=1; ami_token=d%2Fef')).toBe('d/ef');
    expect(tokenOf('Basic xyz', undefined)).toBeUndefined();
  });
});

describe('roles', () => {
  const operator = { user: 'ani', role: 'operator' as const, token_sha256: '' };
  const viewer = { user: 'budi', role: 'viewer' as const, token_sha256: '' };

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
    expect([cfg.WEB_PORT, cfg.WEB_BIND, cfg.WEB_VIEWS_REQUIRE_AUTH]).toEqual([8080, '127.0.0.1', 'false']);
    expect(() => loadWebConfig({ WEB_PORT: 'eighty' })).toThrow(/WEB_PORT/);
  });
});
