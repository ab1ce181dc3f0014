import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, type MeterCommandType } from '@ami/lib';

export type Role = 'viewer' | 'operator';

export interface User {
  user: string;
  role: Role;
  /** sha256 of the token, lower-case hex. The token itself is never stored. */
  token_sha256: string;
}

const usersSchema = z.array(
  z.object({
    user: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'a user name of letters, digits, . _ @ -'),
    role: z.enum(['viewer', 'operator']),
    token_sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'sha256 hex of the token (64 hex digits)')
      .transform((s) => s.toLowerCase()),
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

/** A fresh random token (256 bits, URL-safe) and the users entry that accepts it. */
export function newToken(user: string, role: Role): { token: string; entry: User } {
  const token = `ami_${randomBytes(32).toString('base64url')}`;
  return { token, entry: { user, role, token_sha256: hashToken(token) } };
}

/** The token of a request: `Authorization: Bearer <token>`, else the `ami_token` cookie. */
export function tokenOf(authorization: string | undefined, cookie: string | undefined): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (bearer) return bearer[1];
  const c = /(?:^|;\s*)ami_token=([^;]+)/.exec(cookie ?? '');
  return c ? decodeURIComponent(c[1]!) : undefined;
}

/** The user whose token hash matches, compared in constant time; undefined if none. */
export function authenticate(users: readonly User[], token: string | undefined): User | undefined {
  if (!token) return undefined;
  const got = Buffer.from(hashToken(token), 'hex');
  let found: User | undefined;
  for (const u of users) {
    // Check every entry so the time taken does not tell which user matched.
    if (timingSafeEqual(got, Buffer.from(u.token_sha256, 'hex'))) found = u;
  }
  return found;
}

/** `command` is any command at all (checked before the body is read); `command:X` one type. */
export type Action = 'view' | 'command' | `command:${MeterCommandType}`;

const GRANTS: Readonly<Record<Role, ReadonlySet<Action>>> = {
  viewer: new Set<Action>(['view']),
  operator: new Set<Action>([
    'view',
    'command',
    'command:DISCONNECT',
    'command:ENABLE_RECONNECT',
    'command:SET_POWER_LIMIT',
    'command:READ_NOW',
  ]),
};

export type Decision = { ok: true } | { ok: false; status: 401 | 403; error: string };

/** May `user` (undefined: no valid token) do `action`? 401 without identity, 403 without the role. */
export function authorize(user: User | undefined, action: Action): Decision {
  if (!user)
    return { ok: false, status: 401, error: 'authentication required: send Authorization: Bearer <token>' };
  if (GRANTS[user.role].has(action)) return { ok: true };
  const what =
    action === 'view' ? 'view' : action === 'command' ? 'send remote commands' : `send ${action.slice(8)}`;
  return { ok: false, status: 403, error: `user ${user.user} (role ${user.role}) may not ${what}` };
}
