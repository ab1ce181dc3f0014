import { APIS } from '../apis.js';
import { Reader, Writer, type Connection } from '../protocol.js';

/** InitProducerId v0-1 (identical on the wire): a producer id and epoch, for a transactional id or none. */

export function encodeInitProducerIdRequest(
  _version: number,
  transactionalId: string | null,
  transactionTimeoutMs: number,
): Buffer[] {
  return new Writer().string(transactionalId).int32(transactionTimeoutMs).done();
}

/** An InitProducerId answer: the error code, and the producer id and epoch (read only when the code is 0). */
export interface InitProducerIdResult {
  code: number;
  producerId: bigint;
  epoch: number;
}

export function decodeInitProducerIdResponse(body: Buffer, _version: number): InitProducerIdResult {
  const r = new Reader(body);
  r.int32(); // throttle
  const code = r.int16();
  if (code !== 0) return { code, producerId: -1n, epoch: -1 };
  return { code, producerId: r.int64(), epoch: r.int16() };
}

/**
 * One InitProducerId request (`transactionalId` null for an idempotent
 * producer) and its answer. Error codes are returned, not thrown: the callers
 * retry and refuse differently.
 */
export async function initProducerId(
  conn: Connection,
  transactionalId: string | null,
  transactionTimeoutMs: number,
): Promise<InitProducerIdResult> {
  const v = conn.version(APIS.initProducerId);
  const body = encodeInitProducerIdRequest(v, transactionalId, transactionTimeoutMs);
  return decodeInitProducerIdResponse(await conn.request(APIS.initProducerId.key, v, body), v);
}
