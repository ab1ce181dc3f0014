import { Reader, Writer } from '../protocol.js';

/**
 * Fetch v4-v11: partitions by topic and offset, with isolation level; v5 adds
 * log_start_offset to each partition of the request (-1: a consumer's) and
 * of the answer (v6 is v5 on the wire); v7 adds fetch sessions (not used:
 * fetch session id 0, epoch -1 is a sessionless full fetch), a top-level error code
 * and the forgotten topics; v9 the partition's current leader epoch (-1:
 * unknown); v10 only tells the broker that the client reads zstd (a topic
 * whose compression.type is zstd answers UNSUPPORTED_COMPRESSION_TYPE below
 * it); v11 the rack id and the answer's preferred read replica. Records are
 * left as a view of the response buffer.
 */

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: number;
}

/** One partition of a fetch response; `records` is a view of the response buffer. */
export interface FetchedPartition {
  topic: string;
  partition: number;
  fetchOffset: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  aborted: AbortedTransaction[];
  records: Buffer | null;
}

export interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolation: number;
  partitionMaxBytes: number;
  /** Partitions by topic: [partition, offset]. */
  topics: ReadonlyMap<string, ReadonlyArray<{ partition: number; offset: number }>>;
}

export function encodeFetchRequest(version: number, q: FetchRequest): Buffer[] {
  const w = new Writer()
    .int32(-1) // replica id
    .int32(q.maxWaitMs)
    .int32(q.minBytes)
    .int32(q.maxBytes)
    .int8(q.isolation);
  if (version >= 7) w.int32(0).int32(-1); // no fetch session: a full fetch every time
  w.int32(q.topics.size);
  for (const [topic, ps] of q.topics) {
    w.string(topic).int32(ps.length);
    for (const p of ps) {
      w.int32(p.partition);
      if (version >= 9) w.int32(-1); // current leader epoch: not tracked
      w.int64(BigInt(p.offset));
      if (version >= 5) w.int64(-1n); // log start offset: only followers send one
      w.int32(q.partitionMaxBytes);
    }
  }
  if (version >= 7) w.int32(0); // forgotten topics (sessions only)
  if (version >= 11) w.string(''); // rack id
  return w.done();
}

const TWO_32 = 4294967296;

export function int64At(b: Buffer, p: number): number {
  return b.readInt32BE(p) * TWO_32 + b.readUInt32BE(p + 4);
}

/**
 * Parses a Fetch v4-v11 response body; `requested` gives each partition's fetch offset
 * (`topic\0partition`). A top-level error (v7+, with no topics) comes back on every partition asked for.
 */
export function decodeFetchResponse(
  body: Buffer,
  version: number,
  requested: ReadonlyMap<string, number>,
): FetchedPartition[] {
  const r = new Reader(body);
  r.int32(); // throttle
  const out: FetchedPartition[] = [];
  if (version >= 7) {
    const errorCode = r.int16();
    r.int32(); // session id
    if (errorCode !== 0)
      return [...requested].map(([key, offset]) => failedPartition(key, offset, errorCode));
  }
  for (let t = r.int32(); t > 0; t--) {
    const topic = r.string()!;
    for (let n = r.int32(); n > 0; n--) {
      const partition = r.int32();
      const errorCode = r.int16();
      const highWatermark = int64At(body, r.p);
      const lastStableOffset = int64At(body, r.p + 8);
      r.p += 16;
      if (version >= 5) r.p += 8; // log start offset
      const aborted: AbortedTransaction[] = [];
      for (let a = r.int32(); a > 0; a--) {
        const producerId = r.int64();
        aborted.push({ producerId, firstOffset: int64At(body, r.p) });
        r.p += 8;
      }
      if (version >= 11) r.int32(); // preferred read replica: followers are not read here
      const records = r.bytes();
      out.push({
        topic,
        partition,
        fetchOffset: requested.get(`${topic}\u0000${partition}`) ?? 0,
        errorCode,
        highWatermark,
        lastStableOffset,
        aborted,
        records,
      });
    }
  }
  return out;
}

function failedPartition(key: string, fetchOffset: number, errorCode: number): FetchedPartition {
  const [topic, partition] = key.split('\u0000') as [string, string];
  return {
    topic,
    partition: Number(partition),
    fetchOffset,
    errorCode,
    highWatermark: -1,
    lastStableOffset: -1,
    aborted: [],
    records: null,
  };
}
