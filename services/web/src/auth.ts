import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, type MeterCommandType } from '@ami/lib';
import type { Localized, MessageKey } from './catalogue.js';

/**
 * Roles that match the work: `viewer` looks; `agent` (CC 123) looks up customers, pings
 * meters and logs calls; `unit` (ULP staff) works its ULP's forwarded complaints;
 * `operator` sends remote commands; `admin` may do everything.
 */
export const ROLES = ['viewer', 'agent', 'unit', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  user: string;
  role: Role;
  /** sha256 of the token, lower-case hex. The token itself is never stored. */
  token_sha256: string;
  /** When the token stops working (ISO 8601); `ami web token --days` sets it. */
  expires_at: string;
  /**
   * Where the user works: ULPs (unit staff see those complaints; operators command those
   * meters) and regions (operators). Empty or absent: everywhere.
   */
  ulps?: string[];
  regions?: string[];
}

/** Default token lifetime of `ami web token`. */
export const TOKEN_LIFETIME_DAYS = 90;

const usersSchema = z.array(
  z.object({
    user: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'a user name of letters, digits, . _ @ -'),
    role: z.enum(ROLES),
    token_sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'sha256 hex of the token (64 hex digits)')
      .transform((s) => s.toLowerCase()),
    expires_at: z
      .string({ required_error: 'expires_at is required: every token has an end (ami web token sets it)' })
      .datetime({ offset: true, message: 'expires_at: an ISO 8601 time, e.g. 2027-03-01T00:00:00Z' }),
    ulps: z.array(z.string().min(1).max(64)).max(1000).optional(),
    regions: z.array(z.string().min(1).max(64)).max(100).optional(),
  }),
);

/** Parses the users JSON (AMI_WEB_USERS or its file); fails fast naming the problem. */
export function parseUsers(json: string | undefined): User[] {
  if (!json || json.trim() === '') return [];
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`AMI_WEB_USERS is not JSON: ${(err as Error).message}`);
  }
  const parsed = usersSchema.safeParse(data);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `[${i.path.join('.')}] ${i.message}`).join('; ');
    throw new ConfigError(`AMI_WEB_USERS is invalid: ${why}`);
  }
  const names = parsed.data.map((u) => u.user);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new ConfigError(`AMI_WEB_USERS names user ${dup} twice`);
  return parsed.data;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A fresh random token (256 bits, URL-safe) and the users entry that accepts it until `days` from `now`. */
export function newToken(
  user: string,
  role: Role,
  days = TOKEN_LIFETIME_DAYS,
  now = Date.now(),
  scope: { ulps?: string[]; regions?: string[] } = {},
): { token: string; entry: User } {
  const token = `ami_${randomBytes(32).toString('base64url')}`;
  const expires_at = new Date(now + days * 86_400_000).toISOString();
  const entry: User = { user, role, token_sha256: hashToken(token), expires_at };
  if (scope.ulps) entry.ulps = scope.ulps;
  if (scope.regions) entry.regions = scope.regions;
  return { token, entry };
}

/** The token of `Authorization: Bearer <token>`; the sign-in cookie holds a session, never a token. */
export function tokenOf(authorization: string | undefined): string | undefined {
  const bearer = /^Bearer[ \t]+([\x21-\x7e]{1,512})[ \t]*$/i.exec(authorization ?? '');
  return bearer?.[1];
}

const unexpired = (u: User, now: number) => Date.parse(u.expires_at) > now;

/** The user whose token hash matches (compared in constant time) and has not expired; undefined if none. */
export function authenticate(
  users: readonly User[],
  token: string | undefined,
  now = Date.now(),
): User | undefined {
  if (!token) return undefined;
  const got = Buffer.from(hashToken(token), 'hex');
  let found: User | undefined;
  for (const u of users) {
    // Check every entry so the time taken does not tell which user matched.
    if (timingSafeEqual(got, Buffer.from(u.token_sha256, 'hex'))) found = u;
  }
  return found && unexpired(found, now) ? found : undefined;
}

/**
 * A browser session: `<user>.<expiry, base 36 ms>.<HMAC>`. The HMAC covers the
 * user's current token hash, so replacing or removing the token (revocation)
 * ends its sessions too; the cookie never holds the token.
 */
