import type { IHeaders, Kafka, Message, Producer } from 'kafkajs';
import {
  chunkByPartition,
  produceRequests,
  TransactionalProducer,
  wireClientOptions,
  type GroupMember,
  type Logger,
  type RecordHeaders,
  type Transaction,
} from '@ami/lib';
import type { DetectorConfig } from './config.js';

/**
 * One output record of a step (outputs, dead letters, state topic). `transient`: the value is a
 * view of a reused buffer, valid only during `add` (copied there when kept).
 */
export type Out = Message & { topic: string; partition?: number; transient?: boolean };

/** Input offsets of a step, per topic (the next offset to read). */
export type StepOffsets = Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>;

/**
 * Writes one step (records and the input offsets) in ONE Kafka transaction.
 * Either it all becomes visible to read_committed readers or none of it; a
 * rejection leaves the producer unusable (the detector exits and rebuilds).
 */
export interface StepWriter {
  readonly kind: 'wire' | 'kafkajs';
  /** Starts a step's transaction; records may be added as they are made. */
  begin(): StepTransaction;
  close(): Promise<void>;
}

export interface StepTransaction {
  add(m: Out): void;
  /** Sends the records, commits the offsets under `groupId` and the transaction. */
  commit(offsets: StepOffsets): Promise<void>;
  /** Best effort: the caller is about to exit anyway. */
  abort(): Promise<void>;
}

/**
 * The transactional producer of the detector: our wire-protocol one (with
 * SASL/TLS as configured) unless DETECTOR_PRODUCER=kafkajs.
 * Transactional id `<DETECTOR_GROUP_ID>-<DETECTOR_INSTANCE_ID>`: stable across
 * restarts, so the broker fences a zombie.
 */
export async function openStepWriter(
  cfg: DetectorConfig,
  kafka: Kafka,
  outputTopics: string[],
  partitionCount: (topic: string) => number,
  _logger: Logger,
  /**
   * The input group's member as of its last join (wire producer: TxnOffsetCommit v3 carries it,
   * so the group coordinator refuses a zombie's offsets, KIP-447).
   */
  member: () => GroupMember | undefined = () => undefined,
): Promise<StepWriter> {
  const transactionalId = `${cfg.DETECTOR_GROUP_ID}-${cfg.DETECTOR_INSTANCE_ID}`;
  if (cfg.DETECTOR_PRODUCER === 'wire') {
    const producer = new TransactionalProducer({
      ...wireClientOptions(cfg, `${cfg.KAFKA_CLIENT_ID}-detector-${cfg.DETECTOR_INSTANCE_ID}`),
      transactionalId,
      transactionTimeoutMs: 30_000,
    });
    try {
      await producer.connect(outputTopics);
    } catch (err) {
      await producer.close();
      throw err;
    }
    return new WireStepWriter(producer, cfg.DETECTOR_GROUP_ID, member);
  }
  const producer = kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: 30_000,
    // A transaction right after the previous commit often gets CONCURRENT_TRANSACTIONS (the broker
    // still writes the markers): retried at 25 ms, not the client's 300 ms, which cost ~300 ms per
    // step. 12 retries up to 10 s apart keep the client's ~40 s of patience for a broker restart.
    retry: { retries: 12, initialRetryTime: 25, maxRetryTime: 10_000 },
  });
  await producer.connect();
  return new KafkajsStepWriter(producer, cfg.DETECTOR_GROUP_ID, partitionCount);
}

/** Records go straight into per-partition batches as they are added (no kafkajs encoder). */
class WireStepWriter implements StepWriter {
  readonly kind = 'wire';
  constructor(
    private readonly producer: TransactionalProducer,
    private readonly groupId: string,
    private readonly member: () => GroupMember | undefined,
  ) {}

  begin(): StepTransaction {
    const tx: Transaction = this.producer.begin();
    const groupId = this.groupId;
    return {
      add: (m) => void tx.add(m.topic, m.key ?? null, m.value ?? null, wireHeaders(m.headers), m.partition),
      commit: (offsets) => tx.commit({ groupId, member: this.member(), topics: offsets }),
      abort: () => tx.abort(),
    };
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}

function wireHeaders(h: IHeaders | undefined): RecordHeaders | undefined {
  if (h === undefined) return undefined;
  const out: RecordHeaders = {};
  for (const [k, v] of Object.entries(h)) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

class KafkajsStepWriter implements StepWriter {
  readonly kind = 'kafkajs';
  constructor(
    private readonly producer: Producer,
    private readonly groupId: string,
    private readonly partitionCount: (topic: string) => number,
  ) {}

  begin(): StepTransaction {
    const messages: Out[] = [];
    let tx: Awaited<ReturnType<Producer['transaction']>> | undefined;
    return {
      add: (m) => void messages.push(m.transient ? { ...m, value: Buffer.from(m.value as Buffer) } : m),
      commit: async (offsets) => {
        tx = await this.producer.transaction();
        // By partition, <= PRODUCE_CHUNK messages of a partition and <= 4 MiB per request (kafkajs groups
        // per partition in O(n^2); the broker caps message sizes), one request after another.
        const chunks = chunkByPartition(messages, this.partitionCount);
        for (const topicMessages of produceRequests(chunks)) await tx.sendBatch({ topicMessages });
        if (offsets.length > 0)
          await retryConcurrent(() => tx!.sendOffsets({ consumerGroupId: this.groupId, topics: offsets }));
        await tx.commit();
      },
      abort: async () => {
        await tx?.abort();
      },
    };
  }

  close(): Promise<void> {
    return this.producer.disconnect();
  }
}

/**
 * kafkajs does not retry AddOffsetsToTxn. A transaction with offsets but no
 * record (a slice of a backlog that changed no state) sends it first, and
 * right after the previous commit the broker may answer CONCURRENT_TRANSACTIONS
 * (it is still writing the markers; the request changed nothing): retried here
 * as the Java client does, 25 ms doubling to 1 s, ~7 s in all.
 */
async function retryConcurrent<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if ((err as { type?: string }).type !== 'CONCURRENT_TRANSACTIONS' || attempt >= 12) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.min(25 * 2 ** attempt, 1000)));
    }
  }
}
