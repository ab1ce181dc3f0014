import type { Admin, Consumer } from 'kafkajs';
import {
  AvroCodec,
  ConfigError,
  RawTopicConsumer,
  READ_COMMITTED,
  bulkFetcher,
  createKafka,
  createRegistry,
  ensureTopics,
  exitOnCrash,
  GroupMembership,
  retryKafkaStartup,
  waitForTopicLeaders,
  watchMembership,
  ServiceMetrics,
  topicNames,
  valueSubject,
  type BadMetersRecordHandler,
  type Logger,
  type MetersTable,
  type Topics,
} from '@ami/lib';
import type { DetectorConfig } from './config.js';
import { repartitionTopic, stateTopic } from './changelog.js';
import { CoPartitionedAssigner } from './assigner.js';
import type { RulesContext } from './rules.js';
import { Topology } from './topology.js';
import { followMeters } from './topologyTable.js';
import { PingEdge } from './pingEdge.js';
import { statusEncoder } from './statusEncoder.js';
import { openStepWriter } from './output.js';
import { newDetectorStats, type DetectorStats } from './edge/context.js';
import { Edge } from './edge/edge.js';

export type { DetectorStats } from './edge/context.js';

export interface DetectorHandle {
  stats: DetectorStats;
  topology: Topology;
  /** The meters-table follower (tests pause its consumer to hold the table back). */
  meters: MetersTable;
  /** Event time up to which everything was applied and committed. */
  watermark(): number;
  stop(): Promise<void>;
}

const FETCH_BYTES_PER_PARTITION = 2 * 1024 * 1024;
/** kafkajs' defaults, stated: the membership watch below counts on them. */
const SESSION_TIMEOUT_MS = 30_000;
const REBALANCE_TIMEOUT_MS = 60_000;

/**
 * Starts one detector instance: its topics, the meters table, the transactional writer, the
 * consumer group (kafkajs) with the raw fetch of reads beside it, and the Edge (edge/edge.ts) that
 * steps the rules and writes each step in one transaction.
 */
