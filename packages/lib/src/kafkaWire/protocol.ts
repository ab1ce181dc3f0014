import net from 'node:net';
import tls from 'node:tls';
import { AmiError, UnavailableError } from '../errors.js';
import { varintSize, writeUvarint, writeVarint } from '../varint.js';
import { isFlexible, chooseVersion, type ApiSpec, type BrokerVersions, APIS } from './apis.js';
import { DUPLICATE_SEQUENCE_NUMBER } from './kafkaErrors.js';

/**
 * Kafka wire-protocol basics shared by our own clients: framing and a pipelined
 * connection, record batches (magic 2, CRC32C), Kafka's murmur2 partitioner.
 * Kept small on purpose: only what the producer (and readers of raw batches) need.
 */

export const API_PRODUCE = APIS.produce.key;
export const API_FETCH = APIS.fetch.key;
export const API_METADATA = APIS.metadata.key;
export const API_INIT_PRODUCER_ID = APIS.initProducerId.key;

export { DUPLICATE_SEQUENCE_NUMBER };
/** Above the produce timeout given to the broker (30 s), so the broker answers first. */
export const REQUEST_TIMEOUT_MS = 40_000;
export const ATTEMPTS = 10;

// ---------------------------------------------------------------- CRC32C

const CRC_TABLE = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++)
    for (let s = 1; s < 8; s++)
      t[s * 256 + n] = (t[(s - 1) * 256 + n]! >>> 8) ^ t[t[(s - 1) * 256 + n]! & 0xff]!;
  return t;
})();

