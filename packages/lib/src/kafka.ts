import {
  Kafka,
  logLevel,
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