export async function startDetector(
  cfg: DetectorConfig,
  logger: Logger,
  exit: (code: number) => void = process.exit,
  metrics = new ServiceMetrics('detector'),
): Promise<DetectorHandle> {
  let ready = false;
  metrics.setReadiness(() => ready);
  const server = cfg.METRICS_PORT > 0 ? await metrics.serve(cfg.METRICS_PORT, logger) : undefined;
  const topics = topicNames(cfg.AMI_TOPIC_PREFIX);
  const kafka = createKafka(cfg, logger, `${cfg.KAFKA_CLIENT_ID}-detector-${cfg.DETECTOR_INSTANCE_ID}`);
  const admin = kafka.admin();
  await admin.connect();
  const partitions = await prepareTopics(admin, topics, cfg, logger);
  const outputTopics = [
    topics.outages,
    topics.suspectedOutages,
    topics.meterStatus,
    topics.momentary,
    topics.dlq,
    stateTopic(cfg.AMI_TOPIC_PREFIX),
    ...(cfg.DETECTOR_REPARTITION ? [repartitionTopic(cfg.AMI_TOPIC_PREFIX)] : []),
    // READ_NOW pings of suspected outages go out in the step's transaction, on their own topic
    // (never `commands`: the detector's principal may not write it; pingEdge.ts).
    ...(cfg.DETECTOR_PINGS ? [topics.pings] : []),
  ];
  const partitionCounts = new Map(
    (
      await retryKafkaStartup(
        'metadata of the outputs',
        () => admin.fetchTopicMetadata({ topics: outputTopics }),
        {
          logger,
        },
      )
    ).topics.map((t) => [t.name, t.partitions.length]),
  );
  const codec = new AvroCodec(createRegistry(cfg));
  const encodeOutage = codec.encoder('Outage', await codec.register('Outage', valueSubject(topics.outages)));
  const encodeMomentary = codec.encoder(
    'Outage',
    await codec.register('Outage', valueSubject(topics.momentary)),
  );
  const encodeStatus = statusEncoder(await codec.register('MeterStatus', valueSubject(topics.meterStatus)));
  const encodeSuspected = codec.encoder(
    'SuspectedOutage',
    await codec.register('SuspectedOutage', valueSubject(topics.suspectedOutages)),
  );

  // The input group's generation and member id go with each step's offsets (KIP-447 fencing).
  const membership = new GroupMembership();
  // A fresh cluster may have no transaction coordinator yet.
  const writer = await retryKafkaStartup(
    'transactional producer',
    () =>
      openStepWriter(
        cfg,
        kafka,
        outputTopics,
        (topic) => {
          const n = partitionCounts.get(topic);
          if (n === undefined) throw new ConfigError(`no partition count for output topic ${topic}`);
          return n;
        },
        logger,
        () => membership.member,
      ),
    { logger },
  );
  const stats = newDetectorStats();
  const topo = new Topology();
  const onBadProfile: BadMetersRecordHandler = (err, partition, offset) => {
    stats.dlq[err.reason] = (stats.dlq[err.reason] ?? 0) + 1;
    metrics.dlq.inc({ topic: topics.meters, reason: err.reason });
    logger.warn(
      { topic: topics.meters, partition, offset, reason: err.reason },
      `bad meters record skipped: ${err.message}`,
    );
  };
  const meters = await retryKafkaStartup(
    'meters table',
    () => followMeters(kafka, admin, codec, topics.meters, cfg.DETECTOR_GROUP_ID, topo, onBadProfile, logger),
    { logger },
  );
  await meters.ready;
  logger.info({ meters: topo.size }, 'meters table loaded');

  const ctx: RulesContext = { cfg, topo };
  const inputs = [
    topics.reads,
    topics.events,
    ...(cfg.DETECTOR_REPARTITION ? [repartitionTopic(cfg.AMI_TOPIC_PREFIX)] : []),
  ];
  const pings = await PingEdge.start(cfg, kafka, codec, topics, topo, logger, metrics, exit);
  const edge = new Edge({
    cfg,
    rules: ctx,
    topics,
    kafka,
    admin,
    writer,
    logger,
    stats,
    codec,
    encoders: { encodeOutage, encodeMomentary, encodeStatus, encodeSuspected },
    exit,
    metrics,
    meters,
    pings,
  });
  edge.placeBy(partitions);
  const consumer = kafka.consumer({
    groupId: cfg.DETECTOR_GROUP_ID,
    partitionAssigners: [membership.assigner(CoPartitionedAssigner)],
    readUncommitted: false,
    sessionTimeout: SESSION_TIMEOUT_MS,
    rebalanceTimeout: REBALANCE_TIMEOUT_MS,
    // Every fetch may serve every input partition: a partition starved by the others' backlog would
    // fall behind in event time and its records turn late.
    maxBytesPerPartition: FETCH_BYTES_PER_PARTITION,
    maxBytes: FETCH_BYTES_PER_PARTITION * inputs.length * partitions,
  });
  exitOnCrash(consumer, logger, exit);
  const stopMembershipWatch = watchMembership(consumer, SESSION_TIMEOUT_MS + REBALANCE_TIMEOUT_MS, () => {
    // The partitions may have moved: let them go until kafkajs has rejoined (GROUP_JOIN assigns
    // again, and the state is rebuilt from the state topic as after any rebalance).
    logger.warn(
      'the group has not heard from this detector for a session timeout: its partitions are released until it rejoins',
    );
    raw?.assign([]);
    edge.assign([], inputs);
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const owned = new Set(Object.values(e.payload.memberAssignment).flat());
    edge.assign(
      [...owned].sort((a, b) => a - b),
      inputs,
    );
  });
  const raw = rawReads(cfg, topics, admin, edge, consumer, logger, exit);
  await consumer.connect();
  for (const topic of inputs) await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ autoCommit: false, eachBatch: (payload) => edge.onBatch(payload) });
  raw?.start();
  ready = true;
  const ticker = setInterval(() => {
    void edge.tick().catch((err) => logger.error({ err }, 'idle step failed'));
  }, 100);
  logger.info({ partitions, instance: cfg.DETECTOR_INSTANCE_ID }, 'detector running');

  return {
    stats,
    topology: topo,
    meters,
    watermark: () => edge.watermark,
    async stop() {
      clearInterval(ticker);
      stopMembershipWatch();
      edge.close();
      // First: an input waiting for the meters table to catch up is judged now, so the batch ends.
      await meters.stop();
      await raw?.stop();
      await consumer.disconnect();
      await pings?.stop();
      await edge.idle();
      await writer.close();
      await admin.disconnect();
      server?.close();
    },
  };
}

