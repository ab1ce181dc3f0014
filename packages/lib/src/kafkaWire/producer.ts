import { setTimeout as sleep } from 'node:timers/promises';
import { AmiError, UnavailableError } from '../errors.js';
import {
  API_PRODUCE,
  ATTEMPTS,
  DUPLICATE_SEQUENCE_NUMBER,
  initProducerId,
  partitionErrorCodes,
  Reader,
  RecordBatchBuilder,
  RETRIABLE,
  Writer,
} from './protocol.js';
import { BrokerConnections } from './brokers.js';

/**
 * A small idempotent Kafka producer speaking the wire protocol directly, for
 * the simulator's bulk traffic (kafkajs encodes ~30-40k records/s here: one
 * object, encoder and buffer per record; this writes records straight into
 * one buffer per partition batch).
 *
 * What it does: Metadata v1 (leaders), InitProducerId v0 (idempotence),
 * Produce v3 with magic-2 record batches (no compression, CRC32C), acks=-1.
 * Each topic-partition has a FIFO of sealed batches, one request in flight
 * per partition (so its order holds even across retries), all partitions
 * concurrently over one pipelined connection per broker. A batch that fails
 * with a retriable error (leader moved, timeout, connection lost) is sent
 * again with the same sequence number, so the broker drops a duplicate.
 * Plain TCP or TLS; SASL is not spoken here (the caller uses kafkajs then).
 */
// ---------------------------------------------------------------- producer

interface Queued {
  resolve: () => void;
  reject: (e: Error) => void;
}

interface PartitionQueue {
  topic: string;
  partition: number;
  /** Next base sequence (assigned when a batch is sealed). */
  sequence: number;
  items: Array<{ data: Buffer; q: Queued }>;
  running: boolean;
}

export interface WireProducerOptions {
  brokers: string[];
  ssl: boolean;
  clientId: string;
  /** Produce timeout given to the broker. */
  timeoutMs?: number;
}

export class WireProducer {
  /** Broker addresses and connections (shared with WireFetcher); transaction.ts finds coordinators through it. */
  protected readonly cluster: BrokerConnections;
  protected leaders = new Map<string, number[]>();
  private readonly queues = new Map<string, PartitionQueue>();
  protected producerId = -1n;
  protected epoch = -1;
  protected failed: Error | null = null;
  /** Sent in every Produce request; set by the transactional subclass (transaction.ts). */
  protected transactionalId: string | null = null;

  constructor(protected readonly opts: WireProducerOptions) {
    this.cluster = new BrokerConnections(opts);
  }

  /** Loads leaders of `topics` and gets a producer id. */
  async connect(topics: string[]): Promise<void> {
    await this.refreshMetadata(topics);
    for (let attempt = 1; ; attempt++) {
      const { code, producerId, epoch } = await initProducerId(
        await this.cluster.anyConnection(),
        null,
        60_000,
      );
      if (code === 0) {
        this.producerId = producerId;
        this.epoch = epoch;
        return;
      }
      if (!RETRIABLE.has(code))
        throw new AmiError(`kafka: InitProducerId refused with error code ${code}`, { retriable: false });
      if (attempt >= ATTEMPTS)
        throw new UnavailableError('kafka', `InitProducerId failed with error code ${code}`);
      await sleep(200 * attempt);
    }
  }

  partitionCount(topic: string): number {
    const l = this.leaders.get(topic);
    if (!l) throw new AmiError(`no metadata for topic ${topic}`, { retriable: false });
    return l.length;
  }

  /**
   * Queues a built batch for topic-partition; resolves when the broker
   * acknowledged it (acks=-1). Batches of a partition go out in call order.
   */
  send(topic: string, partition: number, batch: RecordBatchBuilder): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const key = `${topic}\u0000${partition}`;
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = { topic, partition, sequence: 0, items: [], running: false }));
    const records = batch.count;
    return new Promise<void>((resolve, reject) => {
      const item: Queued = { resolve, reject };
      const data = batch.seal(this.producerId, this.epoch, q.sequence, Date.now());
      q.sequence = (q.sequence + records) | 0;
      if (q.sequence < 0) q.sequence += 0x80000000; // wraps at 2^31 like the Java client
      q.items.push({ data, q: item });
      if (!q.running) void this.pump(q);
    });
  }

  async close(): Promise<void> {
    await this.cluster.close();
  }

  private async pump(q: PartitionQueue): Promise<void> {
    q.running = true;
    try {
      while (q.items.length > 0) {
        const head = q.items[0]!;
        try {
          await this.produceWithRetry(q.topic, q.partition, head.data);
          q.items.shift();
          head.q.resolve();
        } catch (err) {
          // The partition's sequence is broken: fail this and every later batch, and the producer.
          this.failed ??= err as Error;
          for (const it of q.items) it.q.reject(err as Error);
          q.items = [];
        }
      }
    } finally {
      q.running = false;
    }
  }

  private async produceWithRetry(topic: string, partition: number, data: Buffer): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let code: number;
      let cause: unknown;
      try {
        code = await this.produce(topic, partition, data);
        if (code === 0 || code === DUPLICATE_SEQUENCE_NUMBER) return;
        if (!RETRIABLE.has(code)) throw this.produceError(topic, partition, code);
      } catch (err) {
        if (!(err instanceof UnavailableError)) throw err;
        code = -1;
        cause = err;
      }
      if (attempt >= ATTEMPTS)
        throw new UnavailableError(
          'kafka',
          `produce to ${topic}/${partition} failed ${attempt} times (last error code ${code})`,
          cause,
        );
      await sleep(Math.min(200 * 2 ** (attempt - 1), 10_000));
      try {
        await this.refreshMetadata([...this.leaders.keys()]);
      } catch {
        // the next attempt fails again and counts
      }
    }
  }

  /** The error for a non-retriable Produce error code (the transactional producer names fencing). */
  protected produceError(topic: string, partition: number, code: number): Error {
    return new AmiError(`produce to ${topic}/${partition} failed with Kafka error code ${code}`, {
      retriable: false,
    });
  }

  /** One Produce v3 request for one batch; returns the partition's error code. */
  private async produce(topic: string, partition: number, data: Buffer): Promise<number> {
    const leader = this.leaders.get(topic)?.[partition];
    if (leader === undefined || leader < 0) return 5; // LEADER_NOT_AVAILABLE
    const conn = await this.cluster.connection(leader);
    const body = new Writer()
      .string(this.transactionalId)
      .int16(-1) // acks
      .int32(this.opts.timeoutMs ?? 30_000)
      .int32(1)
      .string(topic)
      .int32(1)
      .int32(partition)
      .int32(data.length)
      .raw(data)
      .done();
    const r = new Reader(await conn.request(API_PRODUCE, 3, body));
    let code = 0;
    for (const c of partitionErrorCodes(r, 8 + 8 /* base offset, log append time */)) if (c !== 0) code = c;
    return code;
  }

  /** Leaders of `topics` (replacing all known ones) and the broker addresses. */
  protected async refreshMetadata(topics: string[]): Promise<void> {
    const { brokers, leaders } = await this.cluster.metadata(topics);
    for (const t of topics)
      if (!leaders.has(t)) throw new UnavailableError('kafka', `no metadata for topic ${t}`);
    this.cluster.setBrokers(brokers);
    this.leaders = leaders;
  }
}
