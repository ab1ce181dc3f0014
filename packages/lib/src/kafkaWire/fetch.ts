import type { KafkaMessage } from 'kafkajs';
import { UnavailableError } from '../errors.js';
import { APIS } from './apis.js';
import { BrokerConnections, MetadataAge, type BrokerConnectionsOptions } from './brokers.js';
import { inflateRecordSet, UnsupportedBatchError } from './compression.js';
import { isRetriableKafkaCode, KafkaProtocolError, LEADER_NOT_AVAILABLE } from './kafkaErrors.js';
import {
  decodeFetchResponse,
  encodeFetchRequest,
  int64At,
  type AbortedTransaction,
  type FetchedPartition,
} from './messages/fetch.js';

export type { AbortedTransaction, FetchedPartition };

/**
 * Fetching record batches raw over the wire protocol, for consumers whose
 * cost is per-record objects (kafkajs builds a message object, two Buffers,
 * a Long and offset strings for every record, ~5 µs a read here). Records are
 * indexed in place in the response buffer (typed arrays of positions), so a
 * caller reads keys and values without any per-record allocation.
 *
 * What it does: Metadata (leaders), Fetch v4-v6 (READ_COMMITTED or
 * READ_UNCOMMITTED; aborted transactions and control batches are skipped as
 * the Java client does), magic-2 batches, compressed ones decompressed first
 * (compression.ts: gzip, snappy, lz4, zstd). Group
 * membership and offset commits are the caller's (kafkajs). Plain TCP or TLS,
 * SASL when configured (brokers.ts).
 */

export const OFFSET_OUT_OF_RANGE = 1;

export const READ_UNCOMMITTED = 0;
export const READ_COMMITTED = 1;

export interface FetchPartition {
  topic: string;
  partition: number;
  /** Next offset wanted. */
  offset: number;
}

// ---------------------------------------------------------------- record index

/**
 * The records of one partition's record set, as positions in `buf`:
 * for record i, key bytes [keyStart[i], keyEnd[i]) (keyStart -1: null key),
 * value likewise, header bytes [headersStart[i], headersEnd[i]) with
 * headerCount[i] headers. Offsets and timestamps are exact below 2^53.
 */
export interface RecordIndex {
  buf: Buffer;
  count: number;
  offset: Float64Array;
  timestamp: Float64Array;
  keyStart: Int32Array;
  keyEnd: Int32Array;
  valueStart: Int32Array;
  valueEnd: Int32Array;
  headersStart: Int32Array;
  headersEnd: Int32Array;
  headerCount: Int32Array;
  /** Offset after the last complete batch (control batches included): the next fetch offset. */
  nextOffset: number;
}

const TRANSACTIONAL = 0x10;
const CONTROL = 0x20;

/** Zigzag varint reader over one buffer; `p` is the cursor. */
class VarReader {
  p = 0;
  constructor(private readonly b: Buffer) {}
  varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.b[this.p++];
      if (byte === undefined) throw new UnsupportedBatchError('truncated record in a batch');
      n += (byte & 0x7f) * scale;
      if (byte < 0x80) return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
      scale *= 128;
    }
    throw new UnsupportedBatchError('varint longer than 10 bytes in a batch');
  }
}

/** Counts records in complete batches, to size the index once. */
function countRecords(buf: Buffer): number {
  let n = 0;
  for (let p = 0; p + 61 <= buf.length;) {
    const end = p + 12 + buf.readInt32BE(p + 8);
    if (end > buf.length) break;
    n += Math.max(0, buf.readInt32BE(p + 57));
    p = end;
  }
  return n;
}

/** The control type of a control batch's first record: 0 ABORT, 1 COMMIT. */
function controlType(buf: Buffer, recordsAt: number): number {
  const r = new VarReader(buf);
  r.p = recordsAt;
  r.varint(); // length
  r.p += 1; // attributes
  r.varint(); // timestamp delta
  r.varint(); // offset delta
  const keyLen = r.varint();
  return keyLen >= 4 ? buf.readInt16BE(r.p + 2) : -1;
}

