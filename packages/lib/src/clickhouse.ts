import { createClient, type ClickHouseClient } from '@clickhouse/client';
import type { CommonConfig } from './config.js';
import { AmiError, ClickHouseError, UnavailableError } from './errors.js';

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

/**
 * ClickHouse error codes (src/Common/ErrorCodes.cpp) the pipeline meets, by whether a retry can
 * help. Not retriable: the schema differs from what the query expects (a table or column
 * missing, a type that does not match, the query malformed) or the login is refused; the same
 * query fails again until someone migrates or reconfigures. Retriable: load and network.
 */
export const CLICKHOUSE_ERROR_CODES: Readonly<Record<number, { name: string; retriable: boolean }>> = {
  8: { name: 'THERE_IS_NO_COLUMN', retriable: false },
  10: { name: 'NOT_FOUND_COLUMN_IN_BLOCK', retriable: false },
  16: { name: 'NO_SUCH_COLUMN_IN_TABLE', retriable: false },
  27: { name: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED', retriable: false },
  44: { name: 'ILLEGAL_COLUMN', retriable: false },
  47: { name: 'UNKNOWN_IDENTIFIER', retriable: false },
  53: { name: 'TYPE_MISMATCH', retriable: false },
  60: { name: 'UNKNOWN_TABLE', retriable: false },
  62: { name: 'SYNTAX_ERROR', retriable: false },
  81: { name: 'UNKNOWN_DATABASE', retriable: false },
  164: { name: 'READONLY', retriable: false },
  192: { name: 'UNKNOWN_USER', retriable: false },
  193: { name: 'WRONG_PASSWORD', retriable: false },
  194: { name: 'REQUIRED_PASSWORD', retriable: false },
  291: { name: 'DATABASE_ACCESS_DENIED', retriable: false },
  497: { name: 'ACCESS_DENIED', retriable: false },
  516: { name: 'AUTHENTICATION_FAILED', retriable: false },
  159: { name: 'TIMEOUT_EXCEEDED', retriable: true },
  202: { name: 'TOO_MANY_SIMULTANEOUS_QUERIES', retriable: true },
  209: { name: 'SOCKET_TIMEOUT', retriable: true },
  210: { name: 'NETWORK_ERROR', retriable: true },
  241: { name: 'MEMORY_LIMIT_EXCEEDED', retriable: true },
  242: { name: 'TABLE_IS_READ_ONLY', retriable: true },
  252: { name: 'TOO_MANY_PARTS', retriable: true },
  319: { name: 'UNKNOWN_STATUS_OF_INSERT', retriable: true },
  394: { name: 'QUERY_WAS_CANCELLED', retriable: true },
};

/**
 * The server's error code of a failed request: @clickhouse/client's `code` (current servers:
 * the message ends in `(TYPE)`), else the `Code: NNN` that starts every exception text (18.16's
 * `Code: 60, e.displayText() = ...`, also what an error in the body of a streamed response shows).
 */
export function clickhouseErrorCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
  const m = /(?:^|\W)Code: (\d+)[.,]/.exec(String((err as { message?: unknown }).message ?? ''));
  return m ? Number(m[1]) : undefined;
}

/**
 * A failure of `what` as a typed error: a ClickHouseError when the server answered with a code
 * (retriable by CLICKHOUSE_ERROR_CODES; a code not listed is retriable, as the server may recover),
 * else an UnavailableError (no answer: refused connection, reset socket, timeout).
 */
export function toClickHouseError(what: string, err: unknown): AmiError {
  if (err instanceof AmiError) return err;
  const message = String((err as { message?: unknown } | null)?.message ?? err);
  const code = clickhouseErrorCode(err);
  if (code === undefined) return new UnavailableError('clickhouse', `${what} failed: ${message}`, err);
  const known = CLICKHOUSE_ERROR_CODES[code];
  const name = known?.name ?? `CLICKHOUSE_ERROR_${code}`;
  return new ClickHouseError(
    `clickhouse: ${what} failed with ${name} (code ${code}): ${message.slice(0, 500)}`,
    code,
    name,
    known?.retriable ?? true,
    err,
  );
}