/** CRC32C (Castagnoli) of buf[start, end), slicing by 8. */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length): number {
  const T = CRC_TABLE;
  let crc = -1;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const a = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24));
    crc =
      T[1792 + (a & 0xff)]! ^
      T[1536 + ((a >>> 8) & 0xff)]! ^
      T[1280 + ((a >>> 16) & 0xff)]! ^
      T[1024 + (a >>> 24)]! ^
      T[768 + buf[i + 4]!]! ^
      T[512 + buf[i + 5]!]! ^
      T[256 + buf[i + 6]!]! ^
      T[buf[i + 7]!]!;
  }
  for (; i < end; i++) crc = T[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

// ---------------------------------------------------------------- partitioner

/** Kafka's murmur2 (Java client Utils.murmur2, as kafkajs' default partitioner), 32-bit. */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = length & ~3;
  switch (length & 3) {
    case 3:
      h ^= data[tail + 2]! << 16;
    // falls through
    case 2:
      h ^= data[tail + 1]! << 8;
    // falls through
    case 1:
      h ^= data[tail]!;
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka's default partitioner (Java, kafkajs) gives a key. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

// ---------------------------------------------------------------- record batch

/** Bytes before the first record: baseOffset .. recordCount. */
export const BATCH_HEADER = 61;
/** Offset of the attributes field: the CRC covers from here to the end. */
export const CRC_FROM = 21;

/**
 * One magic-2 record batch under construction, records written in place.
 * `add` takes the key bytes and a value already in `scratch[0, valueLen)`.
 */
export class RecordBatchBuilder {
  buf: Buffer;
  pos = BATCH_HEADER;
  count = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(capacity, 1024));
  }

  get bytes(): number {
    return this.pos;
  }

  add(key: Buffer, value: Buffer, valueLen: number): void {
    const keyLen = key.length;
    const delta = this.count;
    const bodyLen =
      1 + 1 + varintSize(delta) + varintSize(keyLen) + keyLen + varintSize(valueLen) + valueLen + 1;
    const need = this.pos + bodyLen + 5;
    if (need > this.buf.length) this.grow(need);
    const b = this.buf;
    let p = writeVarint(b, this.pos, bodyLen);
    b[p++] = 0; // attributes
    b[p++] = 0; // timestamp delta (every record has the batch's timestamp)
    p = writeVarint(b, p, delta);
    p = writeVarint(b, p, keyLen);
    p = copyInto(b, p, key, keyLen);
    p = writeVarint(b, p, valueLen);
    p = copyInto(b, p, value, valueLen);
    b[p++] = 0; // no headers
    this.pos = p;
    this.count++;
  }

  /** Fill the header; returns the finished batch (a view of the buffer). */
  seal(producerId: bigint, epoch: number, baseSequence: number, timestamp: number): Buffer {
    const b = this.buf;
    b.writeBigInt64BE(0n, 0); // base offset
    b.writeInt32BE(this.pos - 12, 8); // batch length
    b.writeInt32BE(-1, 12); // partition leader epoch
    b.writeInt8(2, 16); // magic
    b.writeInt16BE(this.attributes(), 21);
    b.writeInt32BE(this.count - 1, 23); // last offset delta
    b.writeBigInt64BE(BigInt(timestamp), 27); // base timestamp
    b.writeBigInt64BE(BigInt(timestamp), 35); // max timestamp
    b.writeBigInt64BE(producerId, 43);
    b.writeInt16BE(epoch, 51);
    b.writeInt32BE(baseSequence, 53);
    b.writeInt32BE(this.count, 57);
    b.writeUInt32BE(crc32c(b, CRC_FROM, this.pos), 17);
    return b.subarray(0, this.pos);
  }

  /** The batch attributes: no compression, create time; TransactionalBatch adds its bit here. */
  protected attributes(): number {
    return 0;
  }

  private grow(need: number): void {
    const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/** src[0, n) to b at p; a plain loop beats Buffer#copy's call overhead for a record's few dozen bytes. */
function copyInto(b: Buffer, p: number, src: Buffer, n: number): number {
  if (n > 256) return p + src.copy(b, p, 0, n);
  for (let i = 0; i < n; i++) b[p + i] = src[i]!;
  return p + n;
}

// ---------------------------------------------------------------- wire helpers

/**
 * Request body writer: classic types (int16-prefixed strings, int32 arrays)
 * and the compact ones of flexible versions (unsigned-varint lengths plus one,
 * tagged fields: this client writes none).
 */
export class Writer {
  private bufs: Buffer[] = [];
  private cur = Buffer.allocUnsafe(256);
  private pos = 0;
  int8(v: number): this {
    this.ensure(1);
    this.pos = this.cur.writeInt8(v, this.pos);
    return this;
  }
  int16(v: number): this {
    this.ensure(2);
    this.pos = this.cur.writeInt16BE(v, this.pos);
    return this;
  }
  int32(v: number): this {
    this.ensure(4);
    this.pos = this.cur.writeInt32BE(v, this.pos);
    return this;
  }
  int64(v: bigint): this {
    this.ensure(8);
    this.pos = this.cur.writeBigInt64BE(v, this.pos);
    return this;
  }
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const n = Buffer.byteLength(s);
    this.int16(n);
    return this.utf8(s, n);
  }
  /** int32-length bytes. */
  bytes(b: Buffer): this {
    return this.int32(b.length).raw(b);
  }
  uvarint(v: number): this {
    this.ensure(5);
    this.pos = writeUvarint(this.cur, this.pos, v);
    return this;
  }
  compactString(s: string | null): this {
    if (s === null) return this.uvarint(0);
    const n = Buffer.byteLength(s);
    this.uvarint(n + 1);
    return this.utf8(s, n);
  }
  compactBytes(b: Buffer): this {
    return this.uvarint(b.length + 1).raw(b);
  }
  /** The length of a compact array of n elements. */
  compactArray(n: number): this {
    return this.uvarint(n + 1);
  }
  /** An empty tagged-field section. */
  tags(): this {
    return this.uvarint(0);
  }
  /** Appends a buffer without copying it. */
  raw(b: Buffer): this {
    this.flushCur();
    this.bufs.push(b);
    return this;
  }
  done(): Buffer[] {
    this.flushCur();
    return this.bufs;
  }
  private utf8(s: string, n: number): this {
    this.ensure(n);
    this.pos += this.cur.write(s, this.pos);
    return this;
  }
  private flushCur(): void {
    if (this.pos > 0) {
      this.bufs.push(this.cur.subarray(0, this.pos));
      this.cur = Buffer.allocUnsafe(256);
      this.pos = 0;
    }
  }
  private ensure(n: number): void {
    if (this.pos + n > this.cur.length) {
      this.flushCur();
      if (n > this.cur.length) this.cur = Buffer.allocUnsafe(n);
    }
  }
}

/** Response body reader, classic and compact types (see Writer). */
export class Reader {
  constructor(
    private readonly b: Buffer,
    public p = 0,
  ) {}
  int8(): number {
    return this.b.readInt8((this.p += 1) - 1);
  }
  int16(): number {
    return this.b.readInt16BE((this.p += 2) - 2);
  }
  int32(): number {
    return this.b.readInt32BE((this.p += 4) - 4);
  }
  int64(): bigint {
    return this.b.readBigInt64BE((this.p += 8) - 8);
  }
  string(): string | null {
    return this.text(this.int16());
  }
  /** int32-length bytes (null for -1). */
  bytes(): Buffer | null {
    return this.slice(this.int32());
  }
  uvarint(): number {
    let n = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.b[this.p++];
      if (byte === undefined) throw new RangeError('truncated varint');
      n += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return n;
    }
    throw new RangeError('unsigned varint longer than 5 bytes');
  }
  compactString(): string | null {
    return this.text(this.uvarint() - 1);
  }
  compactBytes(): Buffer | null {
    return this.slice(this.uvarint() - 1);
  }
  /** Elements of a compact array (-1: null). */
  compactArray(): number {
    return this.uvarint() - 1;
  }
  /** Skips a tagged-field section (this client reads no tagged field). */
  skipTags(): void {
    for (let n = this.uvarint(); n > 0; n--) {
      this.uvarint(); // tag
      this.p += this.uvarint();
    }
  }
  private text(n: number): string | null {
    if (n < 0) return null;
    const s = this.b.toString('utf8', this.p, this.p + n);
    this.p += n;
    return s;
  }
  private slice(n: number): Buffer | null {
    if (n < 0) return null;
    const s = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return s;
  }
}

