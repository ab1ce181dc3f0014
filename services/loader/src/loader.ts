import { setTimeout as sleep } from 'node:timers/promises';
import type { Consumer, EachBatchPayload, Producer } from 'kafkajs';
import type { ClickHouseClient } from '@clickhouse/client';
import {
  AvroCodec,
  createClickHouse,
  createKafka,
  createRegistry,
  chunkBySize,
  deadLetterHeaders,
  messageBytes,
  DEFAULT_LIMITS,
  ensureTopics,
  exitOnCrash,
  isRetriable,
  READ_COMMITTED,
  bulkFetcher,
  RawTopicConsumer,
  retryKafkaStartup,
  ServiceMetrics,
  topicNames,
  UnavailableError,
  watchMembership,
  whileBeating,
  type Logger,
} from '@ami/lib';
import type { LoaderConfig } from './config.js';
import { NO_FAULTS, type LoaderFaults } from './faults.js';
import { insertRowBinary } from './insert.js';
import { Sink } from './sink.js';
import { TABLES, type TableSpec } from './tables.js';
import {
  decodeBatch,
  decodeRecords,
  type DecodedBatch,
  type DecodeOptions,
  type Rejected,
} from './decode.js';

import { BillingRefresher } from './billingRefresh.js';
import { ProfileTable } from './profiles.js';
import { followProfiles } from './profilesFollow.js';

/** Sends rejected records to the DLQ with headers saying where they came from and why. */
export async function sendToDlq(
  producer: Producer,
  dlqTopic: string,
  topic: string,
  partition: number,
  rejected: readonly Rejected[],
  metrics?: ServiceMetrics,
): Promise<void> {
  if (rejected.length === 0) return;
  const messages = rejected.map((r) => ({
    key: r.message.key,
    value: r.message.value,
    headers: {
      // The headers every service writes (packages/lib/src/dlq.ts)...
      ...deadLetterHeaders(
        { sourceTopic: topic, partition, message: r.message, reason: r.reason, detail: r.error },
        'loader',
      ),
      // ...and the loader's earlier names, kept for existing readers.
      topic,
      partition: String(partition),
      offset: r.message.offset,
      reason: r.reason,
      error: r.error.slice(0, 1000),
    },
  }));
  // A flood of bad records must not become one request above the broker's max message size.
  for (const chunk of chunkBySize(messages, messageBytes))
    await producer.send({ topic: dlqTopic, messages: chunk });
  for (const r of rejected) metrics?.dlq.inc({ topic, reason: r.reason });
}

/** Retries `fn` while it fails retriably (registry or Kafka down), heartbeating meanwhile. */
async function retrying<T>(
  fn: () => Promise<T>,
  heartbeat: () => Promise<void>,
  logger: Logger,
  what: string,
): Promise<T> {
  let delay = 500;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetriable(err)) throw err;
      logger.warn({ err, retryInMs: delay }, `${what} failed; retrying`);
      await sleep(delay);
      await heartbeat().catch(() => undefined);
      delay = Math.min(delay * 2, 30_000);
    }
  }
}

