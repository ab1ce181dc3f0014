import {
  Kafka,
  logLevel,
  Partitioners,
  type Message,
  type PartitionMetadata,
  type TopicMessages,
  type Consumer,
  type KafkaConfig,
  type LogEntry,
  type Admin,
  type ITopicConfig,
} from 'kafkajs';
import type { CommonConfig } from './config.js';
import type { Logger } from './logger.js';
import { compactedTopics, topicNames, type TopicRole } from './topics.js';

const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

// We pass the default partitioner explicitly where it matters; the banner is noise.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

/** A kafkajs client whose logs go through pino, with SASL/TLS from the config. */
export function createKafka(cfg: CommonConfig, logger: Logger, clientId = cfg.KAFKA_CLIENT_ID): Kafka {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  const config: KafkaConfig = {
    clientId,
    brokers: cfg.KAFKA_BROKERS.split(',').map((b) => b.trim()),
    ssl: cfg.KAFKA_SSL === 'true',
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...extra } = log;
        kafkaLogger[levels[level] ?? 'info'](extra, message);
      },
    retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 10_000 },
  };
  if (cfg.KAFKA_SASL_MECHANISM !== 'none') {
    config.sasl = {
      mechanism: cfg.KAFKA_SASL_MECHANISM,
      username: cfg.KAFKA_SASL_USERNAME!,
      password: cfg.KAFKA_SASL_PASSWORD!,
    } as KafkaConfig['sasl'];
  }
  return new Kafka(config);
}

/**
 * A consumer that crashed for good (kafkajs gave up retrying) must not
 * linger silently: log once and exit so the supervisor restarts the service.
 */
export function exitOnCrash(
  consumer: Consumer,
  logger: Logger,
  exit: (code: number) => void = process.exit,
): void {
  consumer.on(consumer.events.CRASH, (e) => {
    if (e.payload.restart) {
      logger.warn({ err: e.payload.error }, 'consumer crashed, kafkajs restarts it');
      return;
    }
    logger.fatal({ err: e.payload.error }, 'consumer crashed and will not restart; exiting');
    exit(1);
  });
}

export interface TopicLayout {
  partitions: number;
  replicationFactor?: number;
}

/** Creates the contract topics that do not exist yet (compacted where the contract says). */
export async function ensureTopics(
  admin: Admin,
  prefix: string,
  layout: TopicLayout = { partitions: 6 },
  roles?: TopicRole[],
): Promise<void> {
  const names = topicNames(prefix);
  const existing = new Set(await admin.listTopics());
  const wanted = (roles ?? (Object.keys(names) as TopicRole[])).filter((r) => !existing.has(names[r]));
  if (wanted.length === 0) return;
  const topics: ITopicConfig[] = wanted.map((role) => ({
    topic: names[role],
    numPartitions: layout.partitions,
    replicationFactor: layout.replicationFactor ?? 1,
    configEntries: compactedTopics.has(role) ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
  }));
  await admin.createTopics({ topics, waitForLeaders: true });
}

/**
 * Messages per partition in one produce request. kafkajs groups a request's
 * messages per partition by copying arrays (quadratic in messages per
 * partition), so large sends are split by partition into chunks of this size.
 */
export const PRODUCE_CHUNK = 1000;

export interface ChunkLimits {
  /** Messages per topic-partition chunk (default PRODUCE_CHUNK). */
  maxMessages?: number;
  /** Approximate key + value bytes per chunk (default 1 MiB, well under the broker's max message size). */
  maxBytes?: number;
}

/**
 * Splits messages (each with its topic) into single-topic-partition chunks,
 * order kept per topic-partition, with the partition set explicitly.
 * Placement is kafkajs' default partitioner (murmur2 of the key, as any
 * client; round robin for null keys); a message with a partition keeps it.
 * `partitions(topic)` gives the topic's partition count.
 */
export function chunkByPartition(
  messages: Array<Message & { topic: string }>,
  partitions: (topic: string) => number,
  limits: ChunkLimits = {},
): SizedChunk[] {
  const maxMessages = limits.maxMessages ?? PRODUCE_CHUNK;
  const maxBytes = limits.maxBytes ?? 1024 * 1024;
  const partitioner = Partitioners.DefaultPartitioner();
  const meta = new Map<string, PartitionMetadata[]>();
  const open = new Map<string, SizedChunk>();
  const chunks: SizedChunk[] = [];
  for (const { topic, ...m } of messages) {
    let pm = meta.get(topic);
    if (!pm)
      meta.set(
        topic,
        (pm = Array.from({ length: partitions(topic) }, (_, i) => ({
          partitionErrorCode: 0,
          partitionId: i,
          leader: 0,
          replicas: [0],
          isr: [0],
        }))),
      );
    const partition = m.partition ?? partitioner({ topic, partitionMetadata: pm, message: m });
    const size = byteLength(m.key) + byteLength(m.value) + 64;
    const k = `${topic}\u0000${partition}`;
    let cur = open.get(k);
    if (
      !cur ||
      cur.messages.length >= maxMessages ||
      (cur.bytes + size > maxBytes && cur.messages.length > 0)
    ) {
      cur = { topic, partition, messages: [], bytes: 0 };
      open.set(k, cur);
      chunks.push(cur);
    }
    cur.messages.push({ ...m, partition });
    cur.bytes += size;
  }
  return chunks;
}

/** A chunk of one topic-partition with its approximate size. */
export interface SizedChunk extends TopicMessages {
  partition: number;
  bytes: number;
}

/**
 * Groups chunks (from `chunkByPartition`) into produce requests of at most
 * `maxBytes` (default 4 MiB), at most one chunk per topic-partition each, so
 * a request never carries more than PRODUCE_CHUNK messages of a partition.
 * Send the requests one after another (awaited) to keep each partition's order.
 */
export function produceRequests(chunks: SizedChunk[], maxBytes = 4 * 1024 * 1024): TopicMessages[][] {
  const requests: TopicMessages[][] = [];
  let cur: TopicMessages[] = [];
  let bytes = 0;
  let seen = new Set<string>();
  for (const c of chunks) {
    const k = `${c.topic}\u0000${c.partition}`;
    if (cur.length > 0 && (seen.has(k) || bytes + c.bytes > maxBytes)) {
      requests.push(cur);
      cur = [];
      bytes = 0;
      seen = new Set();
    }
    cur.push({ topic: c.topic, messages: c.messages });
    bytes += c.bytes;
    seen.add(k);
  }
  if (cur.length > 0) requests.push(cur);
  return requests;
}

export function byteLength(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}
