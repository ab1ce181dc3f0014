import { Reader, Writer } from '../protocol.js';

/**
 * The transaction requests sent to the coordinators: AddPartitionsToTxn,
 * AddOffsetsToTxn and EndTxn v0-2 (each identical on the wire across those
 * versions), TxnOffsetCommit v0-3 (v2 adds the leader epoch; v3, KIP-447,
 * is flexible and carries the group generation and member id, so the group
 * coordinator refuses a commit from a member the group has moved past).
 */

/** transactional_id, producer_id, producer_epoch: the start of the transaction coordinator's requests. */
export interface TxnProducer {
  transactionalId: string;
  producerId: bigint;
  epoch: number;
}

function txnHeader(p: TxnProducer): Writer {
  return new Writer().string(p.transactionalId).int64(p.producerId).int16(p.epoch);
}

export function encodeAddPartitionsToTxnRequest(
  _version: number,
  p: TxnProducer,
  parts: ReadonlyMap<string, readonly number[]>,
): Buffer[] {
  const w = txnHeader(p).int32(parts.size);
  for (const [topic, list] of parts) {
    w.string(topic).int32(list.length);
    for (const n of list) w.int32(n);
  }
  return w.done();
}

export function encodeAddOffsetsToTxnRequest(_version: number, p: TxnProducer, groupId: string): Buffer[] {
  return txnHeader(p).string(groupId).done();
}

export function encodeEndTxnRequest(_version: number, p: TxnProducer, commit: boolean): Buffer[] {
  return txnHeader(p)
    .int8(commit ? 1 : 0)
    .done();
}

/** The error code of an answer that is throttle_time_ms then error_code (AddOffsetsToTxn, EndTxn). */
export function decodeTopLevelCode(body: Buffer): number {
  const r = new Reader(body);
  r.int32(); // throttle
  return r.int16();
}

/** Error codes of every partition of a throttle, topics[name, partitions[index, error_code]] answer (v0-2). */
export function decodePartitionCodes(body: Buffer): number[] {
  const r = new Reader(body);
  r.int32(); // throttle
  const codes: number[] = [];
  for (let t = r.int32(); t > 0; t--) {
    r.string();
    for (let n = r.int32(); n > 0; n--) {
      r.int32();
      codes.push(r.int16());
    }
  }
  return codes;
}

/** The consumer group member committing (KIP-447): the broker fences a commit from an older generation. */
export interface GroupMember {
  generationId: number;
  memberId: string;
  groupInstanceId?: string | null;
}

export interface TxnOffsetCommitRequest {
  groupId: string;
  /** Without it (or below v3) the group does not check the member: fencing is the transactional id's only. */
  member?: GroupMember;
  topics: ReadonlyArray<{
    topic: string;
    partitions: ReadonlyArray<{ partition: number; offset: number | string }>;
  }>;
}

export function encodeTxnOffsetCommitRequest(
  version: number,
  p: TxnProducer,
  q: TxnOffsetCommitRequest,
): Buffer[] {
  if (version < 3) {
    const w = txnHeader(p).string(q.groupId).int32(q.topics.length);
    for (const t of q.topics) {
      w.string(t.topic).int32(t.partitions.length);
      for (const x of t.partitions) {
        w.int32(x.partition).int64(BigInt(x.offset));
        if (version >= 2) w.int32(-1); // leader epoch
        w.string(null); // metadata
      }
    }
    return w.done();
  }
  const w = new Writer()
    .compactString(p.transactionalId)
    .compactString(q.groupId)
    .int64(p.producerId)
    .int16(p.epoch)
    .int32(q.member?.generationId ?? -1)
    .compactString(q.member?.memberId ?? '')
    .compactString(q.member?.groupInstanceId ?? null)
    .compactArray(q.topics.length);
  for (const t of q.topics) {
    w.compactString(t.topic).compactArray(t.partitions.length);
    for (const x of t.partitions)
      w.int32(x.partition).int64(BigInt(x.offset)).int32(-1).compactString(null).tags();
    w.tags();
  }
  return w.tags().done();
}

export function decodeTxnOffsetCommitResponse(body: Buffer, version: number): number[] {
  if (version < 3) return decodePartitionCodes(body);
  const r = new Reader(body);
  r.int32(); // throttle
  const codes: number[] = [];
  for (let t = r.compactArray(); t > 0; t--) {
    r.compactString();
    for (let n = r.compactArray(); n > 0; n--) {
      r.int32();
      codes.push(r.int16());
      r.skipTags();
    }
    r.skipTags();
  }
  return codes;
}