export interface RunningLoader {
  sink: Sink;
  consumer: Consumer;
  /** The meters table reads and events are checked against. */
  profiles: ProfileTable;
  /**
   * Resolves with the error when the loader stopped by itself: ClickHouse refused its rows in a
   * way no retry cures (a table or column missing: run `ami db migrate`). Logged once, here.
   */
  failed: Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * The loader: consumes meters, reads, events and outages and writes them to
 * ClickHouse in batches. kafkajs never commits (autoCommit off): the sink
 * commits a batch's offsets only after ClickHouse accepted its rows. The
 * fetch position moves on meanwhile, so the next fetch overlaps the insert;
 * handlers block when more than two batches' worth of rows wait.
 */
export async function startLoader(
  cfg: LoaderConfig,
  logger: Logger,
  metrics = new ServiceMetrics('loader'),
  faults: LoaderFaults = NO_FAULTS,
): Promise<RunningLoader> {
  const names = topicNames(cfg.AMI_TOPIC_PREFIX);
  const byTopic = new Map<string, TableSpec>([
    [names.meters, TABLES.meters as TableSpec],
    [names.reads, TABLES.reads as TableSpec],
    [names.events, TABLES.events as TableSpec],
    [names.outages, TABLES.outages as TableSpec],
    [names.momentary, TABLES.momentary as TableSpec],
    [names.calls, TABLES.calls as TableSpec],
    [names.commandResults, TABLES.commandResults as TableSpec],
  ]);
  const kafka = createKafka(cfg, logger, `${cfg.KAFKA_CLIENT_ID}-loader`);
  const ch: ClickHouseClient = createClickHouse(cfg);
  const codec = new AvroCodec(createRegistry(cfg));
  const consumer = kafka.consumer({
    groupId: cfg.LOADER_GROUP_ID,
    maxBytesPerPartition: 4 << 20,
    maxBytes: 32 << 20,
    sessionTimeout: cfg.LOADER_SESSION_TIMEOUT_MS,
    heartbeatInterval: Math.min(3000, cfg.LOADER_SESSION_TIMEOUT_MS / 3),
  });
  // DLQ delivery is at least once: a duplicate DLQ record is harmless, a lost one is not.
  const producer = kafka.producer();
  const admin = kafka.admin();
  // Reads, the bulk, are fetched raw (RawTopicConsumer, packages/lib/src/kafkaWire, SASL/TLS as configured) unless turned off.
  const rawReads = cfg.LOADER_RAW_FETCH;
  const rawTopics = new Set(rawReads ? [names.reads] : []);
  const kafkajsTopics = () =>
    [...byTopic.keys()].filter((t) => !rawTopics.has(t)).map((topic) => ({ topic }));
  // Reads and events are checked against the meters table (README.md, "Input checks").
  const profiles = new ProfileTable(1 << 16);
  const checks = {
    lookup: profiles.lookup,
    garduKnown: profiles.garduKnown,
    readFits: profiles.readFits,
    limits: { ...DEFAULT_LIMITS, demandRatingFactor: cfg.LOADER_DEMAND_RATING_FACTOR },
  };
  const checked = new Set([names.reads, names.events]);

  let reportFailure: (err: unknown) => void = () => undefined;
  const failed = new Promise<unknown>((resolve) => (reportFailure = resolve));
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopAll());
  // Set as the loader starts; a stop (or a fatal insert) may come before all of them are.
  let stopMembershipWatch: () => void = () => undefined;
  const background: { prober?: NodeJS.Timeout; billing?: BillingRefresher } = {};
  let joined = false;
  // Ready once in the group and while the sink can write (no insert in retry, the last probe answered).
  metrics.setReadiness(() => joined && sink.writable);
  const sink = new Sink(
    async (spec, body, rows) => {
      const end = metrics.insertLatency.startTimer({ table: spec.table });
      await insertRowBinary(ch, cfg.CLICKHOUSE_DB, spec, body);
      end();
      metrics.rowsInserted.inc({ table: spec.table }, rows);
    },
    {
      batchRows: cfg.LOADER_BATCH_ROWS,
      flushMs: cfg.LOADER_FLUSH_MS,
      earlyRows: Math.min(10_000, cfg.LOADER_BATCH_ROWS),
      parallelInserts: cfg.LOADER_PARALLEL_INSERTS,
      retryMinMs: cfg.LOADER_RETRY_MIN_MS,
      retryMaxMs: cfg.LOADER_RETRY_MAX_MS,
      commit: (positions) => consumer.commitOffsets(positions),
      onUnavailable: () => {
        consumer.pause(kafkajsTopics());
        raw?.pause();
      },
      onRecovered: () => {
        consumer.resume(kafkajsTopics());
        raw?.resume();
      },
      onFatal: (err) => {
        logger.fatal(
          { err },
          `ClickHouse refused the loader's rows and no retry can help (${(err as Error).message}); stopping. Nothing of it was committed: fix the schema (ami db migrate) and start the loader again`,
        );
        void stop().then(() => reportFailure(err));
      },
      afterFlush: faults.LOADER_FAULT_EXIT_AFTER_INSERT ? () => process.exit(3) : undefined,
    },
    logger,
  );

