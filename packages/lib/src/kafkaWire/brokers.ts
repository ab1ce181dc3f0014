import { UnavailableError } from '../errors.js';
import { API_METADATA, Connection, Reader, Writer } from './protocol.js';

export interface BrokerAddress {
  host: string;
  port: number;
}

export interface BrokerConnectionsOptions {
  /** Bootstrap addresses, host:port. */
  brokers: string[];
  ssl: boolean;
  clientId: string;
}

/** A Metadata v1 answer: broker addresses, and the leader of every partition of each topic that had no error. */
export interface ClusterMetadata {
  brokers: Map<number, BrokerAddress>;
  leaders: Map<string, number[]>;
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

  /** Metadata v1 for `topics`, from any reachable broker. */
  async metadata(topics: string[]): Promise<ClusterMetadata> {
    const conn = await this.anyConnection();
    const w = new Writer().int32(topics.length);
    for (const t of topics) w.string(t);
    const r = new Reader(await conn.request(API_METADATA, 1, w.done()));
    const brokers = new Map<number, BrokerAddress>();
    for (let n = r.int32(); n > 0; n--) {
      const id = r.int32();
      const host = r.string()!;
      const port = r.int32();
      r.string(); // rack
      brokers.set(id, { host, port });
    }
    r.int32(); // controller
    const leaders = new Map<string, number[]>();
    for (let n = r.int32(); n > 0; n--) {
      const code = r.int16();
      const name = r.string()!;
      r.int8(); // internal
      const parts: number[] = [];
      for (let p = r.int32(); p > 0; p--) {
        r.int16();
        const index = r.int32();
        parts[index] = r.int32();
        for (let k = r.int32(); k > 0; k--) r.int32();
        for (let k = r.int32(); k > 0; k--) r.int32();
      }
      if (code === 0) leaders.set(name, parts);
    }
    return { brokers, leaders };
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
      } catch {
        // try the next one
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
    const c = Connection.open(addr.host, addr.port, this.opts.ssl, this.opts.clientId);
    this.conns.set(id, c);
    try {
      return await c;
    } catch (err) {
      if (this.conns.get(id) === c) this.conns.delete(id);
      throw err;
    }
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