/** A connection error or a request that timed out: send again after a reconnect. */
export class ConnectionLost extends UnavailableError {
  constructor(message: string, cause?: unknown) {
    super('kafka', message, cause);
  }
}

/**
 * TLS settings of a connection: certificates are always verified (against
 * Node's CAs, NODE_EXTRA_CA_CERTS, or `ca` when given), host names too.
 */
export interface WireTls {
  /** PEM certificate(s) of the CA that signed the brokers' certificates, instead of Node's list. */
  ca?: string | Buffer;
  /** OpenSSL cipher list offered (TLS 1.3 suite names included), instead of Node's default. */
  ciphers?: string;
}

/** One broker connection; requests are pipelined and matched by correlation id. */
export class Connection {
  private corr = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (b: Buffer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private dead: Error | null = null;
  private readonly clientId: Buffer;
  /** The broker's version ranges (ApiVersions at connect); empty until then. */
  versions: BrokerVersions = new Map();

  private constructor(
    private readonly socket: net.Socket,
    clientId: string,
    readonly tls: boolean,
    private readonly requestTimeoutMs: number,
  ) {
    const id = Buffer.from(clientId);
    this.clientId = Buffer.allocUnsafe(2 + id.length);
    this.clientId.writeInt16BE(id.length, 0);
    id.copy(this.clientId, 2);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new ConnectionLost(`connection error: ${err.message}`, err)));
    socket.on('close', () => this.fail(new ConnectionLost('connection closed')));
  }

  /**
   * Opens a TCP connection, or a TLS one (`secure` not false) whose
   * certificate is checked against the CA and the host name; an untrusted
   * certificate is a ConfigError-like refusal, not retried.
   */
  static open(
    host: string,
    port: number,
    secure: WireTls | boolean,
    clientId: string,
    requestTimeoutMs = REQUEST_TIMEOUT_MS,
  ): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(connectError(host, port, err));
      const tlsOptions = typeof secure === 'object' ? secure : {};
      const socket = secure
        ? tls.connect(
            {
              host,
              port,
              servername: net.isIP(host) ? undefined : host,
              ca: tlsOptions.ca,
              ciphers: tlsOptions.ciphers,
              rejectUnauthorized: true,
            },
            () => done(),
          )
        : net.connect({ host, port }, () => done());
      socket.once('error', onError);
      const timer = setTimeout(() => {
        socket.destroy();
        onError(new Error('connect timeout'));
      }, 10_000);
      const done = () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new Connection(socket, clientId, secure !== false, requestTimeoutMs));
      };
    });
  }

  get alive(): boolean {
    return this.dead === null;
  }

  /** The negotiated TLS version and cipher suite (undefined on plain TCP), e.g. for a bench to report. */
  get tlsSession(): { protocol: string; cipher: string } | undefined {
    if (!(this.socket instanceof tls.TLSSocket)) return undefined;
    return { protocol: this.socket.getProtocol() ?? 'unknown', cipher: this.socket.getCipher().standardName };
  }

  /** The version of `spec` to send on this connection (the highest both sides accept). */
  version(spec: ApiSpec): number {
    return chooseVersion(spec, this.versions);
  }

  /**
   * Sends a request (header + body parts) and resolves with the response body
   * after the response header (correlation id, and the tagged fields of a
   * flexible version).
   */
  request(apiKey: number, version: number, body: Buffer[]): Promise<Buffer> {
    if (this.dead) return Promise.reject(this.dead);
    const corr = (this.corr = (this.corr + 1) | 0);
    const flexible = isFlexible(apiKey, version);
    let size = 2 + 2 + 4 + this.clientId.length + (flexible ? 1 : 0);
    for (const b of body) size += b.length;
    const head = Buffer.allocUnsafe(12);
    head.writeInt32BE(size, 0);
    head.writeInt16BE(apiKey, 4);
    head.writeInt16BE(version, 6);
    head.writeInt32BE(corr, 8);
    const answer = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Decided after this turn's I/O: in a process that was paused (a long GC, SIGSTOP), the
        // timer fires before the answer that arrived meanwhile is read, and that answer counts.
        setImmediate(() => {
          if (this.waiting.has(corr))
            this.fail(new ConnectionLost(`request ${apiKey} timed out after ${this.requestTimeoutMs} ms`));
        });
      }, this.requestTimeoutMs);
      this.waiting.set(corr, { resolve, reject, timer });
      this.socket.cork();
      this.socket.write(head);
      this.socket.write(this.clientId);
      if (flexible) this.socket.write(EMPTY_TAGS);
      for (const b of body) this.socket.write(b);
      this.socket.uncork();
    });
    // ApiVersions answers with response header v0 whatever the version (the client may not know its range yet).
    if (!flexible || apiKey === APIS.apiVersions.key) return answer;
    return answer.then((b) => {
      const r = new Reader(b);
      r.skipTags();
      return b.subarray(r.p);
    });
  }

  close(): void {
    this.fail(new ConnectionLost('connection closed by the client'));
  }

  /**
   * Chunks of an incomplete response are kept in a list and joined once the
   * whole frame is there: joining on every chunk is quadratic for the
   * multi-MB responses of a fetch.
   */
  private onData(chunk: Buffer): void {
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.pendingFrameEnd()) return;
      chunk = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    let b = chunk;
    while (b.length >= 4) {
      const size = b.readInt32BE(0);
      if (b.length < 4 + size) break;
      const corr = b.readInt32BE(4);
      const w = this.waiting.get(corr);
      if (w) {
        this.waiting.delete(corr);
        clearTimeout(w.timer);
        w.resolve(b.subarray(8, 4 + size));
      }
      b = b.subarray(4 + size);
    }
    if (b.length > 0) {
      // A copy, so a small remainder does not keep the whole socket chunk alive.
      this.pending = [Buffer.from(b)];
      this.pendingBytes = b.length;
    }
  }

  /** Bytes the frame being received needs in all (size prefix included); Infinity while the prefix is incomplete. */
  private pendingFrameEnd(): number {
    if (this.pending[0]!.length < 4 && this.pending.length > 1) {
      this.pending = [Buffer.concat(this.pending, this.pendingBytes)];
    }
    const head = this.pending[0]!;
    return head.length < 4 ? Infinity : 4 + head.readInt32BE(0);
  }

  private fail(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    this.socket.destroy();
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiting.clear();
  }
}

const EMPTY_TAGS = Buffer.from([0]);

/** TLS errors that no retry can cure: the certificate is not trusted or does not name the host. */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function connectError(host: string, port: number, err: Error): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && CERTIFICATE_CODES.has(code))
    return new TlsCertificateError(
      `kafka: the certificate of ${host}:${port} is refused (${code}): ${err.message}`,
      err,
    );
  return new ConnectionLost(`cannot connect to ${host}:${port}: ${err.message}`, err);
}

/** The broker's TLS certificate is not trusted (CA) or names another host: fix the configuration. */
export class TlsCertificateError extends AmiError {
  constructor(message: string, cause: unknown) {
    super(message, { retriable: false, cause });
  }
}