/**
 * The raw fetch of reads (DETECTOR_RAW_FETCH): kafkajs keeps the group and
 * fetches events; on every assignment the reads partitions are paused in it
 * and handed to the raw consumer, which starts at the committed offsets.
 */
function rawReads(
  cfg: DetectorConfig,
  topics: Topics,
  admin: Admin,
  edge: Edge,
  consumer: Consumer,
  logger: Logger,
  exit: (code: number) => void,
): RawTopicConsumer | undefined {
  if (!cfg.DETECTOR_RAW_FETCH) return undefined;
  const topic = topics.reads;
  edge.rawTopics.add(topic);
  const raw = new RawTopicConsumer({
    topic,
    groupId: cfg.DETECTOR_GROUP_ID,
    fetcher: bulkFetcher(cfg, `${cfg.KAFKA_CLIENT_ID}-detector-${cfg.DETECTOR_INSTANCE_ID}-raw`),
    admin,
    isolation: READ_COMMITTED,
    process: (partition, ix, highWatermark, fetchOffset) =>
      edge.onRecords(topic, partition, ix, highWatermark, fetchOffset),
    // The fetch continues where the gate's state does: what it consumed since the last commit
    // (held, or released since) is not fetched again after a rejoin.
    positions: (partitions) => edge.positions(topic, partitions),
    restartAt: (partition, offset) => edge.restartAt(topic, partition, offset),
    holdBack: (partition) => edge.holdsBack(topic, partition),
    // Compressed batches are read too (kafkaWire/compression.ts); what is left here (a corrupt
    // batch, an authorization or version refusal) no retry cures: stop, Kafka keeps the reads.
    onFatal: (err) => {
      logger.fatal({ err }, 'raw fetch of reads failed and cannot retry; exiting');
      exit(1);
    },
    logger,
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    if (!edge.rawTopics.has(topic)) return;
    // Before kafkajs' first fetch of this generation (the event is emitted synchronously).
    consumer.pause([{ topic }]);
    raw.assign(e.payload.memberAssignment[topic] ?? []);
  });
  consumer.on(consumer.events.REBALANCING, () => raw.assign([]));
  return raw;
}

/**
 * Creates missing contract topics, the state topic and the repartition topic (as many partitions as the inputs), and waits
 * until each has a leader for every partition: a topic created a moment ago (here, or by a loader
 * starting beside this detector) answers "not the leader" for a while.
 */
async function prepareTopics(
  admin: Admin,
  topics: Topics,
  cfg: DetectorConfig,
  logger: Logger,
): Promise<number> {
  const startup = { logger };
  await ensureTopics(
    admin,
    cfg.AMI_TOPIC_PREFIX,
    { partitions: cfg.DETECTOR_PARTITIONS },
    undefined,
    startup,
  );
  const [meta] = (
    await retryKafkaStartup(
      'metadata of the inputs',
      () => admin.fetchTopicMetadata({ topics: [topics.events] }),
      startup,
    )
  ).topics;
  const partitions = meta!.partitions.length;
  const internal = [
    { topic: stateTopic(cfg.AMI_TOPIC_PREFIX), cleanup: 'compact' },
    ...(cfg.DETECTOR_REPARTITION
      ? [{ topic: repartitionTopic(cfg.AMI_TOPIC_PREFIX), cleanup: 'delete' }]
      : []),
  ];
  const existing = await retryKafkaStartup('list topics', () => admin.listTopics(), startup);
  for (const { topic, cleanup } of internal) {
    if (existing.includes(topic)) continue;
    await retryKafkaStartup(
      `create ${topic}`,
      () =>
        admin.createTopics({
          topics: [
            {
              topic,
              numPartitions: partitions,
              replicationFactor: 1,
              configEntries: [{ name: 'cleanup.policy', value: cleanup }],
            },
          ],
          waitForLeaders: true,
        }),
      startup,
    );
  }
  await waitForTopicLeaders(
    admin,
    internal.map((i) => i.topic),
    startup,
  );
  return partitions;
}
