import { setTimeout as sleep } from 'node:timers/promises';
import { AmiError, UnavailableError } from '../errors.js';
import { APIS } from './apis.js';
import { KafkaProtocolError } from './kafkaErrors.js';
import { decodeFindCoordinatorResponse, encodeFindCoordinatorRequest } from './messages/findCoordinator.js';
import { initProducerId } from './messages/initProducerId.js';
import {
  decodePartitionCodes,
  decodeTopLevelCode,
  decodeTxnOffsetCommitResponse,
  encodeAddOffsetsToTxnRequest,
  encodeAddPartitionsToTxnRequest,
  encodeEndTxnRequest,
  encodeTxnOffsetCommitRequest,
  type GroupMember,
  type TxnProducer,
} from './messages/txn.js';
import { type Connection, partitionForKey } from './protocol.js';
import { WireProducer, type WireProducerOptions } from './producer.js';
import { TransactionalBatch, type RecordHeaders } from './transactionBatch.js';

/**
 * Transactions on the wire protocol, on top of the idempotent WireProducer:
 * FindCoordinator (transaction and group coordinators), InitProducerId with
 * the transactional id (fences an older producer with the same id and aborts
 * its open transaction), AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit
 * (v3 with the group member's generation and id when given: KIP-447, a
 * member the group has moved past cannot commit), EndTxn; versions chosen
 * from the broker's ranges (apis.ts). Batches carry the transactional bit.
 *
 * One transaction is built in memory and committed in one go
 * (`Transaction.commit`): partitions and the offsets' group are added to the
 * transaction together, then every batch is produced (all partitions at once,
 * per-partition FIFO) while the offsets go to the group coordinator, then
 * EndTxn. About four round trips, whatever the number of records.
 *
 * Errors: a coordinator that moved or is loading, CONCURRENT_TRANSACTIONS (the
 * previous commit's markers are still being written) and lost connections
 * are retried. Fencing (another producer took the transactional id) throws
 * ProducerFencedError; any other refusal TransactionError; both are not
 * retriable, and after any failure the producer refuses further work (its
 * sequences or epoch may be out of step with the broker): make a new one.
 */

export const API_FIND_COORDINATOR = APIS.findCoordinator.key;
export const API_ADD_PARTITIONS_TO_TXN = APIS.addPartitionsToTxn.key;
export const API_ADD_OFFSETS_TO_TXN = APIS.addOffsetsToTxn.key;
export const API_END_TXN = APIS.endTxn.key;
export const API_TXN_OFFSET_COMMIT = APIS.txnOffsetCommit.key;

const COORDINATOR_LOAD_IN_PROGRESS = 14;
const COORDINATOR_NOT_AVAILABLE = 15;
const NOT_COORDINATOR = 16;
const CONCURRENT_TRANSACTIONS = 51;
const OPERATION_NOT_ATTEMPTED = 55;
/** Attempts a coordinator request gets however long they take. */
const MIN_ATTEMPTS = 3;
/** Answers meaning "not now": the same request is sent again after a short pause. */
const LATER = new Set([COORDINATOR_LOAD_IN_PROGRESS, CONCURRENT_TRANSACTIONS, 7 /* REQUEST_TIMED_OUT */]);
/** Answers meaning "ask the coordinator again". */
const MOVED = new Set([COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR]);
/** Another producer owns the transactional id now (a zombie must stop). */
export const FENCED_CODES = new Set([
  47, // INVALID_PRODUCER_EPOCH
  52, // TRANSACTION_COORDINATOR_FENCED
  90, // PRODUCER_FENCED
  // TxnOffsetCommit v3 (KIP-447): the group has moved on without this member.
  22, // ILLEGAL_GENERATION
  25, // UNKNOWN_MEMBER_ID
  82, // FENCED_INSTANCE_ID
]);

/** A newer producer with the same transactional id exists (or the group moved past this member): stop, never retry. */
export class ProducerFencedError extends KafkaProtocolError {
  constructor(what: string, code: number, detail?: string | null) {
    super(what, code, detail ?? 'fenced', false);
  }
}

/** The broker refused a transactional request for good (bad state, authorization, sequence). */
export class TransactionError extends KafkaProtocolError {
  constructor(what: string, code: number, detail?: string | null) {
    super(what, code, detail, false);
  }
}

function refusal(what: string, code: number, detail?: string | null): KafkaProtocolError {
  return FENCED_CODES.has(code)
    ? new ProducerFencedError(what, code, detail)
    : new TransactionError(what, code, detail);
}

export interface TransactionalProducerOptions extends WireProducerOptions {
  transactionalId: string;
  /** The broker aborts a transaction open longer than this (default 30 s). */
  transactionTimeoutMs?: number;
  /** How long "not now" answers and lost coordinators are retried (default 30 s). */
  retryForMs?: number;
  /** Bytes per record batch before a new one starts (default 900 KiB, under the broker's 1 MiB). */
  maxBatchBytes?: number;
}