export function signSession(key: Buffer, user: User, expiresAt: number): string {
  const exp = Math.floor(expiresAt).toString(36);
  return `${user.user}.${exp}.${sessionMac(key, user, exp)}`;
}

function sessionMac(key: Buffer, user: User, exp: string): string {
  return createHmac('sha256', key).update(`${user.user}\n${exp}\n${user.token_sha256}`).digest('base64url');
}

/** The user of a session cookie value if its HMAC matches, it has not expired and the token still works. */
export function verifySession(
  key: Buffer,
  users: readonly User[],
  value: string | undefined,
  now = Date.now(),
): User | undefined {
  const m = /^([A-Za-z0-9._@-]{1,64})\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{43})$/.exec(value ?? '');
  if (!m) return undefined;
  const [, name, exp, mac] = m as unknown as [string, string, string, string];
  const user = users.find((u) => u.user === name);
  if (!user || parseInt(exp, 36) <= now || !unexpired(user, now)) return undefined;
  const want = Buffer.from(sessionMac(key, user, exp));
  const got = Buffer.from(mac);
  return got.length === want.length && timingSafeEqual(got, want) ? user : undefined;
}

/** When a session made now ends: the session lifetime, never past the token's own expiry. */
export function sessionEnd(user: User, lifetimeMs: number, now = Date.now()): number {
  return Math.min(now + lifetimeMs, Date.parse(user.expires_at));
}

const SIGN_IN_PAGES = new Set(['/', '/callcentre', '/complaints']);
const ORIGIN = 'http://ami.invalid';

/**
 * Where to go after signing in: a page of this service, with its query, else
 * `/`. Anything that is not plain printable ASCII starting with one `/`
 * (`//host`, `/\\host`, `https:`, control characters, encoded slashes) gives `/`.
 */
export function signInTarget(next: string | undefined): string {
  if (!next || next.length > 2048 || !/^\/(?![/\\])[\x21-\x7e]*$/.test(next) || next.includes('\\'))
    return '/';
  let url: URL;
  try {
    url = new URL(next, ORIGIN);
  } catch {
    return '/';
  }
  if (url.origin !== ORIGIN || !SIGN_IN_PAGES.has(url.pathname)) return '/';
  return url.pathname + url.search;
}

/**
 * `command` is any command at all (checked before the body is read); `command:X` one type.
 * `ping` is an agent's READ_NOW of one meter; `log_call` logging a CC 123 call;
 * `complaints` working the unit's complaints.
 */
export type Action = 'view' | 'ping' | 'log_call' | 'complaints' | 'command' | `command:${MeterCommandType}`;

const ALL_COMMANDS: readonly Action[] = [
  'command',
  'command:DISCONNECT',
  'command:ENABLE_RECONNECT',
  'command:SET_POWER_LIMIT',
  'command:READ_NOW',
];

const GRANTS: Readonly<Record<Role, ReadonlySet<Action>>> = {
  viewer: new Set<Action>(['view']),
  agent: new Set<Action>(['view', 'ping', 'log_call']),
  unit: new Set<Action>(['view', 'complaints']),
  operator: new Set<Action>(['view', 'ping', ...ALL_COMMANDS]),
  admin: new Set<Action>(['view', 'ping', 'log_call', 'complaints', ...ALL_COMMANDS]),
};

export function may(user: User | undefined, action: Action): boolean {
  return user !== undefined && GRANTS[user.role].has(action);
}

/** What a refusal says, as a catalogue message. */
export type Decision = { ok: true } | ({ ok: false; status: 401 | 403 } & Localized);

const WHAT: Readonly<Partial<Record<Action, MessageKey>>> = {
  view: 'what.view',
  command: 'what.commands',
  ping: 'what.command',
  log_call: 'what.log_call',
  complaints: 'what.complaints',
};

/** May `user` (undefined: no valid token) do `action`? 401 without identity, 403 without the role. */
export function authorize(user: User | undefined, action: Action): Decision {
  if (!user) return { ok: false, status: 401, key: 'error.auth_required' };
  if (GRANTS[user.role].has(action)) return { ok: true };
  const type = action.startsWith('command:') ? action.slice(8) : 'READ_NOW';
  return {
    ok: false,
    status: 403,
    key: 'error.forbidden',
    params: { user: user.user, role: user.role, type },
    keys: { what: WHAT[action] ?? 'what.command' },
  };
}
