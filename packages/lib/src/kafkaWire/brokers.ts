import { isRetriable, UnavailableError } from '../errors.js';
import { APIS } from './apis.js';
import { decodeMetadataResponse, encodeMetadataRequest, type BrokerAddress } from './messages/metadata.js';
import { Connection, type WireTls } from './protocol.js';
import { openSession, type WireSasl } from './session.js';

export type { BrokerAddress };

/** How a wire client reaches the brokers: addresses, TLS and SASL (see kafka.ts `wireClientOptions`). */
export interface BrokerConnectionsOptions {
  /** Bootstrap addresses, host:port. */
  brokers: string[];
  /** TLS (certificate and host name verified) or plain TCP. */
  ssl: boolean | WireTls;
  /** SASL credentials: every connection authenticates before its first request. */
  sasl?: WireSasl;
  clientId: string;
  /** Leaders are reloaded when older than this even without an error (default 5 min, Java's metadata.max.age.ms). */
  metadataMaxAgeMs?: number;
}

/**
 * When leaders are reloaded without an error: `stale()` is true once they are
 * older than the maximum age, and stays false while a reload runs.
 */
export class MetadataAge {
  private loadedAt = Date.now();
  private loading = false;
  constructor(private readonly maxAgeMs = 5 * 60_000) {}
  stale(now = Date.now()): boolean {
    return !this.loading && now - this.loadedAt > this.maxAgeMs;
  }
  /** Runs a reload in the background (its failure leaves the old leaders; the next error reloads again). */
  refreshInBackground(load: () => Promise<void>): void {
    this.loading = true;
    void load()
      .then(() => (this.loadedAt = Date.now()))
      .catch(() => undefined)
      .finally(() => (this.loading = false));
  }
  loaded(): void {
    this.loadedAt = Date.now();
  }
}

/**
 * A Metadata answer: broker addresses, the leader of every partition of each
 * topic that had no error, and the error code of each topic that had one.
 */
export interface ClusterMetadata {
  brokers: Map<number, BrokerAddress>;
  leaders: Map<string, number[]>;
  topicErrors: Map<string, number>;
}

/**
 * The brokers a wire client talks to: their addresses (from Metadata) and one
 * pipelined connection per broker id, opened on first use and replaced when
 * it dies. Shared by WireProducer and WireFetcher, which keep their own
 * leaders (they merge Metadata answers differently).
 */
export class BrokerConnections {
  private readonly conns = new Map<number, Promise<Connection>>();
  private brokers = new Map<number, BrokerAddress>();

  constructor(private readonly opts: BrokerConnectionsOptions) {}

  /** Metadata for `topics`, from any reachable broker. */
  async metadata(topics: string[]): Promise<ClusterMetadata> {
    const conn = await this.anyConnection();
    const v = conn.version(APIS.metadata);
    const answer = decodeMetadataResponse(
      await conn.request(APIS.metadata.key, v, encodeMetadataRequest(v, topics)),
      v,
    );
    const leaders = new Map<string, number[]>();
    const topicErrors = new Map<string, number>();
    for (const [name, t] of answer.topics) {
      if (t.code === 0) leaders.set(name, t.leaders);
      else topicErrors.set(name, t.code);
    }
    return { brokers: answer.brokers, leaders, topicErrors };
  }

  /** Takes the broker addresses of a Metadata answer; connections to a broker whose address changed are dropped. */
  setBrokers(brokers: Map<number, BrokerAddress>): void {
    for (const [id, b] of brokers) {
      const old = this.brokers.get(id);
      if (old && (old.host !== b.host || old.port !== b.port)) this.dropConnection(id);
    }
    this.brokers = brokers;
  }

  /** A connection to any known broker, else to a bootstrap address (ids -1, -2, ...). */
  async anyConnection(): Promise<Connection> {
    for (const id of this.brokers.keys()) {
      try {
        return await this.connection(id);
      } catch (err) {
        // An authentication or certificate failure is the same on every broker: stop there.
        if (!isRetriable(err)) throw err;
      }
    }
    let last: unknown;
    for (const [i, addr] of this.opts.brokers.entries()) {
      const colon = addr.lastIndexOf(':');
      try {
        return await this.connection(-1 - i, {
          host: addr.slice(0, colon),
          port: Number(addr.slice(colon + 1)),
        });
      } catch (err) {
        if (!isRetriable(err)) throw err;
        last = err;
      }
    }
    throw new UnavailableError('kafka', `no broker reachable (${this.opts.brokers.join(',')})`, last);
  }

  /** The live connection to broker `id` (at `addr`, by default its Metadata address), opened if needed. */
  async connection(id: number, addr = this.brokers.get(id)): Promise<Connection> {
    for (;;) {
      const open = this.conns.get(id);
      if (!open) break;
      const conn = await open.catch(() => null);
      if (conn?.alive) return conn;
      // Dead: replace it, unless another caller already did (then use theirs: one connection per broker).
      if (this.conns.get(id) === open) {
        this.conns.delete(id);
        break;
      }
    }
    if (!addr) throw new UnavailableError('kafka', `unknown broker ${id}`);
    const c = this.open(addr);
    this.conns.set(id, c);
    try {
      return await c;
    } catch (err) {
      if (this.conns.get(id) === c) this.conns.delete(id);
      throw err;
    }
  }

  /** A new connection, ready for requests: versions known and, with SASL, authenticated. */
  private async open(addr: BrokerAddress): Promise<Connection> {
    const conn = await Connection.open(addr.host, addr.port, this.opts.ssl, this.opts.clientId);
    try {
      await openSession(conn, this.opts.sasl);
    } catch (err) {
      conn.close();
      throw err;
    }
    return conn;
  }

  dropConnection(id: number): void {
    const c = this.conns.get(id);
    this.conns.delete(id);
    void c?.then((conn) => conn.close()).catch(() => undefined);
  }

  /** Closes every connection, waiting for each (one still opening is closed once open). */
  async close(): Promise<void> {
    for (const c of this.conns.values()) {
      try {
        (await c).close();
      } catch {
        // connect had failed: nothing to close
      }
    }
    this.conns.clear();
  }

  /** Closes every connection without waiting; the client can connect again at once. */
  closeNow(): void {
    for (const c of this.conns.values()) void c.then((conn) => conn.close()).catch(() => undefined);
    this.conns.clear();
  }
}