/** Input offsets to commit in a transaction (the next offset to read, as Kafka's commits). */
export interface TxnOffsets {
  groupId: string;
  /** The consumer group member committing (generation and member id): sent with TxnOffsetCommit v3+. */
  member?: GroupMember;
  topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: number | string }> }>;
}

const COORDINATOR_TXN = 1;
const COORDINATOR_GROUP = 0;

export class TransactionalProducer extends WireProducer {
  private readonly coordinators = new Map<string, Promise<Connection>>();
  private open: Transaction | null = null;

  constructor(private readonly txOpts: TransactionalProducerOptions) {
    super(txOpts);
    this.transactionalId = txOpts.transactionalId;
  }

  /** Loads leaders of `topics`, then gets the producer id and epoch of the transactional id (fencing older ones). */
  override async connect(topics: string[]): Promise<void> {
    await this.refreshMetadata(topics);
    const { transactionalId, transactionTimeoutMs = 30_000 } = this.txOpts;
    await this.coordinated('InitProducerId', COORDINATOR_TXN, transactionalId, async (conn) => {
      const { code, producerId, epoch } = await initProducerId(conn, transactionalId, transactionTimeoutMs);
      if (code === 0) {
        this.producerId = producerId;
        this.epoch = epoch;
      }
      return code;
    });
  }

  /** Starts a transaction (one at a time). */
  begin(): Transaction {
    if (this.failed) throw this.failed;
    if (this.open) throw new AmiError('a transaction is already open', { retriable: false });
    this.open = new Transaction(this, this.txOpts.maxBatchBytes ?? 900 * 1024);
    return this.open;
  }

  /** @internal Called by Transaction when it ends (committed, aborted or failed). */
  ended(tx: Transaction, err?: Error): void {
    if (this.open === tx) this.open = null;
    if (err) this.failed ??= err;
  }

  /** @internal AddPartitionsToTxn for every partition of the transaction in one request. */
  async addPartitions(parts: Map<string, number[]>): Promise<void> {
    await this.coordinated(
      'AddPartitionsToTxn',
      COORDINATOR_TXN,
      this.txOpts.transactionalId,
      async (conn) => {
        const v = conn.version(APIS.addPartitionsToTxn);
        const body = encodeAddPartitionsToTxnRequest(v, this.txnProducer(), parts);
        return worstCode(decodePartitionCodes(await conn.request(APIS.addPartitionsToTxn.key, v, body)));
      },
    );
  }

  /** @internal AddOffsetsToTxn: the group's offsets partition joins the transaction. */
  async addOffsets(groupId: string): Promise<void> {
    await this.coordinated('AddOffsetsToTxn', COORDINATOR_TXN, this.txOpts.transactionalId, async (conn) => {
      const v = conn.version(APIS.addOffsetsToTxn);
      const body = encodeAddOffsetsToTxnRequest(v, this.txnProducer(), groupId);
      return decodeTopLevelCode(await conn.request(APIS.addOffsetsToTxn.key, v, body));
    });
  }

  /**
   * @internal TxnOffsetCommit to the group coordinator; with `offsets.member`
   * at v3+ (KIP-447) the coordinator refuses a member of an older generation
   * (ILLEGAL_GENERATION, FENCED_INSTANCE_ID, UNKNOWN_MEMBER_ID: fenced).
   */
  async commitOffsets(offsets: TxnOffsets): Promise<void> {
    await this.coordinated('TxnOffsetCommit', COORDINATOR_GROUP, offsets.groupId, async (conn) => {
      const v = conn.version(APIS.txnOffsetCommit);
      const body = encodeTxnOffsetCommitRequest(v, this.txnProducer(), offsets);
      return worstCode(
        decodeTxnOffsetCommitResponse(await conn.request(APIS.txnOffsetCommit.key, v, body), v),
      );
    });
  }

  /** @internal EndTxn: commit or abort. */
  async endTxn(commit: boolean): Promise<void> {
    await this.coordinated('EndTxn', COORDINATOR_TXN, this.txOpts.transactionalId, async (conn) => {
      const v = conn.version(APIS.endTxn);
      const body = encodeEndTxnRequest(v, this.txnProducer(), commit);
      return decodeTopLevelCode(await conn.request(APIS.endTxn.key, v, body));
    });
  }

  /** @internal Refuses work once the producer failed. */
  check(): void {
    if (this.failed) throw this.failed;
  }

  protected override produceError(topic: string, partition: number, code: number): Error {
    return refusal(`produce to ${topic}/${partition}`, code);
  }

