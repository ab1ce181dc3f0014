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
import { setTimeout as sleep } from 'node:timers/promises';
import type { CommonConfig } from './config.js';
import type { BrokerConnectionsOptions } from './kafkaWire/brokers.js';
import { AmiError, StartupTimeoutError, UnavailableError } from './errors.js';
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
    ssl: cfg.KAFKA_SSL,
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

/** The settings the wire client (kafkaWire) needs from the common config. */
export type WireKafkaConfig = Pick<
  CommonConfig,
  'KAFKA_BROKERS' | 'KAFKA_SSL' | 'KAFKA_SASL_MECHANISM' | 'KAFKA_SASL_USERNAME' | 'KAFKA_SASL_PASSWORD'
>;

/**
 * How the wire client (WireProducer, TransactionalProducer, WireFetcher)
 * reaches the brokers, from the same settings as kafkajs: TLS verified against
 * Node's CAs (NODE_EXTRA_CA_CERTS adds a private CA), SASL SCRAM or PLAIN.
 */
export function wireClientOptions(cfg: WireKafkaConfig, clientId: string): BrokerConnectionsOptions {
  return {
    brokers: cfg.KAFKA_BROKERS.split(',').map((b) => b.trim()),
    ssl: cfg.KAFKA_SSL,
    clientId,
    sasl:
      cfg.KAFKA_SASL_MECHANISM === 'none'
        ? undefined
        : {
            mechanism: cfg.KAFKA_SASL_MECHANISM,
            username: cfg.KAFKA_SASL_USERNAME ?? '',
            password: cfg.KAFKA_SASL_PASSWORD ?? '',
          },
  };
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

/** How long start-up waits for Kafka (a topic's leaders, a coordinator) before it gives up. */
export const STARTUP_DEADLINE_MS = 60_000;

/**
 * Kafka error types (kafkajs' names of the protocol's codes) a retry can cure
 * while topics are being created or leaders elected: "This server does not host
 * this topic-partition", "not the leader", no coordinator yet, a timeout.
 */
const TRANSIENT_KAFKA_ERRORS: ReadonlySet<string> = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'REPLICA_NOT_AVAILABLE',
  'NOT_COORDINATOR',
  'NOT_COORDINATOR_FOR_GROUP',
  'COORDINATOR_NOT_AVAILABLE',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'GROUP_LOAD_IN_PROGRESS',
  'NOT_CONTROLLER',
  'REQUEST_TIMED_OUT',
  'NETWORK_EXCEPTION',
  'KAFKA_STORAGE_ERROR',
  'OFFSET_NOT_AVAILABLE',
  'REBALANCE_IN_PROGRESS',
  'CONCURRENT_TRANSACTIONS',
]);

/** kafkajs errors without a protocol code that a retry can cure (connection, metadata not there yet). */
const TRANSIENT_KAFKAJS_NAMES: ReadonlySet<string> = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
]);

/**
 * Whether a Kafka failure is transient, by error type (never by text): the
 * error itself, its `originalError`/`cause` (kafkajs wraps the last one when it
 * runs out of retries) or every error of an aggregate.
 */
export function isTransientKafkaError(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 5) return false;
  if (err instanceof AmiError) return err.retriable;
  const e = err as {
    type?: unknown;
    name?: unknown;
    retriable?: unknown;
    originalError?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof e.type === 'string' && TRANSIENT_KAFKA_ERRORS.has(e.type)) return true;
  if (typeof e.name === 'string' && TRANSIENT_KAFKAJS_NAMES.has(e.name)) return true;
  if (Array.isArray(e.errors) && e.errors.length > 0)
    return e.errors.every((x) => isTransientKafkaError(x, depth + 1));
  if (e.originalError !== undefined) return isTransientKafkaError(e.originalError, depth + 1);
  if (e.cause !== undefined) return isTransientKafkaError(e.cause, depth + 1);
  return e.retriable === true;
}

export interface StartupRetryOptions {
  logger?: Logger;
  /** Give up after this long (default STARTUP_DEADLINE_MS). */
  deadlineMs?: number;
}

/**
 * Runs a start-up step, retrying transient Kafka errors (`isTransientKafkaError`)
 * for up to `deadlineMs`; then throws StartupTimeoutError (code `kafka-not-ready`)
 * naming the step and the last error. Other errors are thrown at once. Logs one
 * warning when it starts waiting, not one per attempt.
 */
export async function retryKafkaStartup<T>(
  what: string,
  fn: () => Promise<T>,
  opts: StartupRetryOptions = {},
): Promise<T> {
  const deadlineMs = opts.deadlineMs ?? STARTUP_DEADLINE_MS;
  const deadline = Date.now() + deadlineMs;
  let delay = 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientKafkaError(err)) throw err;
      if (Date.now() + delay > deadline)
        throw new StartupTimeoutError(
          'kafka',
          `${what}: still failing after ${deadlineMs} ms (${attempt} attempts): ${(err as Error).message}`,
          err,
        );
      if (attempt === 1) opts.logger?.warn({ err, what }, `${what}: Kafka not ready yet; retrying`);
      await sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
  }
}

/**
 * Waits until every partition of `topics` has a leader in the metadata and
 * answers a ListOffsets (its log is hosted): a topic created a moment ago, by
 * this process or another one, answers "This server does not host this
 * topic-partition" or "not the leader" for a while. Throws StartupTimeoutError
 * after the deadline.
 */
export async function waitForTopicLeaders(
  admin: Admin,
  topics: readonly string[],
  opts: StartupRetryOptions = {},
): Promise<void> {
  if (topics.length === 0) return;
  await retryKafkaStartup(
    `leaders of ${topics.join(', ')}`,
    async () => {
      const meta = await admin.fetchTopicMetadata({ topics: [...topics] });
      for (const t of meta.topics)
        if (t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0 || p.partitionErrorCode !== 0))
          throw new UnavailableError(
            'kafka',
            `topic ${t.name} has partitions without a leader`,
            undefined,
            'kafka-leader-not-available',
          );
      for (const t of topics) await admin.fetchTopicOffsets(t);
    },
    opts,
  );
}

/**
 * Creates the contract topics that do not exist yet (compacted where the
 * contract says), then waits until every one of them, created here or by
 * another service a moment ago, has a leader for every partition.
 */
export async function ensureTopics(
  admin: Admin,
  prefix: string,
  layout: TopicLayout = { partitions: 6 },
  roles?: TopicRole[],
  opts: StartupRetryOptions = {},
): Promise<void> {
  const names = topicNames(prefix);
  const all = (roles ?? (Object.keys(names) as TopicRole[])).map((role) => ({ role, topic: names[role] }));
  const existing = new Set(await retryKafkaStartup('list topics', () => admin.listTopics(), opts));
  const wanted = all.filter((t) => !existing.has(t.topic));
  if (wanted.length > 0) {
    const topics: ITopicConfig[] = wanted.map(({ role, topic }) => ({
      topic,
      numPartitions: layout.partitions,
      replicationFactor: layout.replicationFactor ?? 1,
      configEntries: compactedTopics.has(role) ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
    }));
    // Another service may create some of them at the same moment: kafkajs then answers false.
    await retryKafkaStartup(
      'create topics',
      () => admin.createTopics({ topics, waitForLeaders: true }),
      opts,
    );
  }
  await waitForTopicLeaders(
    admin,
    all.map((t) => t.topic),
    opts,
  );
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
