import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import {
  Connection,
  ConnectionLost,
  indexMessages,
  indexRecords,
  parseFetchV4,
  recordMessage,
  RecordBatchBuilder,
  UnsupportedBatchError,
} from '../../src/kafkaWire/index.js';
import { isRetriable } from '../../src/errors.js';

function zigzag(n: number): number[] {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  while (z >= 0x80) {
    out.push((z & 0x7f) | 0x80);
    z = Math.floor(z / 128);
  }
  out.push(z);
  return out;
}

interface Rec {
  key: string | null;
  value: string | null;
  headers?: Record<string, string>;
}

/** A magic-2 batch written by hand (CRC left 0: the reader does not check it; TCP does). */
function batch(
  baseOffset: number,
  records: Rec[],
  opts: { attributes?: number; producerId?: bigint; timestamp?: number } = {},
): Buffer {
  const body: number[] = [];
  records.forEach((r, i) => {
    const rec: number[] = [0, ...zigzag(i * 10), ...zigzag(i)];
    const bytes = (s: string | null) => (s === null ? zigzag(-1) : [...zigzag(s.length), ...Buffer.from(s)]);
    rec.push(...bytes(r.key), ...bytes(r.value));
    const headers = Object.entries(r.headers ?? {});
    rec.push(...zigzag(headers.length));
    for (const [k, v] of headers) rec.push(...bytes(k), ...bytes(v));
    body.push(...zigzag(rec.length), ...rec);
  });
  const b = Buffer.alloc(61 + body.length);
  b.writeBigInt64BE(BigInt(baseOffset), 0);
  b.writeInt32BE(b.length - 12, 8);
  b.writeInt8(2, 16);
  b.writeInt16BE(opts.attributes ?? 0, 21);
  b.writeInt32BE(records.length - 1, 23);
  b.writeBigInt64BE(BigInt(opts.timestamp ?? 1_700_000_000_000), 27);
  b.writeBigInt64BE(opts.producerId ?? -1n, 43);
  b.writeInt32BE(records.length, 57);
  Buffer.from(body).copy(b, 61);
  return b;
}

/** A control batch (commit or abort marker) of `producerId`. */
function marker(offset: number, producerId: bigint, abort: boolean): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(abort ? 0 : 1, 2);
  return batch(offset, [{ key: key.toString('latin1'), value: '\0\0\0\0\0\0' }], {
    attributes: 0x30,
    producerId,
  });
}

const values = (records: Buffer, from = 0, aborted: { producerId: bigint; firstOffset: number }[] = []) => {
  const ix = indexRecords(records, from, aborted);
  return {
    ix,
    values: Array.from({ length: ix.count }, (_, i) =>
      ix.valueStart[i]! < 0 ? null : records.toString('utf8', ix.valueStart[i], ix.valueEnd[i]),
    ),
    offsets: Array.from(ix.offset.subarray(0, ix.count)),
  };
};