/**
 * Indexes the records of `records` (one partition of a fetch response) at or
 * after `fromOffset`, skipping control batches and, when `aborted` is given
 * (READ_COMMITTED), records of aborted transactions. A trailing partial batch
 * (cut by the fetch size) is left for the next fetch. Compressed batches are
 * decompressed first (`buf` is then a new buffer).
 */
export function indexRecords(
  fetched: Buffer,
  fromOffset: number,
  aborted: readonly AbortedTransaction[] = [],
): RecordIndex {
  const records = inflateRecordSet(fetched);
  const cap = countRecords(records);
  const ix: RecordIndex = {
    buf: records,
    count: 0,
    offset: new Float64Array(cap),
    timestamp: new Float64Array(cap),
    keyStart: new Int32Array(cap),
    keyEnd: new Int32Array(cap),
    valueStart: new Int32Array(cap),
    valueEnd: new Int32Array(cap),
    headersStart: new Int32Array(cap),
    headersEnd: new Int32Array(cap),
    headerCount: new Int32Array(cap),
    nextOffset: fromOffset,
  };
  const pending = [...aborted].sort((a, b) => a.firstOffset - b.firstOffset);
  const abortedPids = new Set<bigint>();
  let nextAborted = 0;
  const r = new VarReader(records);
  for (let p = 0; p + 61 <= records.length;) {
    const end = p + 12 + records.readInt32BE(p + 8);
    if (end > records.length) break;
    const magic = records.readInt8(p + 16);
    if (magic !== 2) throw new UnsupportedBatchError(`record batch magic ${magic} (only 2 is read)`);
    const attributes = records.readInt16BE(p + 21);
    const baseOffset = int64At(records, p);
    const lastOffset = baseOffset + records.readInt32BE(p + 23);
    const batchEnd = end;
    ix.nextOffset = Math.max(ix.nextOffset, lastOffset + 1);
    if (lastOffset < fromOffset) {
      p = batchEnd;
      continue;
    }
    while (nextAborted < pending.length && pending[nextAborted]!.firstOffset <= lastOffset)
      abortedPids.add(pending[nextAborted++]!.producerId);
    if ((attributes & (TRANSACTIONAL | CONTROL)) !== 0 && abortedPids.size > 0) {
      const pid = records.readBigInt64BE(p + 43);
      if ((attributes & CONTROL) !== 0) {
        if (controlType(records, p + 61) === 0) abortedPids.delete(pid);
      } else if (abortedPids.has(pid)) {
        p = batchEnd;
        continue;
      }
    }
    if ((attributes & CONTROL) !== 0) {
      p = batchEnd;
      continue;
    }
    const baseTimestamp = int64At(records, p + 27);
    const count = records.readInt32BE(p + 57);
    r.p = p + 61;
    for (let k = 0; k < count; k++) {
      const len = r.varint();
      const recordEnd = r.p + len;
      r.p += 1; // attributes
      const tsDelta = r.varint();
      const offset = baseOffset + r.varint();
      const keyLen = r.varint();
      const keyStart = keyLen < 0 ? -1 : r.p;
      if (keyLen > 0) r.p += keyLen;
      const keyEnd = keyLen < 0 ? -1 : r.p;
      const valueLen = r.varint();
      const valueStart = valueLen < 0 ? -1 : r.p;
      if (valueLen > 0) r.p += valueLen;
      const valueEnd = valueLen < 0 ? -1 : r.p;
      const headers = r.varint();
      if (recordEnd > batchEnd || r.p > recordEnd)
        throw new UnsupportedBatchError(`record at offset ${offset} runs past its batch`);
      if (offset >= fromOffset) {
        const i = ix.count++;
        ix.offset[i] = offset;
        ix.timestamp[i] = baseTimestamp + tsDelta;
        ix.keyStart[i] = keyStart;
        ix.keyEnd[i] = keyEnd;
        ix.valueStart[i] = valueStart;
        ix.valueEnd[i] = valueEnd;
        ix.headersStart[i] = r.p;
        ix.headersEnd[i] = recordEnd;
        ix.headerCount[i] = headers;
      }
      r.p = recordEnd;
    }
    p = batchEnd;
  }
  return ix;
}

