import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { CommonConfig } from './config.js';

/**
 * ClickHouse over HTTP. The idle socket TTL stays below the server's
 * keep_alive_timeout (3 s by default) so a reused socket is never one the
 * server already closed ("socket hang up").
 */
export function createClickHouse(
  cfg: Pick<CommonConfig, 'CLICKHOUSE_URL' | 'CLICKHOUSE_USER' | 'CLICKHOUSE_PASSWORD'>,
  database?: string,
  /** How long one request may take (120 s by default; a check over a day's reads takes longer). */
  requestTimeoutMs = 120_000,
): ClickHouseClient {
  return createClient({
    url: cfg.CLICKHOUSE_URL,
    username: cfg.CLICKHOUSE_USER,
    password: cfg.CLICKHOUSE_PASSWORD,
    database,
    // A busy event loop (the loader decoding a big batch) can outlive the TTL check:
    // destroy stale sockets before reuse instead of risking a hang-up.
    keep_alive: { enabled: true, idle_socket_ttl: 2000, eagerly_destroy_stale_sockets: true },
    request_timeout: requestTimeoutMs,
    clickhouse_settings: {
      // Without this, UInt64 come back as strings; our counts fit in a double.
      output_format_json_quote_64bit_integers: 0,
      // Progress headers keep long analyst queries from idling out the socket.
      send_progress_in_http_headers: 1,
      http_headers_progress_interval_ms: '10000',
    },
  });
}

/**
 * Where the command audit of the pipeline database `db` lives. `trail` holds the rows; no
 * service user may use that database (only the administrator, and read-only analysts).
 * `inbox` is the one door the web service's audit user may use: a Buffer table that writes
 * every INSERT straight into the trail and cannot be read, altered or truncated. ClickHouse
 * 18.16 grants per database only, hence two databases (docs/security.md).
 */
export function auditDatabases(db: string): { trail: string; inbox: string } {
  return { trail: `${db}_audit`, inbox: `${db}_audit_inbox` };
}