describe('indexRecords', () => {
  it('indexes keys, values, offsets and timestamps in place; null key and tombstone kept', () => {
    const set = Buffer.concat([
      batch(100, [
        { key: 'a', value: 'one' },
        { key: null, value: 'two' },
      ]),
      batch(102, [{ key: 'c', value: null }]),
    ]);
    const { ix, values: v, offsets } = values(set);
    expect(v).toEqual(['one', 'two', null]);
    expect(offsets).toEqual([100, 101, 102]);
    expect(ix.timestamp[1]).toBe(1_700_000_000_010);
    expect(ix.keyStart[1]).toBe(-1);
    expect(set.toString('utf8', ix.keyStart[0], ix.keyEnd[0])).toBe('a');
    expect(ix.nextOffset).toBe(103);
  });

  it('reads what RecordBatchBuilder (the wire producer) writes', () => {
    const b = new RecordBatchBuilder(64);
    for (let i = 0; i < 300; i++) {
      const v = Buffer.from(`value-${i}`);
      b.add(Buffer.from(`k${i}`), v, v.length);
    }
    const { values: v, ix } = values(Buffer.from(b.seal(1n, 0, 0, 1_700_000_000_000)));
    expect(v).toHaveLength(300);
    expect(v[299]).toBe('value-299');
    expect(ix.nextOffset).toBe(300);
  });

  it('skips records before the fetch offset and leaves a cut-off batch for the next fetch', () => {
    const whole = Buffer.concat([
      batch(0, [
        { key: 'a', value: '0' },
        { key: 'a', value: '1' },
        { key: 'a', value: '2' },
      ]),
      batch(3, [{ key: 'a', value: '3' }]),
    ]);
    const cut = whole.subarray(0, whole.length - 5);
    const { values: v, ix } = values(cut, 1);
    expect(v).toEqual(['1', '2']);
    expect(ix.nextOffset).toBe(3);
  });

  it('gives headers to the slow path as kafkajs does', () => {
    const set = batch(7, [{ key: 'k', value: 'v', headers: { trace: 'abc', empty: '' } }]);
    const m = recordMessage(indexRecords(set, 0), 0);
    expect(m.offset).toBe('7');
    expect(m.key?.toString()).toBe('k');
    expect(m.value?.toString()).toBe('v');
    expect(Object.fromEntries(Object.entries(m.headers).map(([k, b]) => [k, b.toString()]))).toEqual({
      trace: 'abc',
      empty: '',
    });
  });

  it('drops aborted transactions and control batches, keeps committed ones (READ_COMMITTED)', () => {
    const set = Buffer.concat([
      batch(0, [{ key: 'a', value: 'plain' }]),
      batch(1, [{ key: 'a', value: 'aborted' }], { attributes: 0x10, producerId: 7n }),
      batch(2, [{ key: 'a', value: 'committed' }], { attributes: 0x10, producerId: 8n }),
      marker(3, 7n, true),
      marker(4, 8n, false),
      batch(5, [{ key: 'a', value: 'after' }], { attributes: 0x10, producerId: 7n }),
      marker(6, 7n, false),
    ]);
    const { values: v, ix } = values(set, 0, [{ producerId: 7n, firstOffset: 1 }]);
    expect(v).toEqual(['plain', 'committed', 'after']);
    expect(ix.nextOffset).toBe(7);
    // READ_UNCOMMITTED: no aborted list, only the markers go.
    expect(values(set).values).toEqual(['plain', 'aborted', 'committed', 'after']);
  });

  it('refuses a compressed batch whose CRC does not match with a typed, non-retriable error', () => {
    // Records written uncompressed under the gzip bit, CRC 0 (compressed batches: compression.test.ts).
    const set = batch(0, [{ key: 'a', value: 'x' }], { attributes: 1 });
    expect(() => indexRecords(set, 0)).toThrow(UnsupportedBatchError);
    try {
      indexRecords(set, 0);
    } catch (err) {
      expect((err as UnsupportedBatchError).retriable).toBe(false);
      expect((err as Error).message).toMatch(/gzip record batch at offset 0: CRC mismatch/);
    }
  });
});

describe('indexMessages', () => {
  const message = (offset: number, key: string | null, value: string | null) =>
    ({
      offset: String(offset),
      timestamp: String(1_796_000_000_000 + offset),
      key: key === null ? null : Buffer.from(key),
      value: value === null ? null : Buffer.from(value),
      attributes: 0,
      headers: {},
    }) as KafkaMessage;

  it('gives each message its offset, timestamp, key and value, nulls kept, in one copy of the bytes', () => {
    const messages = [message(40, 'M-1', 'gasp'), message(41, null, 'restore'), message(43, 'M-3', null)];
    const ix = indexMessages(messages);
    expect(ix.count).toBe(3);
    expect(ix.nextOffset).toBe(44);
    expect([0, 1, 2].map((i) => recordMessage(ix, i))).toEqual([
      {
        key: Buffer.from('M-1'),
        value: Buffer.from('gasp'),
        timestamp: '1796000000040',
        attributes: 0,
        offset: '40',
        headers: {},
      },
      {
        key: null,
        value: Buffer.from('restore'),
        timestamp: '1796000000041',
        attributes: 0,
        offset: '41',
        headers: {},
      },
      {
        key: Buffer.from('M-3'),
        value: null,
        timestamp: '1796000000043',
        attributes: 0,
        offset: '43',
        headers: {},
      },
    ]);
    messages[0]!.value!.fill(0); // the fetch response's bytes may go: the index holds its own
    expect(recordMessage(ix, 0).value).toEqual(Buffer.from('gasp'));
  });

  it('indexes an empty batch', () => {
    expect(indexMessages([])).toMatchObject({ count: 0, nextOffset: 0 });
  });
});

