import net from 'node:net';
import { expect } from 'vitest';
import { crc32c } from '../../src/kafkaWire/index.js';

/**
 * Test support for the wire-protocol clients: a fake Kafka broker (a small TCP
 * server answering the requests our producers send) and a hand-written
 * decoder of the magic-2 record batches they produce.
 */

// ---------------------------------------------------------------- record batches

/** Reads a zigzag varint at p; returns [value, next position]. */
export function varint(b: Buffer, p: number): [number, number] {
  let z = 0;
  let mul = 1;
  for (;;) {
    const byte = b[p++]!;
    z += (byte & 0x7f) * mul;
    if (byte < 0x80) break;
    mul *= 128;
  }
  return [z % 2 === 0 ? z / 2 : -(z + 1) / 2, p];
}

export interface DecodedRecord {
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface DecodedBatch {
  attributes: number;
  producerId: bigint;
  epoch: number;
  baseSequence: number;
  records: DecodedRecord[];
}

/**
 * A magic-2 record batch decoded by hand, its framing checked: base offset 0,
 * length, magic, CRC, last offset delta, and in each record a timestamp delta
 * of 0, offset deltas 0, 1, 2... and the record's length.
 */
export function decodeBatch(b: Buffer): DecodedBatch {
  expect(b.readBigInt64BE(0)).toBe(0n);
  expect(b.readInt32BE(8)).toBe(b.length - 12);
  expect(b.readInt8(16)).toBe(2);
  expect(b.readUInt32BE(17)).toBe(crc32c(b, 21, b.length));
  const count = b.readInt32BE(57);
  expect(b.readInt32BE(23)).toBe(count - 1);
  const records: DecodedRecord[] = [];
  let p = 61;
  const bytes = (): Buffer | null => {
    let n: number;
    [n, p] = varint(b, p);
    if (n < 0) return null;
    p += n;
    return b.subarray(p - n, p);
  };
  for (let i = 0; i < count; i++) {
    let len: number;
    [len, p] = varint(b, p);
    const end = p + len;
    p++; // attributes
    let v: number;
    [v, p] = varint(b, p); // timestamp delta
    expect(v).toBe(0);
    let offsetDelta: number;
    [offsetDelta, p] = varint(b, p);
    expect(offsetDelta).toBe(i);
    const key = bytes();
    const value = bytes();
    const headers: Record<string, string> = {};
    let n: number;
    [n, p] = varint(b, p);
    for (let h = 0; h < n; h++) {
      const k = bytes()!.toString();
      headers[k] = bytes()!.toString();
    }
    expect(p).toBe(end);
    records.push({ offsetDelta, key, value, headers });
  }
  expect(p).toBe(b.length);
  return {
    attributes: b.readInt16BE(21),
    producerId: b.readBigInt64BE(43),
    epoch: b.readInt16BE(51),
    baseSequence: b.readInt32BE(53),
    records,
  };
}

// ---------------------------------------------------------------- request and response bodies

/** Request body reader for the fake broker. */
export class RequestReader {
  constructor(
    private readonly b: Buffer,
    public p: number,
  ) {}
  i8 = () => this.b.readInt8((this.p += 1) - 1);
  i16 = () => this.b.readInt16BE((this.p += 2) - 2);
  i32 = () => this.b.readInt32BE((this.p += 4) - 4);
  i64 = () => this.b.readBigInt64BE((this.p += 8) - 8);
  str = (): string | null => this.text(this.i16());
  uvarint = (): number => {
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = this.b[this.p++]!;
      n += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return n;
    }
  };
  /** Compact string (flexible versions). */
  cstr = (): string | null => this.text(this.uvarint() - 1);
  /** Skips a tagged-field section. */
  tags = (): void => {
    for (let n = this.uvarint(); n > 0; n--) {
      this.uvarint();
      this.p += this.uvarint();
    }
  };
  private text(n: number): string | null {
    if (n < 0) return null;
    this.p += n;
    return this.b.toString('utf8', this.p - n, this.p);
  }
  bytes = (n: number) => Buffer.from(this.b.subarray((this.p += n) - n, this.p));
}

