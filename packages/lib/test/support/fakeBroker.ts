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
  str = (): string | null => {
    const n = this.i16();
    if (n < 0) return null;
    this.p += n;
    return this.b.toString('utf8', this.p - n, this.p);
  };
  bytes = (n: number) => Buffer.from(this.b.subarray((this.p += n) - n, this.p));
}

/** Response body writer for the fake broker. */
export class ResponseWriter {
  parts: Buffer[] = [];
  i8 = (v: number): this => this.put(1, (b) => b.writeInt8(v));
  i16 = (v: number): this => this.put(2, (b) => b.writeInt16BE(v));
  i32 = (v: number): this => this.put(4, (b) => b.writeInt32BE(v));
  i64 = (v: bigint): this => this.put(8, (b) => b.writeBigInt64BE(v));
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

/** A request the fake broker received (Metadata is answered but not recorded). */
export type Call =
  | { api: 'FindCoordinator'; key: string; type: number }
  | { api: 'InitProducerId'; txnId: string | null; timeoutMs: number }
  | { api: 'AddPartitionsToTxn'; txnId: string; pid: bigint; epoch: number; parts: string[] }
  | { api: 'AddOffsetsToTxn'; txnId: string; group: string }
  | { api: 'TxnOffsetCommit'; txnId: string; group: string; offsets: string[] }
  | { api: 'EndTxn'; txnId: string; commit: boolean }
  | { api: 'Produce'; txnId: string | null; tp: string; batch: Buffer };

export type ProduceCall = Extract<Call, { api: 'Produce' }>;

const API_NAMES: Record<number, Call['api'] | 'Metadata'> = {
  3: 'Metadata',
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

export interface FakeBrokerOptions {
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
        const corr = req.readInt32BE(4);
        const r = new RequestReader(req, 8);
        r.str(); // client id
        const w = new ResponseWriter();
        const port = (server.address() as net.AddressInfo).port;
        let call: Call;
        switch (api) {
          case 'Metadata': {
            w.i32(1).i32(1).str('127.0.0.1').i32(port).str(null).i32(1);
            w.i32(TOPICS.length);
            for (const [name, n] of TOPICS) {
              w.i16(0).str(name).i8(0).i32(n);
              for (let i = 0; i < n; i++) w.i16(0).i32(i).i32(1).i32(1).i32(1).i32(1).i32(1);
            }
            respond(s, corr, w.done());
            continue;
          }
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
            const txnId = r.str()!;
            const group = r.str()!;
            r.i64();
            r.i16();
            const offsets: string[] = [];
            for (let t = r.i32(); t > 0; t--) {
              const name = r.str()!;
              for (let p = r.i32(); p > 0; p--) {
                const partition = r.i32();
                offsets.push(`${name}/${partition}@${r.i64()}`);
                r.str(); // metadata
              }
            }
            call = { api, txnId, group, offsets };
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
            call = { api, txnId, tp: `${name}/${partition}`, batch: r.bytes(r.i32()) };
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
            w.i32(0).i32(1).str('in').i32(1).i32(0).i16(code);
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
            w.i32(1).str(topic).i32(1).i32(partition).i16(code).i64(0n).i64(-1n).i32(0);
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