describe('parseFetchV4', () => {
  it('reads partitions, watermarks, aborted transactions and record sets', () => {
    const records = batch(5, [{ key: 'a', value: 'x' }]);
    const parts: Buffer[] = [];
    const i32 = (v: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(v);
      parts.push(b);
    };
    const i64 = (v: bigint) => {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(v);
      parts.push(b);
    };
    const str = (s: string) => {
      const b = Buffer.alloc(2);
      b.writeInt16BE(s.length);
      parts.push(b, Buffer.from(s));
    };
    i32(0); // throttle
    i32(1);
    str('t');
    i32(2);
    i32(0); // partition 0
    parts.push(Buffer.from([0, 0]));
    i64(6n);
    i64(6n);
    i32(1);
    i64(9n);
    i64(3n);
    i32(records.length);
    parts.push(records);
    i32(1); // partition 1: offset out of range, null records
    parts.push(Buffer.from([0, 1]));
    i64(-1n);
    i64(-1n);
    i32(-1);
    i32(-1);
    const out = parseFetchV4(
      Buffer.concat(parts),
      new Map([
        ['t\u00000', 5],
        ['t\u00001', 42],
      ]),
    );
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({
      topic: 't',
      partition: 0,
      errorCode: 0,
      highWatermark: 6,
      fetchOffset: 5,
    });
    expect(out[0]!.aborted).toEqual([{ producerId: 9n, firstOffset: 3 }]);
    expect(out[0]!.records?.equals(records)).toBe(true);
    expect(out[1]).toMatchObject({ partition: 1, errorCode: 1, records: null, fetchOffset: 42 });
  });
});

describe('Connection', () => {
  let server: net.Server | undefined;
  afterEach(() => server?.close());

  it('reassembles a multi-MB response sent in small chunks, and one split inside its size prefix', async () => {
    const big = Buffer.alloc(3 << 20, 7);
    server = net.createServer((s) => {
      let got = Buffer.alloc(0);
      s.on('data', async (d) => {
        got = Buffer.concat([got, d]);
        while (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) {
          const corr = got.readInt32BE(8);
          got = got.subarray(4 + got.readInt32BE(0));
          const payload = corr === 1 ? big : Buffer.from('small');
          const frame = Buffer.alloc(8 + payload.length);
          frame.writeInt32BE(4 + payload.length, 0);
          frame.writeInt32BE(corr, 4);
          payload.copy(frame, 8);
          // Odd chunk sizes; the first ones cut the size prefix.
          for (let p = 0, n = 1; p < frame.length; p += n, n = n < 4 ? n + 1 : 65_521) {
            s.write(frame.subarray(p, p + n));
            if (n < 4) await new Promise((r) => setTimeout(r, 5));
          }
        }
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const conn = await Connection.open('127.0.0.1', port, false, 'test');
    const first = await conn.request(1, 4, [Buffer.from('req')]);
    expect(first.length).toBe(big.length);
    expect(first.equals(big)).toBe(true);
    expect((await conn.request(1, 4, [Buffer.from('req')])).toString()).toBe('small');
    conn.close();
  });

  /** A broker in a worker thread (it answers while this thread is blocked); resolves with its port. */
  async function echoBrokerInWorker(answer: boolean): Promise<{ port: number; worker: Worker }> {
    const worker = new Worker(
      `const net = require('node:net'); const { parentPort } = require('node:worker_threads');
       const server = net.createServer((s) => s.on('data', (d) => {
         if (!${answer}) return;
         const frame = Buffer.alloc(8 + 2); frame.writeInt32BE(6, 0); frame.writeInt32BE(d.readInt32BE(8), 4);
         frame.write('ok', 8); s.write(frame);
       }));
       server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));`,
      { eval: true },
    );
    const port = await new Promise<number>((r) => worker.once('message', r));
    return { port, worker };
  }

  it('counts an answer that arrived while the process was paused past the time-out (a long GC, SIGSTOP)', async () => {
    const { port, worker } = await echoBrokerInWorker(true);
    try {
      const conn = await Connection.open('127.0.0.1', port, false, 'test', 100);
      // From the check phase: the next turn runs the (late) timer before it reads the socket.
      const answered = await new Promise<Promise<Buffer>>((resolve) =>
        setImmediate(() => {
          const answer = conn.request(1, 4, [Buffer.from('req')]);
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 400);
          resolve(answer);
        }),
      );
      expect((await answered).toString()).toBe('ok');
      expect(conn.alive).toBe(true);
      conn.close();
    } finally {
      await worker.terminate();
    }
  });

  it('fails a request left unanswered past the time-out as a lost connection (retriable)', async () => {
    const { port, worker } = await echoBrokerInWorker(false);
    try {
      const conn = await Connection.open('127.0.0.1', port, false, 'test', 100);
      const err = await conn.request(1, 4, [Buffer.from('req')]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectionLost);
      expect((err as Error).message).toMatch(/timed out after 100 ms/);
      expect(isRetriable(err)).toBe(true);
      expect(conn.alive).toBe(false);
    } finally {
      await worker.terminate();
    }
  });
});