/** Response body writer for the fake broker. */
export class ResponseWriter {
  parts: Buffer[] = [];
  i8 = (v: number): this => this.put(1, (b) => b.writeInt8(v));
  i16 = (v: number): this => this.put(2, (b) => b.writeInt16BE(v));
  i32 = (v: number): this => this.put(4, (b) => b.writeInt32BE(v));
  i64 = (v: bigint): this => this.put(8, (b) => b.writeBigInt64BE(v));
  uvarint(v: number): this {
    const out: number[] = [];
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.push(v);
    this.parts.push(Buffer.from(out));
    return this;
  }
  cstr(s: string): this {
    this.uvarint(Buffer.byteLength(s) + 1);
    this.parts.push(Buffer.from(s));
    return this;
  }
  str(s: string | null): this {
    if (s === null) return this.i16(-1);
    this.i16(Buffer.byteLength(s));
    this.parts.push(Buffer.from(s));
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
  private put(size: number, write: (b: Buffer) => void): this {
    const b = Buffer.alloc(size);
    write(b);
    this.parts.push(b);
    return this;
  }
}

// ---------------------------------------------------------------- the fake broker

/** A request the fake broker received (Metadata and ApiVersions are answered but not recorded). */
export type Call =
  | { api: 'FindCoordinator'; key: string; type: number }
  | { api: 'InitProducerId'; txnId: string | null; timeoutMs: number }
  | { api: 'AddPartitionsToTxn'; txnId: string; pid: bigint; epoch: number; parts: string[] }
  | { api: 'AddOffsetsToTxn'; txnId: string; group: string }
  | {
      api: 'TxnOffsetCommit';
      version: number;
      txnId: string;
      group: string;
      offsets: string[];
      generationId?: number;
      memberId?: string;
    }
  | { api: 'EndTxn'; txnId: string; commit: boolean }
  | { api: 'Produce'; version: number; txnId: string | null; tp: string; batch: Buffer }
  | { api: 'SaslHandshake'; mechanism: string };

export type ProduceCall = Extract<Call, { api: 'Produce' }>;

const API_NAMES: Record<number, Call['api'] | 'Metadata' | 'ApiVersions'> = {
  3: 'Metadata',
  17: 'SaslHandshake',
  18: 'ApiVersions',
  10: 'FindCoordinator',
  22: 'InitProducerId',
  24: 'AddPartitionsToTxn',
  25: 'AddOffsetsToTxn',
  28: 'TxnOffsetCommit',
  26: 'EndTxn',
  0: 'Produce',
};

/** Topics of the fake cluster, with their partition counts. */
const TOPICS: Array<[string, number]> = [
  ['t', 2],
  ['s', 1],
];

/**
 * The versions the fake broker decodes and answers, as a broker's ApiVersions
 * lists them: [key, min, max].
 */
export const FAKE_VERSIONS: Array<[number, number, number]> = [
  [0, 3, 8], // Produce
  [3, 1, 1], // Metadata
  [10, 1, 1], // FindCoordinator
  [17, 1, 1], // SaslHandshake
  [18, 0, 3], // ApiVersions
  [22, 0, 0], // InitProducerId
  [24, 1, 1], // AddPartitionsToTxn
  [25, 1, 1], // AddOffsetsToTxn
  [26, 1, 1], // EndTxn
  [28, 0, 3], // TxnOffsetCommit
];

export interface FakeBrokerOptions {
  /** Replaces FAKE_VERSIONS in the ApiVersions answer (say, a broker too old or too new for the client). */
  versions?: Array<[number, number, number]>;
  /**
   * The broker Metadata names as the only node and leader of every partition
   * (default: this one, node 1); read at every Metadata request, so a test can move leaders.
   */
  leader?: () => { nodeId: number; port: number };
  /** Topic-level Metadata error codes by topic (say, 29 TOPIC_AUTHORIZATION_FAILED). */
  topicErrors?: Record<string, number>;
  /** `errors[api]`: error codes answered to the next calls of that API (then 0). */
  errors?: Partial<Record<Call['api'], number[]>>;
  /**
   * Consulted first for every call: an error code to answer, 'disconnect' to
   * close the connection instead of answering, or undefined (`errors`, else 0).
   */
  fault?: (call: Call) => number | 'disconnect' | undefined;
}

export interface FakeBroker {
  port: number;
  /** Every call received, in order. */
  calls: Call[];
  /** The version of every ApiVersions request received, in order. */
  apiVersionCalls: number[];
  /** Metadata requests received. */
  metadataCalls: { n: number };
  /**
   * The batches stored, in order: like a real broker, an idempotent
   * producer's resent batch (same partition and base sequence) is
   * acknowledged once more, not stored again; a refused batch is not stored.
   */
  batches: Array<{ topic: string; partition: number; batch: Buffer }>;
  close: () => void;
}

/**
 * A fake broker (node 1, itself the leader of topic `t` (2 partitions) and `s`
 * (1 partition) and every coordinator) that records each call. InitProducerId
 * answers producer id 42, epoch 7.
 */
export async function fakeBroker(opts: FakeBrokerOptions = {}): Promise<FakeBroker> {
  const calls: Call[] = [];
  const apiVersionCalls: number[] = [];
  const metadataCalls = { n: 0 };
  const batches: FakeBroker['batches'] = [];
  const sockets = new Set<net.Socket>();
  const errorFor = (call: Call): number | 'disconnect' =>
    opts.fault?.(call) ?? opts.errors?.[call.api]?.shift() ?? 0;
  const server = net.createServer((s) => {
    sockets.add(s);
    let buf = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const req = buf.subarray(4, 4 + buf.readInt32BE(0));
        buf = buf.subarray(4 + req.length);
        const api = API_NAMES[req.readInt16BE(0)]!;
        const version = req.readInt16BE(2);
        const corr = req.readInt32BE(4);
        const r = new RequestReader(req, 8);
        r.str(); // client id
        const flexible =
          (api === 'ApiVersions' && version >= 3) || (api === 'TxnOffsetCommit' && version >= 3);
        if (flexible) r.tags(); // request header v2
        const w = new ResponseWriter();
        if (flexible && api !== 'ApiVersions') w.uvarint(0); // response header v1
        const port = (server.address() as net.AddressInfo).port;
        let call: Call;
        switch (api) {
          case 'ApiVersions': {
            const offered = opts.versions ?? FAKE_VERSIONS;
            const own = offered.find(([k]) => k === 18);
            if (!own || version > own[2]) {
              // As Kafka: UNSUPPORTED_VERSION in the v0 layout, with the versions it serves.
              w.i16(35).i32(offered.length);
              for (const [k, min, max] of offered) w.i16(k).i16(min).i16(max);
            } else if (version >= 3) {
              w.i16(0).uvarint(offered.length + 1);
              for (const [k, min, max] of offered) w.i16(k).i16(min).i16(max).uvarint(0);
              w.i32(0).uvarint(0);
            } else {
              w.i16(0).i32(offered.length);
              for (const [k, min, max] of offered) w.i16(k).i16(min).i16(max);
              if (version >= 1) w.i32(0);
            }
            apiVersionCalls.push(version);
            respond(s, corr, w.done());
            continue;
          }
          case 'Metadata': {
            metadataCalls.n++;
            const { nodeId, port: leaderPort } = opts.leader?.() ?? { nodeId: 1, port };
            w.i32(1).i32(nodeId).str('127.0.0.1').i32(leaderPort).str(null).i32(nodeId);
            w.i32(TOPICS.length);
            for (const [name, n] of TOPICS) {
              const code = opts.topicErrors?.[name] ?? 0;
              w.i16(code)
                .str(name)
                .i8(0)
                .i32(code === 0 ? n : 0);
              if (code === 0)
                for (let i = 0; i < n; i++) w.i16(0).i32(i).i32(nodeId).i32(1).i32(nodeId).i32(1).i32(nodeId);
            }
            respond(s, corr, w.done());
            continue;
          }
          case 'SaslHandshake':
            call = { api, mechanism: r.str()! };
            break;
          case 'FindCoordinator':
            call = { api, key: r.str()!, type: r.i8() };
            break;
          case 'InitProducerId':
            call = { api, txnId: r.str(), timeoutMs: r.i32() };
            break;
          case 'AddPartitionsToTxn': {
            const txnId = r.str()!;
            const pid = r.i64();
            const epoch = r.i16();
            const parts: string[] = [];
            for (let t = r.i32(); t > 0; t--) {
              const name = r.str()!;
              for (let p = r.i32(); p > 0; p--) parts.push(`${name}/${r.i32()}`);
            }
            call = { api, txnId, pid, epoch, parts };
            break;
          }
          case 'AddOffsetsToTxn': {
            const txnId = r.str()!;
            r.i64();
            r.i16();
            call = { api, txnId, group: r.str()! };
            break;
          }
          case 'TxnOffsetCommit': {
            const str = flexible ? r.cstr : r.str;
            const count = () => (flexible ? r.uvarint() - 1 : r.i32());
            const txnId = str()!;
            const group = str()!;
            r.i64();
            r.i16();
            const member = flexible ? { generationId: r.i32(), memberId: str()! } : {};
            if (flexible) str(); // group instance id
            const offsets: string[] = [];
            for (let t = count(); t > 0; t--) {
              const name = str()!;
              for (let p = count(); p > 0; p--) {
                const partition = r.i32();
                offsets.push(`${name}/${partition}@${r.i64()}`);
                if (version >= 2) r.i32(); // leader epoch
                str(); // metadata
                if (flexible) r.tags();
              }
              if (flexible) r.tags();
            }
            call = { api, version, txnId, group, offsets, ...member };
            break;
          }
          case 'EndTxn': {
            const txnId = r.str()!;
            r.i64();
            r.i16();
            call = { api, txnId, commit: r.i8() === 1 };
            break;
          }
          case 'Produce': {
            const txnId = r.str();
            r.i16(); // acks
            r.i32(); // timeout
            r.i32(); // topics
            const name = r.str()!;
            r.i32(); // partitions
            const partition = r.i32();
            call = { api, version, txnId, tp: `${name}/${partition}`, batch: r.bytes(r.i32()) };
            break;
          }
        }
        calls.push(call);
        const code = errorFor(call);
        if (code === 'disconnect') {
          s.destroy();
          return;
        }
        switch (call.api) {
          case 'FindCoordinator':
            w.i32(0).i16(code).str(null).i32(1).str('127.0.0.1').i32(port);
            break;
          case 'InitProducerId':
            w.i32(0).i16(code).i64(42n).i16(7);
            break;
          case 'AddPartitionsToTxn':
            w.i32(0).i32(1).str('t').i32(1).i32(0).i16(code);
            break;
          case 'TxnOffsetCommit':
            if (flexible)
              w.i32(0).uvarint(2).cstr('in').uvarint(2).i32(0).i16(code).uvarint(0).uvarint(0).uvarint(0);
            else w.i32(0).i32(1).str('in').i32(1).i32(0).i16(code);
            break;
          case 'SaslHandshake':
            w.i16(code === 0 ? 33 : code)
              .i32(1)
              .str('SCRAM-SHA-512'); // this fake authenticates nobody
            break;
          case 'AddOffsetsToTxn':
          case 'EndTxn':
            w.i32(0).i16(code);
            break;
          case 'Produce': {
            const [topic, p] = call.tp.split('/') as [string, string];
            const partition = Number(p);
            const sequence = call.batch.readInt32BE(53);
            const stored = batches.some(
              (x) => x.topic === topic && x.partition === partition && x.batch.readInt32BE(53) === sequence,
            );
            if (code === 0 && !stored) batches.push({ topic, partition, batch: call.batch });
            w.i32(1).str(topic).i32(1).i32(partition).i16(code).i64(0n).i64(-1n);
            if (call.version >= 5) w.i64(0n); // log start offset
            if (call.version >= 8) w.i32(0).str(code === 0 ? null : `refused with ${code}`);
            w.i32(0);
            break;
          }
        }
        respond(s, corr, w.done());
      }
    });
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        calls,
        apiVersionCalls,
        metadataCalls,
        batches,
        close: () => {
          for (const s of sockets) s.destroy();
          server.close();
        },
      }),
    ),
  );
}

/** Writes a response frame: size, correlation id, body. */
function respond(s: net.Socket, corr: number, body: Buffer): void {
  const out = Buffer.alloc(8);
  out.writeInt32BE(4 + body.length, 0);
  out.writeInt32BE(corr, 4);
  s.write(Buffer.concat([out, body]));
}