/**
 * kafkajs messages as a RecordIndex over one copy of their keys and values, as the raw fetch gives
 * them: an input held for the watermark then keeps a slot of a shared index, not its kafkajs message
 * and the fetch response behind it (a whole-fleet blackout holds about a million power restores).
 * Headers are not kept (a dead letter carries the original key and value).
 */
export function indexMessages(messages: readonly KafkaMessage[]): RecordIndex {
  const n = messages.length;
  let bytes = 0;
  for (const m of messages) bytes += (m.key?.length ?? 0) + (m.value?.length ?? 0);
  const buf = Buffer.allocUnsafe(bytes);
  const ix: RecordIndex = {
    buf,
    count: n,
    offset: new Float64Array(n),
    timestamp: new Float64Array(n),
    keyStart: new Int32Array(n),
    keyEnd: new Int32Array(n),
    valueStart: new Int32Array(n),
    valueEnd: new Int32Array(n),
    headersStart: new Int32Array(n),
    headersEnd: new Int32Array(n),
    headerCount: new Int32Array(n),
    nextOffset: n === 0 ? 0 : Number(messages[n - 1]!.offset) + 1,
  };
  let p = 0;
  /** Copies `b` at p; its [start, end) in the index, or -1 for null. */
  const put = (b: Buffer | null, starts: Int32Array, ends: Int32Array, i: number): void => {
    if (b === null) {
      starts[i] = ends[i] = -1;
      return;
    }
    starts[i] = p;
    p += b.copy(buf, p);
    ends[i] = p;
  };
  for (let i = 0; i < n; i++) {
    const m = messages[i]!;
    ix.offset[i] = Number(m.offset);
    ix.timestamp[i] = Number(m.timestamp);
    put(m.key ?? null, ix.keyStart, ix.keyEnd, i);
    put(m.value, ix.valueStart, ix.valueEnd, i);
  }
  return ix;
}

/** Record i as kafkajs shapes a message (for the rare slow path and the DLQ: copies its bytes). */
export function recordMessage(
  ix: RecordIndex,
  i: number,
): {
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  attributes: number;
  offset: string;
  headers: Record<string, Buffer>;
} {
  const b = ix.buf;
  const copy = (start: number, end: number) => (start < 0 ? null : Buffer.from(b.subarray(start, end)));
  const headers: Record<string, Buffer> = {};
  const r = new VarReader(b);
  r.p = ix.headersStart[i]!;
  for (let h = 0; h < ix.headerCount[i]!; h++) {
    const kLen = r.varint();
    const k = b.toString('utf8', r.p, r.p + kLen);
    r.p += kLen;
    const vLen = r.varint();
    headers[k] = vLen < 0 ? Buffer.alloc(0) : Buffer.from(b.subarray(r.p, r.p + vLen));
    if (vLen > 0) r.p += vLen;
  }
  return {
    key: copy(ix.keyStart[i]!, ix.keyEnd[i]!),
    value: copy(ix.valueStart[i]!, ix.valueEnd[i]!),
    timestamp: String(ix.timestamp[i]),
    attributes: 0,
    offset: String(ix.offset[i]),
    headers,
  };
}

// ---------------------------------------------------------------- fetch response

/** Parses a Fetch v4 response body (after the correlation id). */
export function parseFetchV4(body: Buffer, requested: ReadonlyMap<string, number>): FetchedPartition[] {
  return decodeFetchResponse(body, 4, requested);
}

// ---------------------------------------------------------------- fetcher

export interface WireFetcherOptions extends BrokerConnectionsOptions {
  /** How long the broker may wait for minBytes. */
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
  partitionMaxBytes?: number;
  isolation?: typeof READ_UNCOMMITTED | typeof READ_COMMITTED;
}

/** Fetches partitions from their leaders, one pipelined connection per broker. */
export class WireFetcher {
  /** Broker addresses and connections, as WireProducer's. */
  private readonly cluster: BrokerConnections;
  private leaders = new Map<string, number[]>();
  private readonly metadataAge: MetadataAge;