  override async close(): Promise<void> {
    for (const c of this.coordinators.values()) {
      void c.then((conn) => conn.close()).catch(() => undefined);
    }
    this.coordinators.clear();
    await super.close();
  }

  /** transactional_id, producer_id, producer_epoch: the start of the coordinator requests. */
  private txnProducer(): TxnProducer {
    return { transactionalId: this.txOpts.transactionalId, producerId: this.producerId, epoch: this.epoch };
  }

  /**
   * Sends a request to the coordinator of `key` until it answers 0: "not now"
   * answers are retried after a pause (5 ms doubling to 500 ms), a moved
   * coordinator or a lost connection after a new FindCoordinator, for up to
   * `retryForMs` and at least MIN_ATTEMPTS tries. Any other answer throws
   * (fencing: ProducerFencedError).
   */
  private async coordinated(
    what: string,
    type: number,
    key: string,
    send: (conn: Connection) => Promise<number>,
  ): Promise<void> {
    const deadline = Date.now() + (this.txOpts.retryForMs ?? 30_000);
    let pause = 5;
    for (let attempt = 1; ; attempt++) {
      let code: number;
      let cause: unknown;
      try {
        code = await send(await this.coordinator(type, key));
        if (code === 0) return;
        if (MOVED.has(code)) this.coordinators.delete(`${type}:${key}`);
        else if (!LATER.has(code)) throw refusal(what, code);
      } catch (err) {
        if (!(err instanceof UnavailableError)) throw err;
        this.coordinators.delete(`${type}:${key}`);
        code = -1;
        cause = err;
      }
      // Also a few attempts: after a pause of the process the deadline has passed before any retry,
      // and the answer to one (say, fenced) is what the caller must hear.
      if (Date.now() >= deadline && attempt >= MIN_ATTEMPTS)
        throw new UnavailableError('kafka', `${what} still failing (last error code ${code})`, cause);
      await sleep(pause);
      pause = Math.min(pause * 2, 500);
    }
  }

  /** The coordinator's connection (FindCoordinator, cached until it moves). */
  private coordinator(type: number, key: string): Promise<Connection> {
    const k = `${type}:${key}`;
    let c = this.coordinators.get(k);
    if (!c) {
      c = this.findCoordinator(type, key);
      this.coordinators.set(k, c);
      c.catch(() => {
        if (this.coordinators.get(k) === c) this.coordinators.delete(k);
      });
    }
    return c.then((conn) => {
      if (conn.alive) return conn;
      if (this.coordinators.get(k) === c) this.coordinators.delete(k);
      return this.coordinator(type, key);
    });
  }

  private async findCoordinator(type: number, key: string): Promise<Connection> {
    const conn = await this.cluster.anyConnection();
    const v = conn.version(APIS.findCoordinator);
    const { code, message, node, host, port } = decodeFindCoordinatorResponse(
      await conn.request(APIS.findCoordinator.key, v, encodeFindCoordinatorRequest(v, key, type)),
      v,
    );
    if (code !== 0) {
      if (MOVED.has(code) || LATER.has(code))
        throw new UnavailableError('kafka', `no coordinator for ${key} yet (error code ${code})`);
      throw refusal(`FindCoordinator for ${key}`, code, message);
    }
    return this.cluster.connection(node, { host, port });
  }
}

interface BatchesOf {
  topic: string;
  partition: number;
  list: TransactionalBatch[];
}