  /**
   * One batch of one partition: decode (bad records to the DLQ, awaited), hand
   * the rows to the sink with the position after the batch. Resolves once the
   * caller may fetch on: at once, or after an insert when too many rows wait
   * (backpressure).
   */
  async function loadBatch(
    topic: string,
    partition: number,
    decode: (opts: DecodeOptions) => Promise<DecodedBatch>,
    nextOffset: string,
    heartbeat: () => Promise<void>,
    fetchedUpTo?: () => void,
  ): Promise<void> {
    sink.enter();
    let entered = true;
    try {
      const { body, rows, rejected } = await retrying(
        () => decode(checked.has(topic) ? { checks, catchUp: () => follower.catchUp() } : {}),
        heartbeat,
        logger,
        'decode',
      );
      await retrying(
        () => sendToDlq(producer, names.dlq, topic, partition, rejected, metrics),
        heartbeat,
        logger,
        'DLQ send',
      );
      if (rejected.length > 0)
        logger.warn(
          { topic, partition, count: rejected.length, reason: rejected[0]!.reason },
          'records sent to the DLQ',
        );
      entered = false;
      // The sink commits this position only after ClickHouse accepted the rows.
      const done = sink.add(byTopic.get(topic)!, body, rows, { topic, partition, offset: nextOffset });
      // Fetching goes on while the insert runs (the fetch position, not committed).
      fetchedUpTo?.();
      done.catch(() => undefined); // a failed flush is never committed: redelivered after restart
      // Backpressure: decode on while one insert runs, wait when more than that is queued.
      const limit = 2 * cfg.LOADER_BATCH_ROWS;
      if (sink.backlogRows > limit) await whileBeating(heartbeat, sink.room(limit));
    } finally {
      if (entered) sink.leave();
    }
  }

  async function eachBatch({ batch, resolveOffset, heartbeat }: EachBatchPayload): Promise<void> {
    // A batch fetched by kafkajs before the raw topic was paused: the raw path loads it.
    if (rawTopics.has(batch.topic)) return;
    const spec = byTopic.get(batch.topic)!;
    metrics.observeBatch(
      batch.topic,
      batch.partition,
      batch.messages.length,
      batch.lastOffset(),
      batch.highWatermark,
    );
    await loadBatch(
      batch.topic,
      batch.partition,
      (opts) => decodeBatch(codec, spec, batch.messages, opts),
      String(Number(batch.lastOffset()) + 1),
      heartbeat,
      () => resolveOffset(batch.lastOffset()),
    );
  }

  const raw = rawReads
    ? new RawTopicConsumer({
        topic: names.reads,
        groupId: cfg.LOADER_GROUP_ID,
        fetcher: bulkFetcher(cfg, `${cfg.KAFKA_CLIENT_ID}-loader-raw`),
        admin,
        isolation: READ_COMMITTED,
        process: async (partition, ix, highWatermark) => {
          metrics.observeBatch(
            names.reads,
            partition,
            ix.count,
            String(ix.nextOffset - 1),
            String(highWatermark),
          );
          await loadBatch(
            names.reads,
            partition,
            (opts) => decodeRecords(codec, TABLES.reads as TableSpec, ix, opts),
            String(ix.nextOffset),
            // kafkajs heartbeats for the group from its own fetch loop.
            async () => undefined,
          );
        },
        // Compressed batches are read too (kafkaWire/compression.ts); what is left here (a corrupt
        // batch, an authorization or version refusal) no retry cures: stop, Kafka keeps the reads.
        onFatal: (err) => {
          logger.fatal({ err }, 'raw fetch of reads failed and cannot retry; exiting');
          process.exit(1);
        },
        logger,
      })
    : undefined;

