import { Reader, Writer } from '../protocol.js';

/**
 * Produce v3-v8, one record batch for one partition. The request is the same
 * in all of them; answers add log_start_offset (v5) and per-record errors
 * with a message (v8).
 */

export interface ProduceRequest {
  transactionalId: string | null;
  acks: number;
  timeoutMs: number;
  topic: string;
  partition: number;
  batch: Buffer;
}

export function encodeProduceRequest(_version: number, q: ProduceRequest): Buffer[] {
  return new Writer()
    .string(q.transactionalId)
    .int16(q.acks)
    .int32(q.timeoutMs)
    .int32(1)
    .string(q.topic)
    .int32(1)
    .int32(q.partition)
    .bytes(q.batch)
    .done();
}

export interface ProduceAnswer {
  /** The first non-zero partition error code, else 0. */
  code: number;
  /** The broker's error message (v8+), if any. */
  message: string | null;
}

export function decodeProduceResponse(body: Buffer, version: number): ProduceAnswer {
  const r = new Reader(body);
  let code = 0;
  let message: string | null = null;
  for (let t = r.int32(); t > 0; t--) {
    r.string();
    for (let p = r.int32(); p > 0; p--) {
      r.int32(); // index
      const c = r.int16();
      r.p += 8 + 8; // base offset, log append time
      if (version >= 5) r.p += 8; // log start offset
      let m: string | null = null;
      if (version >= 8) {
        for (let e = r.int32(); e > 0; e--) {
          r.int32(); // batch index
          r.string(); // record error message
        }
        m = r.string();
      }
      if (c !== 0 && code === 0) {
        code = c;
        message = m;
      }
    }
  }
  return { code, message };
}
