import net from 'node:net';
import tls from 'node:tls';
import { UnavailableError } from '../errors.js';

/**
 * Kafka wire-protocol basics shared by our own clients: framing and a pipelined
 * connection, record batches (magic 2, CRC32C), Kafka's murmur2 partitioner.
 * Kept small on purpose: only what the producer (and readers of raw batches) need.
 */

export const API_PRODUCE = 0;
export const API_FETCH = 1;
export const API_METADATA = 3;
export const API_INIT_PRODUCER_ID = 22;

/** Kafka error codes after which the same batch may be sent again. */
export const RETRIABLE = new Set([
  3, // UNKNOWN_TOPIC_OR_PARTITION
  5, // LEADER_NOT_AVAILABLE
  6, // NOT_LEADER_OR_FOLLOWER
  7, // REQUEST_TIMED_OUT
  13, // NETWORK_EXCEPTION
  14, // COORDINATOR_LOAD_IN_PROGRESS
  15, // COORDINATOR_NOT_AVAILABLE
  19, // NOT_ENOUGH_REPLICAS
  20, // NOT_ENOUGH_REPLICAS_AFTER_APPEND
  56, // KAFKA_STORAGE_ERROR
  74, // FENCED_LEADER_EPOCH
  75, // UNKNOWN_LEADER_EPOCH
]);
export const DUPLICATE_SEQUENCE_NUMBER = 46;
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
      1 + 1 + zigzagSize(delta) + zigzagSize(keyLen) + keyLen + zigzagSize(valueLen) + valueLen + 1;
    const need = this.pos + bodyLen + 5;
    if (need > this.buf.length) this.grow(need);
    const b = this.buf;
    let p = writeZigzag(b, this.pos, bodyLen);
    b[p++] = 0; // attributes
    b[p++] = 0; // timestamp delta (every record has the batch's timestamp)
    p = writeZigzag(b, p, delta);
    p = writeZigzag(b, p, keyLen);
    p = copyInto(b, p, key, keyLen);
    p = writeZigzag(b, p, valueLen);
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

function zigzagSize(n: number): number {
  const z = n * 2; // n >= 0 here
  return z < 0x80 ? 1 : z < 0x4000 ? 2 : z < 0x200000 ? 3 : z < 0x10000000 ? 4 : 5;
}

function writeZigzag(b: Buffer, p: number, n: number): number {
  let z = n * 2;
  while (z >= 0x80) {
    b[p++] = (z & 0x7f) | 0x80;
    z = Math.floor(z / 128);
  }
  b[p++] = z;
  return p;
}

// ---------------------------------------------------------------- wire helpers

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
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const n = Buffer.byteLength(s);
    this.int16(n);
    this.ensure(n);
    this.pos += this.cur.write(s, this.pos);
    return this;
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
    const n = this.int16();
    if (n < 0) return null;
    const s = this.b.toString('utf8', this.p, this.p + n);
    this.p += n;
    return s;
  }
}

/**
 * The error code of every partition of a topics[name, partitions[index,
 * error_code, ...]] response, in order; `rest` is the byte size of each
 * partition's fields after its error code (skipped).
 */
export function partitionErrorCodes(r: Reader, rest = 0): number[] {
  const codes: number[] = [];
  for (let t = r.int32(); t > 0; t--) {
    r.string();
    for (let p = r.int32(); p > 0; p--) {
      r.int32();
      codes.push(r.int16());
      r.p += rest;
    }
  }
  return codes;
}

/** A connection error or a request that timed out: send again after a reconnect. */
export class ConnectionLost extends UnavailableError {
  constructor(message: string, cause?: unknown) {
    super('kafka', message, cause);
  }
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

  private constructor(
    private readonly socket: net.Socket,
    clientId: string,
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

  static open(host: string, port: number, ssl: boolean, clientId: string): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) =>
        reject(new ConnectionLost(`cannot connect to ${host}:${port}: ${err.message}`, err));
      const socket = ssl
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host }, () => done())
        : net.connect({ host, port }, () => done());
      socket.once('error', onError);
      const timer = setTimeout(() => {
        socket.destroy();
        onError(new Error('connect timeout'));
      }, 10_000);
      const done = () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new Connection(socket, clientId));
      };
    });
  }

  get alive(): boolean {
    return this.dead === null;
  }

  /** Sends a request (header + body parts) and resolves with the response body after the correlation id. */
  request(apiKey: number, version: number, body: Buffer[]): Promise<Buffer> {
    if (this.dead) return Promise.reject(this.dead);
    const corr = (this.corr = (this.corr + 1) | 0);
    let size = 2 + 2 + 4 + this.clientId.length;
    for (const b of body) size += b.length;
    const head = Buffer.allocUnsafe(12);
    head.writeInt32BE(size, 0);
    head.writeInt16BE(apiKey, 4);
    head.writeInt16BE(version, 6);
    head.writeInt32BE(corr, 8);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new ConnectionLost(`request ${apiKey} timed out after ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.waiting.set(corr, { resolve, reject, timer });
      this.socket.cork();
      this.socket.write(head);
      this.socket.write(this.clientId);
      for (const b of body) this.socket.write(b);
      this.socket.uncork();
    });
  }

  close(): void {
    this.fail(new ConnectionLost('connection closed by the producer'));
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

// ---------------------------------------------------------------- InitProducerId

/** An InitProducerId answer: the error code, and the producer id and epoch (read only when the code is 0). */
export interface InitProducerIdResult {
  code: number;
  producerId: bigint;
  epoch: number;
}

/**
 * One InitProducerId v0 request (`transactionalId` null for an idempotent
 * producer) and its answer. Error codes are returned, not thrown: the callers
 * retry and refuse differently.
 */
export async function initProducerId(
  conn: Connection,
  transactionalId: string | null,
  transactionTimeoutMs: number,
): Promise<InitProducerIdResult> {
  const body = new Writer().string(transactionalId).int32(transactionTimeoutMs).done();
  const r = new Reader(await conn.request(API_INIT_PRODUCER_ID, 0, body));
  r.int32(); // throttle
  const code = r.int16();
  if (code !== 0) return { code, producerId: -1n, epoch: -1 };
  return { code, producerId: r.int64(), epoch: r.int16() };
}