  constructor(private readonly opts: WireFetcherOptions) {
    this.cluster = new BrokerConnections(opts);
    this.metadataAge = new MetadataAge(opts.metadataMaxAgeMs);
  }

  /**
   * One Fetch per leader, concurrently. Partition errors come back in
   * `errorCode` (a leader change also refreshes the metadata for the next
   * call), except those no retry cures (TOPIC_AUTHORIZATION_FAILED...),
   * thrown as KafkaProtocolError; a lost connection throws UnavailableError.
   */
  async fetch(parts: readonly FetchPartition[]): Promise<FetchedPartition[]> {
    const topics = [...new Set(parts.map((p) => p.topic))];
    if (topics.some((t) => !this.leaders.has(t))) await this.refreshMetadata(topics);
    else if (this.metadataAge.stale())
      this.metadataAge.refreshInBackground(() => this.refreshMetadata(topics));
    const byLeader = new Map<number, FetchPartition[]>();
    const out: FetchedPartition[] = [];
    for (const p of parts) {
      const leader = this.leaders.get(p.topic)?.[p.partition];
      if (leader === undefined || leader < 0) {
        out.push(noLeader(p));
        continue;
      }
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), p]);
    }
    const answers = await Promise.all([...byLeader].map(([leader, ps]) => this.fetchFrom(leader, ps)));
    for (const a of answers) out.push(...a);
    const refused = out.find(
      (p) => p.errorCode !== 0 && !isRetriableKafkaCode(p.errorCode) && p.errorCode !== OFFSET_OUT_OF_RANGE,
    );
    if (refused)
      throw new KafkaProtocolError(`fetch of ${refused.topic}/${refused.partition}`, refused.errorCode);
    if (out.some((p) => p.errorCode !== 0 && p.errorCode !== OFFSET_OUT_OF_RANGE))
      await this.refreshMetadata(topics).catch(() => undefined);
    return out;
  }

  close(): void {
    this.cluster.closeNow();
  }

  private async fetchFrom(leader: number, parts: readonly FetchPartition[]): Promise<FetchedPartition[]> {
    const byTopic = new Map<string, FetchPartition[]>();
    for (const p of parts) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p]);
    const conn = await this.cluster.connection(leader);
    const v = conn.version(APIS.fetch);
    const body = encodeFetchRequest(v, {
      maxWaitMs: this.opts.maxWaitMs ?? 500,
      minBytes: this.opts.minBytes ?? 1,
      maxBytes: this.opts.maxBytes ?? 32 << 20,
      isolation: this.opts.isolation ?? READ_COMMITTED,
      partitionMaxBytes: this.opts.partitionMaxBytes ?? 4 << 20,
      topics: byTopic,
    });
    const requested = new Map(parts.map((p) => [`${p.topic}\u0000${p.partition}`, p.offset]));
    return decodeFetchResponse(await conn.request(APIS.fetch.key, v, body), v, requested);
  }

  /** Leaders of `topics`, merged into those known (a topic with an error keeps its old leaders). */
  private async refreshMetadata(topics: string[]): Promise<void> {
    const { brokers, leaders, topicErrors } = await this.cluster.metadata(topics);
    for (const [name, parts] of leaders) this.leaders.set(name, parts);
    this.cluster.setBrokers(brokers);
    this.metadataAge.loaded();
    for (const t of topics) {
      if (this.leaders.has(t)) continue;
      const code = topicErrors.get(t);
      if (code !== undefined && !isRetriableKafkaCode(code))
        throw new KafkaProtocolError(`Metadata for topic ${t}`, code);
      throw new UnavailableError('kafka', `no metadata for topic ${t}`);
    }
  }
}

function noLeader(p: FetchPartition): FetchedPartition {
  return {
    topic: p.topic,
    partition: p.partition,
    fetchOffset: p.offset,
    errorCode: LEADER_NOT_AVAILABLE,
    highWatermark: -1,
    lastStableOffset: -1,
    aborted: [],
    records: null,
  };
}
