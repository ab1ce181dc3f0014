import { z } from 'zod';
import { commonConfigSchema, envBoolean, parseConfig, serviceGroupId } from '@ami/lib';

/** The web service's settings; defaults fit the local stack (see README.md). */
const webFields = commonConfigSchema.extend({
  WEB_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Loopback by default: put a TLS reverse proxy in front to serve a LAN. */
  WEB_BIND: z.string().default('127.0.0.1'),
  /**
   * Users as JSON: [{"user":"ani","role":"operator","token_sha256":"<hex>"}].
   * Only hashes of tokens, never tokens. `ami web token` makes an entry.
   */
  AMI_WEB_USERS: z.string().optional(),
  /** Or a file holding the same JSON (read at start-up). */
  AMI_WEB_USERS_FILE: z.string().optional(),
  /** Require a token (viewer or operator) for the dashboard, the call-centre page, their APIs and /metrics. */
  WEB_VIEWS_REQUIRE_AUTH: envBoolean(false),
  /** How often the users file is checked for changes (revocation without a restart). */
  WEB_USERS_RELOAD_S: z.coerce.number().positive().max(3600).default(5),
  /** Lifetime of a browser sign-in (the cookie); never past the token's own expires_at. */
  WEB_SESSION_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 31)
    .default(12),
  /**
   * Key that signs sign-in cookies (32+ characters). Unset: a random key per process, so a
   * restart signs everyone out; set the same key on every instance behind one address.
   */
  WEB_SESSION_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  /** Mark the sign-in cookie `Secure` (set it behind a TLS proxy); it is also set on a request that came over TLS. */
  WEB_COOKIE_SECURE: envBoolean(false),
  /**
   * Addresses of the reverse proxies whose X-Forwarded-* headers are believed (comma-separated
   * addresses or CIDRs, e.g. 127.0.0.1); empty: none.
   */
  WEB_TRUST_PROXY: z.string().default(''),
  /**
   * ClickHouse user that writes the command audit (INSERT into `<db>_audit_inbox` only, see
   * docs/security.md), with a client of its own: the trail stays append-only whatever
   * CLICKHOUSE_USER may do. The local stack's password is CLICKHOUSE_AUDIT_PASSWORD in `.ami/secrets.env`.
   */
  CLICKHOUSE_AUDIT_USER: z.string().min(1).default('ami_audit'),
  CLICKHOUSE_AUDIT_PASSWORD: z.string().default(''),
  /** Command requests per user per minute (token bucket, burst = the same number). */
  WEB_COMMAND_REQUESTS_PER_MIN: z.coerce.number().int().positive().default(30),
  /** Meters targeted per user per minute, summed over requests (a tusbung campaign is one request). */
  WEB_COMMAND_METERS_PER_MIN: z.coerce.number().int().positive().default(20_000),
  /** Most meters one request may target. */
  WEB_CAMPAIGN_MAX: z.coerce.number().int().positive().default(20_000),
  /** Agents' "ping the meter now" (READ_NOW) per user per minute. */
  WEB_PINGS_PER_MIN: z.coerce.number().int().positive().default(6),
  /**
   * How long a ping waits for the head-end's result before saying the head-end gave none. The
   * head-end itself answers NO_ANSWER after the meter's medium time-out (PLC: tens of seconds, plus
   * the concentrator's queue): this must be longer than that.
   */
  WEB_PING_TIMEOUT_S: z.coerce.number().positive().max(600).default(90),
  /** Restored outages stay in the "recently restored" list this long. */
  WEB_RESTORED_WINDOW_H: z.coerce.number().positive().default(24),
  /** Chart window (hours) and how often ClickHouse history is refreshed. */
  WEB_CHART_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 31)
    .default(24),
  WEB_HISTORY_REFRESH_S: z.coerce.number().int().positive().default(60),
  /**
   * Consumer group prefix: each instance reads the compacted topics from the beginning in its own
   * group. Default `<AMI_TOPIC_PREFIX>-web`, so two pipelines on one cluster never share groups.
   */
  WEB_GROUP_PREFIX: z.string().min(1).optional(),
});

export const webConfigSchema = webFields.transform((c) => ({
  ...c,
  WEB_GROUP_PREFIX: c.WEB_GROUP_PREFIX ?? serviceGroupId(c.AMI_TOPIC_PREFIX, 'web'),
}));

export type WebConfig = z.infer<typeof webConfigSchema>;

export function loadWebConfig(env: Record<string, string | undefined> = process.env): WebConfig {
  return parseConfig(webConfigSchema, env);
}