  await registryAnswers(cfg.SCHEMA_REGISTRY_URL);
  const server = cfg.METRICS_PORT > 0 ? await metrics.serve(cfg.METRICS_PORT, logger) : undefined;
  const startup = { logger };
  await retryKafkaStartup(
    'connect',
    () => Promise.all([consumer.connect(), producer.connect(), admin.connect()]),
    startup,
  );
  // The topics it reads and writes, with a leader for every partition (a detector starting beside
  // it may have created them a moment ago; a topic the broker would auto-create is not compacted).
  await ensureTopics(
    admin,
    cfg.AMI_TOPIC_PREFIX,
    { partitions: cfg.LOADER_PARTITIONS },
    ['meters', 'reads', 'events', 'outages', 'momentary', 'calls', 'commandResults', 'dlq'],
    startup,
  );
  // The whole meters topic first, so no read is checked against a table still loading.
  const t0 = Date.now();
  const follower = await retryKafkaStartup(
    'meters table',
    () =>
      followProfiles({
        kafka,
        admin,
        codec,
        topic: names.meters,
        groupPrefix: cfg.LOADER_GROUP_ID,
        table: profiles,
        logger,
        catchUpTimeoutMs: cfg.LOADER_METERS_CATCHUP_MS,
      }),
    startup,
  );
  await follower.ready;
  logger.info(
    { meters: profiles.size, gardus: profiles.gardus, ms: Date.now() - t0 },
    'meters table loaded for input checks',
  );
  exitOnCrash(consumer, logger);
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true;
    if (!raw || !rawTopics.has(names.reads)) return;
    // Before kafkajs' first fetch of this generation (the event is emitted synchronously).
    consumer.pause([{ topic: names.reads }]);
    raw.assign(e.payload.memberAssignment[names.reads] ?? []);
  });
  // The assignment is void until the next GROUP_JOIN; the sink's commits of that time are refused (redelivery).
  consumer.on(consumer.events.REBALANCING, () => raw?.assign([]));
  // kafkajs rejoins silently when the coordinator forgot the member: the raw fetch must not go on
  // with partitions another loader may own by now (kafkajs' default rebalance timeout: 60 s).
  stopMembershipWatch = watchMembership(consumer, cfg.LOADER_SESSION_TIMEOUT_MS + 60_000, () => {
    logger.warn(
      'the group has not heard from this loader for a session timeout: raw fetch stopped until it rejoins',
    );
    raw?.assign([]);
  });
  await retryKafkaStartup(
    'subscribe',
    () => consumer.subscribe({ topics: [...byTopic.keys()], fromBeginning: true }),
    startup,
  );
  await consumer.run({
    // Offsets are committed by the sink after each accepted insert, never by kafkajs.
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 16,
    eachBatch,
  });
  // An insert may already have stopped the loader (fatal): start nothing more then.
  if (stopping) return { sink, consumer, profiles, failed, stop };
  raw?.start();
  // A ClickHouse that refuses while no insert runs must show in readiness too.
  const prober = setInterval(() => {
    void ch.ping().then(
      (r) => sink.probe(r.success, r.success ? undefined : r.error),
      (err: unknown) => sink.probe(false, err),
    );
  }, cfg.LOADER_HEALTH_PROBE_MS);
  prober.unref();
  const billing = new BillingRefresher(cfg, logger);
  billing.start();
  Object.assign(background, { prober, billing });
  logger.info(
    { topics: [...byTopic.keys()], rawFetch: [...rawTopics], db: cfg.CLICKHOUSE_DB },
    'loader running',
  );

  async function stopAll(): Promise<void> {
    clearInterval(background.prober);
    stopMembershipWatch();
    await background.billing?.stop();
    // Stopping the sink rejects waiting handlers, so nothing uninserted is committed.
    await Promise.all([raw?.stop(), consumer.disconnect(), sink.stop()]);
    // After the consumer: a batch waiting for the meters table to catch up finishes first.
    await follower.stop();
    await admin.disconnect();
    await producer.disconnect();
    await ch.close();
    server?.close();
  }

  return { sink, consumer, profiles, failed, stop };
}

/**
 * Start-up check: without the registry no new writer schema can be read, so a
 * loader that starts without it fails at once with a message naming it (a
 * running loader keeps going on its cached schemas).
 */
async function registryAnswers(url: string): Promise<void> {
  const unreachable = (why: string, cause?: unknown) =>
    new UnavailableError('schema-registry', `not reachable at ${url} at start-up: ${why}`, cause);
  let res: Response;
  try {
    res = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    throw unreachable((err as Error).message, err);
  }
  if (!res.ok) throw unreachable(`HTTP ${res.status}`);
}