function byteSize(v: Buffer | string | null): number {
  return v === null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

/** A string key's UTF-8 bytes are written here to find its partition (no buffer per record). */
const KEY_SCRATCH = Buffer.allocUnsafe(1024);

/** Kafka's default partitioner (murmur2 of the key bytes). */
function keyPartition(key: Buffer | string, partitions: number): number {
  if (typeof key !== 'string') return partitionForKey(key, partitions);
  // 3 bytes per UTF-16 unit at most: a longer key gets its own buffer.
  if (key.length * 3 > KEY_SCRATCH.length) return partitionForKey(Buffer.from(key), partitions);
  const n = KEY_SCRATCH.write(key, 0, 'utf8');
  return partitionForKey(KEY_SCRATCH.subarray(0, n), partitions);
}

/**
 * One transaction, built in memory: records are placed into batches per
 * topic-partition as they are added (Kafka's default partitioner: murmur2 of
 * the key, round robin for null keys, unless a partition is given), then
 * `commit` sends everything and commits, or `abort` drops it.
 */
export class Transaction {
  private readonly batches = new Map<string, BatchesOf>();
  private readonly slots = new Map<string, Array<BatchesOf | undefined>>();
  private roundRobin = 0;
  private done = false;
  private aborted = false;
  /** Something reached the broker: ending needs an EndTxn. */
  private sent = false;
  records = 0;

  constructor(
    private readonly producer: TransactionalProducer,
    private readonly maxBatchBytes: number,
  ) {}

  /** Adds a record; returns the partition it goes to. */
  add(
    topic: string,
    key: Buffer | string | null,
    value: Buffer | string | null,
    headers?: RecordHeaders,
    partition?: number,
  ): number {
    if (this.done) throw new AmiError('the transaction has ended', { retriable: false });
    // Per topic, its partitions' batches by index: no string key per record.
    let slots = this.slots.get(topic);
    if (!slots) this.slots.set(topic, (slots = new Array(this.producer.partitionCount(topic))));
    const p =
      partition ?? (key === null ? this.roundRobin++ % slots.length : keyPartition(key, slots.length));
    let entry = slots[p];
    if (!entry) {
      entry = { topic, partition: p, list: [] };
      slots[p] = entry;
      this.batches.set(`${topic}\u0000${p}`, entry);
    }
    // A batch stays under maxBatchBytes (the broker refuses a batch over its max message size), unless one record alone is bigger.
    const size = byteSize(key) + byteSize(value) + 64;
    let batch = entry.list.at(-1);
    if (!batch || (batch.count > 0 && batch.bytes + size > this.maxBatchBytes))
      entry.list.push((batch = new TransactionalBatch(Math.max(64 * 1024, size + 1024))));
    batch.addRecord(key, value, headers);
    this.records++;
    return p;
  }

  /** Sends the records, commits `offsets` (if any), and commits the transaction. */
  async commit(offsets?: TxnOffsets): Promise<void> {
    this.end();
    await this.ending(async () => {
      const hasOffsets = offsets !== undefined && offsets.topics.some((t) => t.partitions.length > 0);
      if (!this.sent && this.batches.size === 0 && !hasOffsets) return;
      this.sent = true;
      // Partitions first (the broker rejects records of a partition not in the transaction); the
      // offsets' group meanwhile, then its offsets beside the records.
      const records = this.batches.size > 0 ? this.sendRecords() : undefined;
      const committed = hasOffsets
        ? this.producer.addOffsets(offsets.groupId).then(() => this.producer.commitOffsets(offsets))
        : undefined;
      await settleAll([records, committed]);
      await this.producer.endTxn(true);
    });
  }

  /** Drops the transaction: nothing of it becomes visible to read_committed readers. */
  async abort(): Promise<void> {
    if (this.aborted) return;
    this.aborted = true;
    this.done = true;
    await this.ending(async () => {
      // Nothing sent: the broker knows of no transaction, there is nothing to abort.
      if (this.sent) {
        this.producer.check();
        await this.producer.endTxn(false);
      }
    });
  }

  /** Sends the records so far without ending the transaction (tests: abort after the broker has them). */
  async flush(): Promise<void> {
    if (this.done) throw new AmiError('the transaction has ended', { retriable: false });
    this.producer.check();
    this.sent = true;
    try {
      if (this.batches.size > 0) await this.sendRecords();
    } catch (err) {
      this.producer.ended(this, err as Error);
      throw err;
    }
    this.batches.clear();
    this.slots.clear();
  }

  /** Runs the end of the transaction, then tells the producer it ended (with the failure, rethrown, if any). */
  private async ending(run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      this.producer.ended(this, err as Error);
      throw err;
    }
    this.producer.ended(this);
  }

  private end(): void {
    if (this.done) throw new AmiError('the transaction has ended', { retriable: false });
    this.producer.check();
    this.done = true;
  }

  /** AddPartitionsToTxn for every partition with records, then every batch. */
  private async sendRecords(): Promise<void> {
    const parts = new Map<string, number[]>();
    for (const { topic, partition } of this.batches.values()) {
      const list = parts.get(topic);
      if (list) list.push(partition);
      else parts.set(topic, [partition]);
    }
    await this.producer.addPartitions(parts);
    await this.produceAll();
  }

  private async produceAll(): Promise<void> {
    const sends: Array<Promise<void>> = [];
    for (const { topic, partition, list } of this.batches.values())
      for (const b of list) sends.push(this.producer.send(topic, partition, b));
    await settleAll(sends);
  }
}

/** Waits for every promise (none left running behind a failure), then throws the first failure. */
async function settleAll(ps: Array<Promise<unknown> | undefined>): Promise<void> {
  const results = await Promise.allSettled(ps);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

/** The highest-priority error code of a response's partitions (0 if none). */
function worstCode(codes: readonly number[]): number {
  let worst = 0;
  for (const code of codes) {
    // OPERATION_NOT_ATTEMPTED only follows another partition's error; a fatal code wins over "retry" codes.
    if (code === 0 || code === OPERATION_NOT_ATTEMPTED) continue;
    if (worst === 0 || (isTransient(worst) && !isTransient(code))) worst = code;
  }
  return worst;
}

function isTransient(code: number): boolean {
  return LATER.has(code) || MOVED.has(code);
}
