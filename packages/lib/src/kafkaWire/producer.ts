import { setTimeout as sleep } from 'node:timers/promises';
import { AmiError, UnavailableError } from '../errors.js';
import { APIS } from './apis.js';
import { ATTEMPTS, RecordBatchBuilder } from './protocol.js';
import { BrokerConnections, MetadataAge, type BrokerConnectionsOptions } from './brokers.js';
import {
  DUPLICATE_SEQUENCE_NUMBER,
  isRetriableKafkaCode,
  KafkaProtocolError,
  LEADER_NOT_AVAILABLE,
} from './kafkaErrors.js';
import { initProducerId } from './messages/initProducerId.js';
import { decodeProduceResponse, encodeProduceRequest } from './messages/produce.js';

/**
 * A small idempotent Kafka producer speaking the wire protocol directly, for
 * the simulator's bulk traffic (kafkajs encodes ~30-40k records/s here: one
 * object, encoder and buffer per record; this writes records straight into
 * one buffer per partition batch).
 *
 * What it does: Metadata (leaders), InitProducerId (idempotence), Produce
 * with magic-2 record batches (no compression, CRC32C), acks=-1, each at the
 * highest version both sides accept (apis.ts).
 * Each topic-partition has a FIFO of sealed batches, one request in flight
 * per partition (so its order holds even across retries), all partitions
 * concurrently over one pipelined connection per broker. A batch that fails
 * with a retriable error (leader moved, timeout, connection lost) is sent
 * again with the same sequence number, so the broker drops a duplicate.
 * Plain TCP or TLS, with SASL (SCRAM, or PLAIN over TLS) when configured:
 * every connection authenticates first (session.ts). A refusal that retrying
 * cannot cure (authorization, unsupported version) fails at once with the
 * Kafka error's name (KafkaProtocolError).
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

export interface WireProducerOptions extends BrokerConnectionsOptions {
  /** Produce timeout given to the broker. */
  timeoutMs?: number;
}

export class WireProducer {
  /** Broker addresses and connections (shared with WireFetcher); transaction.ts finds coordinators through it. */
  protected readonly cluster: BrokerConnections;
  protected leaders = new Map<string, number[]>();
  private readonly metadataAge: MetadataAge;
  private readonly queues = new Map<string, PartitionQueue>();
  protected producerId = -1n;
  protected epoch = -1;
  protected failed: Error | null = null;
  /** Sent in every Produce request; set by the transactional subclass (transaction.ts). */
  protected transactionalId: string | null = null;

  constructor(protected readonly opts: WireProducerOptions) {
    this.cluster = new BrokerConnections(opts);
    this.metadataAge = new MetadataAge(opts.metadataMaxAgeMs);
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
      if (!isRetriableKafkaCode(code)) throw new KafkaProtocolError('InitProducerId', code);
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
        let message: string | null;
        ({ code, message } = await this.produce(topic, partition, data));
        if (code === 0 || code === DUPLICATE_SEQUENCE_NUMBER) return;
        if (!isRetriableKafkaCode(code)) throw this.produceError(topic, partition, code, message);
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
  protected produceError(topic: string, partition: number, code: number, message?: string | null): Error {
    return new KafkaProtocolError(`produce to ${topic}/${partition}`, code, message);
  }

  /** One Produce request for one batch; returns the partition's error code (and message, v8+). */
  private async produce(
    topic: string,
    partition: number,
    batch: Buffer,
  ): Promise<{ code: number; message: string | null }> {
    if (this.metadataAge.stale())
      this.metadataAge.refreshInBackground(() => this.refreshMetadata([...this.leaders.keys()]));
    const leader = this.leaders.get(topic)?.[partition];
    if (leader === undefined || leader < 0) return { code: LEADER_NOT_AVAILABLE, message: null };
    const conn = await this.cluster.connection(leader);
    const v = conn.version(APIS.produce);
    const body = encodeProduceRequest(v, {
      transactionalId: this.transactionalId,
      acks: -1,
      timeoutMs: this.opts.timeoutMs ?? 30_000,
      topic,
      partition,
      batch,
    });
    return decodeProduceResponse(await conn.request(APIS.produce.key, v, body), v);
  }

  /**
   * Leaders of `topics` (replacing all known ones) and the broker addresses.
   * A topic refused for good (TOPIC_AUTHORIZATION_FAILED) throws that error;
   * one not ready yet UnavailableError.
   */
  protected async refreshMetadata(topics: string[]): Promise<void> {
    const { brokers, leaders, topicErrors } = await this.cluster.metadata(topics);
    for (const t of topics) {
      if (leaders.has(t)) continue;
      const code = topicErrors.get(t);
      if (code !== undefined && !isRetriableKafkaCode(code))
        throw new KafkaProtocolError(`Metadata for topic ${t}`, code);
      throw new UnavailableError('kafka', `no metadata for topic ${t} (error code ${code ?? 'none'})`);
    }
    this.cluster.setBrokers(brokers);
    this.leaders = leaders;
    this.metadataAge.loaded();
  }
}
