import { setTimeout as delay } from 'node:timers/promises';
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import {
  AvroCodec,
  BadRecordError,
  isRetriable,
  RawTopicConsumer,
  TOPOLOGY_REASONS,
  READ_COMMITTED,
  bulkFetcher,
  createKafka,
  createRegistry,
  deadLetterHeaders,
  ensureTopics,
  exitOnCrash,
  GroupMembership,
  inputPartition,
  retryKafkaStartup,
  waitForTopicLeaders,
  watchMembership,
  whileBeating,
  ServiceMetrics,
  validateEvent,
  validateRead,
  topicNames,
  valueSubject,
  type BadMetersRecordHandler,
  type DeadLetter,
  type Invalid,
  type KnownMeter,
  type MetersTable,
  type Logger,
  type MeterEvent,
  type MeterRead,
  type MeterStatus,
  type Outage,
  type RecordIndex,
  type SuspectedOutage,
  type Topics,
} from '@ami/lib';
import type { DetectorConfig } from './config.js';
import {
  arrivalRecord,
  garduRecord,
  KIND_HEADER,
  loadState,
  repartitionTopic,
  stateTopic,
  tpRecord,
  type WatermarkMarker,
} from './changelog.js';
import { CoPartitionedAssigner } from './assigner.js';
import { EventTimeGate, type Held } from './eventTime.js';
import {
  advance,
  applyInput,
  dropGardu,
  isDuplicate,
  loadGardu,
  newDetectorState,
  pruneSeen,
  feedersByChild,
  snapshotGardu,
  type DetectorState,
  type Emission,
  type Input,
  type RulesContext,
} from './rules.js';
import {
  applyPings,
  dropArrival,
  encodeArrival,
  loadArrival,
  newSuspicionState,
  onArrival,
  publishArrivals,
  settleByRecords,
  suspectNested,
  sweep,
  type SuspicionRecord,
} from './suspicion.js';
import { Topology, type MeterInfo } from './topology.js';
import { followMeters } from './topologyTable.js';
import { PingEdge } from './pingEdge.js';
import { statusEncoder } from './statusEncoder.js';
import {
  openStepWriter,
  type Out,
  type StepOffsets,
  type StepTransaction,
  type StepWriter,
} from './output.js';

/** Counters an operator (and the tests) can read. */
export interface DetectorStats {
  consumed: number;
  /** Inputs released in event-time order through the rules (and committed). */
  released: number;
  late: number;
  /** Inputs ahead of the fleet's clock when offered (confirmed later, or dead-lettered `future-dated`). */
  suspects: number;
  duplicates: number;
  replayed: number;
  dlq: Record<string, number>;
  outages: number;
  momentary: number;
  statuses: number;
  /** Records on the suspected-outages topic (suspected, confirmed, cancelled). */
  suspected: number;
  transactions: number;
  /** Most inputs held for the watermark at once (after a batch was offered). */
  peakBuffered: number;
  /** Inputs not on their feeder's partition, forwarded to the repartition topic ("Scaling out"). */
  forwarded: number;
}

export interface DetectorHandle {
  stats: DetectorStats;
  topology: Topology;
  /** The meters-table follower (tests pause its consumer to hold the table back). */
  meters: MetersTable;
  /** Event time up to which everything was applied and committed. */
  watermark(): number;
  stop(): Promise<void>;
}

/**
 * Where an input's bytes are: a kafkajs message, or record `i` of a raw fetch
 * (no object per record; a message is built only for a dead letter).
 */
type Origin = KafkaMessage | RecordIndex;

/** A buffered input (itself the rules' Input) with where it came from. */
type Source = Input & {
  topic: string;
  partition: number;
  offset: number;
  from: Origin;
  i: number;
  /** The meter as looked up when it was offered, still valid while the topology is at `version`. */
  info: MeterInfo | undefined;
  version: number;
};

/**
 * Wall clock between steps (release + one transaction). A batch arriving sooner
 * is only buffered; the next batch or the ticker steps. Buffered inputs are
 * never committed, so a revoked partition's are simply replayed by the new owner.
 */
const STEP_INTERVAL_MS = 100;
/** Wall clock between end-offset polls while some input looks idle. */
const END_POLL_MS = 500;
/** Wall clock between watermark markers of an instance with nothing else to write (quiet inputs). */
const MARKER_INTERVAL_MS = 250;
const FETCH_BYTES_PER_PARTITION = 2 * 1024 * 1024;
/** kafkajs' defaults, stated: the membership watch below counts on them. */
const SESSION_TIMEOUT_MS = 30_000;
const REBALANCE_TIMEOUT_MS = 60_000;

function isRaw(from: Origin): from is RecordIndex {
  return 'keyStart' in from;
}

/** The input as a kafkajs message (views of the fetched bytes, no copy): what a dead letter carries. */
function messageOf(from: Origin, i: number): KafkaMessage {
  if (!isRaw(from)) return from;
  const view = (start: number, end: number) => (start < 0 ? null : from.buf.subarray(start, end));
  return {
    key: view(from.keyStart[i]!, from.keyEnd[i]!),
    value: view(from.valueStart[i]!, from.valueEnd[i]!),
    offset: String(from.offset[i]),
    timestamp: String(from.timestamp[i]),
    attributes: 0,
    headers: {},
  };
}

/**
 * The Kafka edge of the detector: consumes reads and events (co-partitioned by
 * gardu), follows the meters table, and per step releases inputs in event
 * time through the rules, then writes outputs, DLQ records, the state topic
 * and the input offsets in ONE transaction.
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
          if (n === undefined) throw new Error(`no partition count for output topic ${topic}`);
          return n;
        },
        logger,
        () => membership.member,
      ),
    { logger },
  );
  const stats: DetectorStats = {
    consumed: 0,
    released: 0,
    late: 0,
    suspects: 0,
    duplicates: 0,
    replayed: 0,
    dlq: {},
    outages: 0,
    momentary: 0,
    statuses: 0,
    suspected: 0,
    transactions: 0,
    peakBuffered: 0,
    forwarded: 0,
  };
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
  const edge = new Edge(
    cfg,
    ctx,
    topics,
    kafka,
    admin,
    writer,
    logger,
    stats,
    codec,
    { encodeOutage, encodeMomentary, encodeStatus, encodeSuspected },
    exit,
    metrics,
    meters,
    pings,
  );
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

interface Encoders {
  encodeOutage: (o: Outage) => Buffer;
  encodeMomentary: (o: Outage) => Buffer;
  /** A view valid until the next call (statusEncoder.ts). */
  encodeStatus: (s: MeterStatus) => Buffer;
  encodeSuspected: (s: SuspectedOutage) => Buffer;
}

/** Per-instance processing state; every step runs under one lock. */
class Edge {
  /** Input topics fetched raw (RawTopicConsumer), not through kafkajs. */
  readonly rawTopics = new Set<string>();
  private readonly st: DetectorState = newDetectorState();
  /** Suspected outages on arrival (suspicion.ts), saved beside the rules' state. */
  private readonly sst = newSuspicionState();
  private readonly gate: EventTimeGate<Source>;
  private readonly garduPartition = new Map<string, number>();
  private readonly loaded = new Set<number>();
  private loading: Promise<void> = Promise.resolve();
  private lock: Promise<unknown> = Promise.resolve();
  private pendingDlq: Out[] = [];
  /** READ_NOW pings decided, for the next transaction. */
  private pingCommands: Out[] = [];
  private readonly committed = new Map<string, number>();
  private readonly savedMeta = new Map<string, string>();
  private lastPrune = 0;
  private committedUpTo = Number.NEGATIVE_INFINITY;
  /** Outages this instance published as open (for the open-outages gauge; starts empty after a restart). */
  private readonly open = new Map<string, string>();
  /** The last step stopped at DETECTOR_STEP_LIMIT: the ticker continues without waiting for input. */
  private backlog = false;
  /** Inputs arrived since the last step (the ticker steps if no batch does). */
  private due = false;
  private lastStep = 0;
  /** A step for the rest of a backlog is scheduled (right away, not at the next tick). */
  private continuing = false;
  private stopped = false;
  /** Source partition of each pending dead letter (a revoked partition's are dropped with it). */
  private pendingDlqPartitions: number[] = [];
  private polling = false;
  private lastEndPoll = 0;
  /** Wall time at which the last completed meters catch-up started. */
  private metersCaughtUpFrom = Number.NEGATIVE_INFINITY;
  /** Partitions of the inputs; the repartition topic (undefined: DETECTOR_REPARTITION off). */
  private partitions = 0;
  private repartition: string | undefined;
  /** Gardu -> its feeder's partition, valid while the meters table is at `homesVersion`. */
  private readonly homes = new Map<string, number>();
  private homesVersion = -1;
  /** The own watermark last announced on the repartition topic, and when (wall clock). */
  private announced = Number.NEGATIVE_INFINITY;
  private announcedAt = 0;
  /** An assignment changed: announce again (a new owner of a repartition partition heard nothing yet). */
  private announceDue = false;

  constructor(
    private readonly cfg: DetectorConfig,
    private readonly ctx: RulesContext,
    private readonly topics: Topics,
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly writer: StepWriter,
    private readonly logger: Logger,
    private readonly stats: DetectorStats,
    private readonly codec: AvroCodec,
    private readonly enc: Encoders,
    private readonly exit: (code: number) => void,
    private readonly metrics: ServiceMetrics,
    private readonly meters: Pick<MetersTable, 'catchUp'>,
    /** Ping verification of suspected outages; null when DETECTOR_PINGS is off. */
    private readonly pings: PingEdge | null = null,
  ) {
    this.gate = new EventTimeGate<Source>({
      allowedLatenessMs: cfg.ALLOWED_LATENESS_MS,
      idleAdvanceMs: cfg.IDLE_ADVANCE_MS,
      idleAdvanceRate: cfg.IDLE_ADVANCE_RATE,
      confirmIdleWithEndOffsets: true,
      maxClockSkewMs: cfg.DETECTOR_MAX_CLOCK_SKEW_MS,
      futureConfirmMs: cfg.DETECTOR_FUTURE_CONFIRM_MS,
    });
  }

  /**
   * Scale-out: the inputs have `partitions` partitions; with DETECTOR_REPARTITION, inputs go to their
   * feeder's and the repartition topic's partitions wait for every input partition's owner.
   */
  placeBy(partitions: number): void {
    this.partitions = partitions;
    if (!this.cfg.DETECTOR_REPARTITION) return;
    this.repartition = repartitionTopic(this.cfg.AMI_TOPIC_PREFIX);
    const sources: string[] = [];
    for (const topic of [this.topics.reads, this.topics.events])
      for (let p = 0; p < partitions; p++) sources.push(`${topic}:${p}`);
    this.gate.expectSources(sources);
  }

  /** New assignment: forget revoked partitions, start rebuilding the new ones. */
  assign(owned: number[], inputs: string[]): void {
    this.announceDue = true;
    void this.locked(async () => {
      for (const p of [...this.loaded]) if (!owned.includes(p)) this.drop(p, inputs);
      const fresh = owned.filter((p) => !this.loaded.has(p));
      // Topics created a moment ago may not answer yet: retried up to the start-up deadline.
      if (fresh.length > 0)
        this.loading = retryKafkaStartup(
          'state and offsets of the assigned partitions',
          () => this.load(fresh, inputs),
          {
            logger: this.logger,
          },
        );
      await this.loading;
    });
  }

  async onBatch({ batch, isStale, heartbeat }: EachBatchPayload): Promise<void> {
    // A batch kafkajs fetched before the raw path took the topic over: the raw path loads it.
    if (this.rawTopics.has(batch.topic)) return;
    const offered = this.locked(async () => {
      await this.loading;
      if (!this.loaded.has(batch.partition) || isStale()) return;
      this.metrics.observeBatch(
        batch.topic,
        batch.partition,
        batch.messages.length,
        batch.lastOffset(),
        batch.highWatermark,
      );
      const tp = `${batch.topic}:${batch.partition}`;
      const kind = batch.topic === this.topics.events ? 'event' : 'read';
      const now = Date.now();
      const repartitioned = batch.topic === this.repartition;
      for (const message of batch.messages) {
        const k = repartitioned ? this.forwardedKind(tp, batch.partition, message) : kind;
        if (k === undefined) continue;
        // Inputs are counted once, where they were consumed first (a forwarded one was there).
        if (!repartitioned) this.stats.consumed++;
        // Synchronous unless the writer schema must be fetched first.
        const pending = this.offer(tp, k, batch.topic, batch.partition, message, 0, now);
        if (pending) await pending;
      }
      await this.consumed(tp, Number(batch.lastOffset()) + 1, Number(batch.highWatermark));
    });
    await whileBeating(heartbeat, offered);
    await this.workOff(batch.topic, heartbeat);
  }

  /** Records of one partition fetched raw (RawTopicConsumer); resolves when the next fetch may start. */
  async onRecords(
    topic: string,
    partition: number,
    ix: RecordIndex,
    highWatermark: number,
    fetchOffset: number,
  ): Promise<void> {
    await this.locked(async () => {
      await this.loading;
      if (!this.loaded.has(partition) || !this.rawTopics.has(topic)) return;
      // Fetched for a state of the partition that was dropped and loaded again since: not its continuation.
      if (this.gate.position(`${topic}:${partition}`) !== fetchOffset) return;
      this.metrics.observeBatch(topic, partition, ix.count, String(ix.nextOffset - 1), String(highWatermark));
      const tp = `${topic}:${partition}`;
      const kind = topic === this.topics.events ? 'event' : 'read';
      const now = Date.now();
      for (let i = 0; i < ix.count; i++) {
        this.stats.consumed++;
        const pending = this.offer(tp, kind, topic, partition, ix, i, now);
        if (pending) await pending;
      }
      await this.consumed(tp, ix.nextOffset, highWatermark);
    });
    // kafkajs heartbeats for the group from its own fetch loop.
    await this.workOff(topic, async () => undefined);
  }

  /** Everything before `next` was offered: one step per STEP_INTERVAL_MS at most. */
  private async consumed(tp: string, next: number, highWatermark: number): Promise<void> {
    this.gate.consumedTo(tp, next);
    this.gate.setCaughtUp(tp, next >= highWatermark, Date.now());
    // Not one transaction per batch (kafkajs hands over one partition's batch at a time; a
    // transaction costs several broker round trips).
    if (Date.now() - this.lastStep >= STEP_INTERVAL_MS) await this.step();
    else this.due = true;
    if (this.gate.buffered > this.stats.peakBuffered) this.stats.peakBuffered = this.gate.buffered;
  }

  /**
   * Backpressure (DETECTOR_MAX_BUFFERED): with more inputs held than that, the caller (the fetch of
   * `topic`) goes on only once they are few enough. Meanwhile it steps (one per turn of the lock, so
   * the other topic's batches and the ticker get their turns) while some can be released, and waits
   * while the watermark waits for the other topic's fetch (behind on the broker: kafkajs slower, or
   * rejoining its group), since more of this topic would only be held; otherwise it goes on (the
   * watermark waits for this topic, or for an input with nothing to fetch). Without the wait a
   * full-speed replay held 6 GB of reads while kafkajs rejoined its group.
   */
  private async workOff(topic: string, heartbeat: () => Promise<void>): Promise<void> {
    while (this.gate.buffered > this.cfg.DETECTOR_MAX_BUFFERED && !this.stopped) {
      const now = Date.now();
      if (this.backlog || this.gate.canRelease(now)) await this.locked(() => this.step());
      else if (this.gate.waitsOnOtherTopic(topic, now, (other) => this.fetchedApart(topic, other)))
        await delay(STEP_INTERVAL_MS);
      else return;
      await heartbeat();
    }
  }

  /** Whether `other` is fetched while the fetch of `topic` waits: raw beside kafkajs, never kafkajs beside itself. */
  private fetchedApart(topic: string, other: string): boolean {
    return this.rawTopics.has(topic) !== this.rawTopics.has(other);
  }

  /** Where the gate continues each loaded partition of `topic` (after the assignments so far are applied). */
  positions(topic: string, partitions: readonly number[]): Promise<Map<number, number>> {
    return this.locked(async () => {
      await this.loading;
      const at = new Map<number, number>();
      for (const p of partitions) {
        const position = this.loaded.has(p) ? this.gate.position(`${topic}:${p}`) : undefined;
        if (position !== undefined) at.set(p, position);
      }
      return at;
    });
  }

  /** The raw fetch of a partition restarts at `offset` (its position was out of range on the broker). */
  restartAt(topic: string, partition: number, offset: number): Promise<void> {
    return this.locked(async () => this.gate.reposition(`${topic}:${partition}`, offset));
  }

  /**
   * The raw fetch leaves a partition out while more than DETECTOR_MAX_BUFFERED inputs are held and
   * the partition is ahead of the input the watermark waits for: the laggards are fetched first.
   */
  holdsBack(topic: string, partition: number): boolean {
    return (
      this.gate.buffered > this.cfg.DETECTOR_MAX_BUFFERED &&
      this.gate.aheadOfWatermark(`${topic}:${partition}`, Date.now())
    );
  }

  /** Wall-clock step for quiet inputs (watermark idleness). */
  async tick(): Promise<void> {
    if (this.stopped) return;
    await this.pollEndOffsets();
    await this.locked(async () => {
      if (
        this.backlog ||
        this.due ||
        this.gate.suspected > 0 ||
        this.gate.nextWatermark(Date.now()) > this.gate.watermark ||
        this.announcing(Date.now()) ||
        this.pings?.hasWork(Date.now()) === true
      )
        await this.step();
    });
  }

  /** Asks the broker for the inputs' end offsets when the gate needs them to call a partition idle. */
  private async pollEndOffsets(): Promise<void> {
    const now = Date.now();
    if (this.polling || now - this.lastEndPoll < END_POLL_MS || !this.gate.wantsEndOffsets(now)) return;
    this.polling = true;
    this.lastEndPoll = now;
    try {
      for (const topic of [this.topics.reads, this.topics.events]) {
        for (const p of await this.admin.fetchTopicOffsets(topic))
          this.gate.observeEnd(`${topic}:${p.partition}`, Number(p.high), now);
      }
    } catch (err) {
      // No answer, no idleness: the watermark waits for input or the next poll.
      this.logger.warn({ err }, "could not fetch the inputs' end offsets");
    } finally {
      this.polling = false;
    }
  }

  /** Event time up to which outputs are committed. */
  get watermark(): number {
    return this.committedUpTo;
  }

  async idle(): Promise<void> {
    await this.lock;
  }

  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /**
   * Decode, validate and buffer one input (a kafkajs message, or record `i` of
   * a raw fetch). Synchronous (returns undefined) when the writer schema is
   * cached, the hot path; otherwise the promise of doing so once the schema is
   * fetched.
   */
  private offer(
    tp: string,
    kind: 'event' | 'read',
    topic: string,
    partition: number,
    from: Origin,
    i: number,
    now: number,
  ): Promise<void> | undefined {
    const buf = isRaw(from)
      ? from.valueStart[i]! < 0
        ? null
        : from.buf.subarray(from.valueStart[i]!, from.valueEnd[i]!)
      : from.value;
    let value: MeterEvent | MeterRead | undefined;
    try {
      if (buf === null) throw new BadRecordError('null-value', 'a reads/events message has no value');
      value = this.codec.decodeCached(kind === 'event' ? 'MeterEvent' : 'MeterRead', buf);
    } catch (err) {
      if (!(err instanceof BadRecordError)) throw err;
      this.dead(topic, partition, from, i, err.reason, err.message);
      return undefined;
    }
    if (value === undefined) return this.offerFetching(tp, kind, topic, partition, from, i, buf!, now);
    return this.admit(tp, this.source(kind, value, topic, partition, from, i), now);
  }

  /** `offer` for a writer schema not cached yet: fetched from the registry first. */
  private async offerFetching(
    tp: string,
    kind: 'event' | 'read',
    topic: string,
    partition: number,
    from: Origin,
    i: number,
    buf: Buffer,
    now: number,
  ): Promise<void> {
    let value: MeterEvent | MeterRead;
    try {
      value = await this.codec.decode(kind === 'event' ? 'MeterEvent' : 'MeterRead', buf);
    } catch (err) {
      if (!(err instanceof BadRecordError)) throw err;
      return this.dead(topic, partition, from, i, err.reason, err.message);
    }
    await this.admit(tp, this.source(kind, value, topic, partition, from, i), now);
  }

  private source(
    kind: 'event' | 'read',
    value: MeterEvent | MeterRead,
    topic: string,
    partition: number,
    from: Origin,
    i: number,
  ): Source {
    const offset = isRaw(from) ? from.offset[i]! : Number(from.offset);
    return { kind, value, topic, partition, offset, from, i, info: undefined, version: -1 } as Source;
  }

  /** The topology lookup of the validation: the meter is kept for the rules (one lookup per input). */
  private readonly lookup = (id: string): KnownMeter | undefined => {
    const m = this.ctx.topo.meter(id);
    this.looked = m;
    if (m === undefined) return undefined;
    // One object reused: the validation reads it only during the call.
    this.known.gardu_id = m.garduId;
    this.known.installed_at = m.installedAt;
    return this.known;
  };
  private looked: MeterInfo | undefined;
  private readonly known: { gardu_id: string; installed_at: number | undefined } = {
    gardu_id: '',
    installed_at: undefined,
  };

  /**
   * Validate (ranges and topology, packages/lib/src/validate.ts), drop duplicates, offer to the gate.
   * Synchronous, except that a topology reason (unknown meter, ...) first brings the meters table up
   * to the meters topic's end: the profile may have been published a moment before the input.
   */
  private admit(tp: string, source: Source, now: number): Promise<void> | undefined {
    const invalid = this.validate(source, now);
    // A catch-up that started after this input was fetched already covers it.
    if (invalid !== undefined && TOPOLOGY_REASONS.has(invalid.reason) && this.metersCaughtUpFrom < now)
      return this.admitAfterCatchUp(tp, source, now);
    this.admitValid(tp, source, now, invalid);
    return undefined;
  }

  private async admitAfterCatchUp(tp: string, source: Source, now: number): Promise<void> {
    await this.catchUpMeters();
    this.admitValid(tp, source, now, this.validate(source, now));
  }

  /** Brings the meters table up to the topic's end offsets of now; retried while Kafka does not answer. */
  private async catchUpMeters(): Promise<void> {
    for (let wait = 500; !this.stopped; wait = Math.min(wait * 2, 30_000)) {
      const started = Date.now();
      try {
        await this.meters.catchUp(this.cfg.DETECTOR_METERS_CATCHUP_MS);
        this.metersCaughtUpFrom = Math.max(this.metersCaughtUpFrom, started);
        return;
      } catch (err) {
        // Not retriable: the follower stopped (the service stops); the input is judged as it is.
        if (!isRetriable(err)) return;
        this.logger.warn(
          { err, retryInMs: wait },
          'meters table not caught up; retrying before dead-lettering',
        );
        await delay(wait);
      }
    }
  }

  private validate(source: Source, now: number): Invalid | undefined {
    this.looked = undefined;
    return source.kind === 'event'
      ? validateEvent(source.value, { now, lookup: this.lookup })
      : validateRead(source.value, { now, lookup: this.lookup });
  }

  private admitValid(tp: string, source: Source, now: number, invalid: Invalid | undefined): void {
    if (invalid !== undefined)
      return this.dead(source.topic, source.partition, source.from, source.i, invalid.reason, invalid.detail);
    const looked = this.looked as MeterInfo | undefined; // set by `lookup` during the validation
    if (looked !== undefined && looked.meterId === source.value.meter_id) {
      source.info = looked;
      source.version = this.ctx.topo.version;
    }
    const t = source.kind === 'event' ? source.value.occurred_at : source.value.read_at;
    // The Kafka record timestamp bounds how far ahead one meter's clock may take event time.
    const kafkaTs = isRaw(source.from) ? source.from.timestamp[source.i]! : Number(source.from.timestamp);
    if (this.forwarded(tp, source, t, kafkaTs, now)) return;
    if (source.kind === 'event' && isDuplicate(this.ctx, this.st, source.value, source.info)) {
      this.stats.duplicates++;
      return;
    }
    const verdict = this.gate.offer(tp, source.offset, t, source, now, {
      meterId: source.value.meter_id,
      kafkaTs,
    });
    if (verdict === 'buffered') this.arrived(source, kafkaTs);
    else if (verdict === 'replayed') this.stats.replayed++;
    else if (verdict === 'suspect') this.stats.suspects++;
    else if (verdict === 'late') {
      this.stats.late++;
      const detail = `event time ${new Date(t).toISOString()} is before the watermark ${new Date(this.gate.watermark).toISOString()}`;
      this.dead(source.topic, source.partition, source.from, source.i, 'late', detail);
    }
  }

  /**
   * Scale-out ("Scaling out"): an input of reads or events not on its feeder's partition goes to the
   * repartition topic on that partition, in the step's transaction with the offsets past it, and is
   * processed by that partition's owner. True when it was taken so (or is late here, or was
   * forwarded before the saved state). Inputs read from the repartition topic stay where they are.
   */
  private forwarded(tp: string, source: Source, t: number, kafkaTs: number, now: number): boolean {
    const to = this.repartition;
    if (to === undefined || source.topic === to || source.info === undefined) return false;
    const home = this.homeOf(source.info);
    if (home === source.partition) return false;
    const verdict = this.gate.pass(tp, source.offset, t, now, { meterId: source.value.meter_id, kafkaTs });
    if (verdict === 'replayed') this.stats.replayed++;
    else if (verdict === 'late') {
      this.stats.late++;
      const detail = `event time ${new Date(t).toISOString()} is before the watermark ${new Date(this.gate.ownWatermark(now)).toISOString()} this instance announced to the repartition topic`;
      this.dead(source.topic, source.partition, source.from, source.i, 'late', detail);
    } else {
      this.stats.forwarded++;
      this.metrics.forwarded.inc({ topic: source.topic });
      const m = messageOf(source.from, source.i);
      // With the dead letters: records of an input partition, dropped with it when it is revoked.
      this.pendingDlq.push({
        topic: to,
        partition: home,
        key: m.key,
        value: m.value,
        headers: { [KIND_HEADER]: source.kind },
      });
      this.pendingDlqPartitions.push(source.partition);
    }
    return true;
  }

  /** The partition of a gardu's feeder (`inputPartition`), cached while the meters table is unchanged. */
  private homeOf(info: MeterInfo): number {
    if (this.homesVersion !== this.ctx.topo.version) {
      this.homes.clear();
      this.homesVersion = this.ctx.topo.version;
    }
    let home = this.homes.get(info.garduId);
    if (home === undefined) {
      home = inputPartition({ garduId: info.garduId, feederId: info.feederId }, this.partitions);
      this.homes.set(info.garduId, home);
    }
    return home;
  }

  /**
   * A record of the repartition topic: the kind of a forwarded input, or undefined for a watermark
   * marker (its bounds go to the gate) or a record without a known kind (dead-lettered).
   */
  private forwardedKind(tp: string, partition: number, message: KafkaMessage): 'read' | 'event' | undefined {
    const kind = message.headers?.[KIND_HEADER]?.toString();
    if (kind === 'read' || kind === 'event') return kind;
    const marker = kind === 'watermark' ? parseMarker(message.value) : undefined;
    if (marker !== undefined) {
      for (const source of marker.sources) this.gate.announce(tp, source, marker.bound);
      return undefined;
    }
    this.dead(
      this.repartition!,
      partition,
      message,
      0,
      'bad-repartition-record',
      kind === 'watermark'
        ? 'a watermark marker that is not {bound, sources} JSON'
        : `header ${KIND_HEADER} is ${kind ?? 'missing'}, not read, event or watermark`,
    );
    return undefined;
  }

  /**
   * The watermark markers of the step, one per repartition partition: this instance's own
   * watermark, after the step's forwards. Sent with any transaction, else at most every
   * MARKER_INTERVAL_MS while it moves (quiet inputs), and at once after an assignment.
   */
  private markerRecords(busy: boolean, now: number): Out[] {
    const topic = this.repartition;
    if (topic === undefined) return [];
    if (!busy && !this.announceDue && now - this.announcedAt < MARKER_INTERVAL_MS) return [];
    const sources = this.gate.topicPartitions().filter((tp) => splitTp(tp)[0] !== topic);
    const bound = this.gate.announceOwn(now);
    if (sources.length === 0 || !Number.isFinite(bound) || (bound === this.announced && !this.announceDue))
      return [];
    this.announced = bound;
    this.announcedAt = now;
    this.announceDue = false;
    const value = JSON.stringify({ bound, sources } satisfies WatermarkMarker);
    const key = `w:${this.cfg.DETECTOR_INSTANCE_ID}`;
    return Array.from({ length: this.partitions }, (_, partition) => ({
      topic,
      partition,
      key,
      value,
      headers: { [KIND_HEADER]: 'watermark' },
    }));
  }

  /** Whether this instance's own watermark moved past what it announced (a step must send it). */
  private announcing(now: number): boolean {
    return this.repartition !== undefined && this.gate.ownWatermark(now) > this.announced;
  }

  /**
   * A buffered input as it arrives, before the watermark: last gasps crossing the rule's threshold
   * are published as suspected at the next step (replayed inputs are in the saved arrival state).
   */
  private arrived(source: Source, kafkaTs: number): void {
    const info = source.info ?? this.ctx.topo.meter(source.value.meter_id);
    if (info === undefined) return;
    onArrival(this.ctx, this.sst, this.st, source, info, kafkaTs);
    this.pings?.arrived(this.st, source, info, Date.now());
    if (this.sst.dirty.has(info.garduId) && this.garduPartition.get(info.garduId) !== source.partition)
      this.garduPartition.set(info.garduId, source.partition);
  }

  /** Suspects (ahead of the fleet's clock) no other meter confirmed in time: to the DLQ, `future-dated`. */
  private expireSuspects(now: number): void {
    this.gate.expireSuspects(now, (h) => {
      const s = h.value;
      const t = new Date(h.t).toISOString();
      this.dead(
        s.topic,
        s.partition,
        s.from,
        s.i,
        'future-dated',
        `event time ${t} of meter ${s.value.meter_id} is more than ${this.cfg.DETECTOR_MAX_CLOCK_SKEW_MS} ms ahead of its Kafka timestamp and of every other meter (a faulty clock; it would move the watermark)`,
      );
    });
  }

  /** A bad input to the DLQ, in the step's transaction (with the offsets past it). */
  private dead(
    sourceTopic: string,
    partition: number,
    from: Origin,
    i: number,
    reason: string,
    detail: string,
  ): void {
    const d: DeadLetter = { sourceTopic, partition, message: messageOf(from, i), reason, detail };
    this.stats.dlq[d.reason] = (this.stats.dlq[d.reason] ?? 0) + 1;
    this.metrics.dlq.inc({ topic: d.sourceTopic, reason: d.reason });
    this.logger.warn(
      { topic: d.sourceTopic, partition: d.partition, offset: d.message.offset, reason: d.reason },
      `dead letter: ${d.detail}`,
    );
    this.pendingDlq.push({
      topic: this.topics.dlq,
      key: d.message.key,
      value: d.message.value,
      headers: deadLetterHeaders(d, 'detector'),
    });
    this.pendingDlqPartitions.push(d.partition);
  }

  /** No more steps (the service stops). */
  close(): void {
    this.stopped = true;
  }

  /** A step stopped at DETECTOR_STEP_LIMIT: the next one runs as soon as the event loop is free. */
  private continueSoon(): void {
    if (!this.backlog || this.continuing || this.stopped) return;
    this.continuing = true;
    setImmediate(() => {
      this.continuing = false;
      void this.tick().catch((err) => this.logger.error({ err }, 'backlog step failed'));
    });
  }

  /** Release what the watermark allows through the rules, then commit everything in one transaction. */
  private async step(): Promise<void> {
    const t0 = performance.now();
    this.lastStep = Date.now();
    this.due = false;
    this.expireSuspects(Date.now());
    const w = this.gate.nextWatermark(Date.now());
    const out: Emission[] = [];
    let applied = 0;
    const released = this.gate.release(
      w,
      (h) => {
        applied++;
        this.apply(h, out);
      },
      this.cfg.DETECTOR_STEP_LIMIT,
    );
    this.backlog =
      !released || !advance(this.ctx, this.st, this.gate.watermark, out, this.cfg.DETECTOR_STEP_LIMIT);
    if (Date.now() - this.lastPrune > 60_000 && Number.isFinite(w)) {
      pruneSeen(this.ctx, this.st, w);
      this.lastPrune = Date.now();
    }
    const suspected = this.suspicions(out);
    const t1 = performance.now();
    const snapshots = this.garduRecords();
    const t2 = performance.now();
    const offsets = this.offsetsToCommit();
    const busy =
      out.length > 0 ||
      suspected.length > 0 ||
      this.pingCommands.length > 0 ||
      this.pendingDlq.length > 0 ||
      snapshots.length > 0 ||
      // Offsets that moved past watermark markers only go with the next transaction: committing them
      // alone would send markers, which move the other owners' offsets (a transaction every step).
      offsets.some((o) => o.topic !== this.repartition);
    // After the step's forwards (in pendingDlq) in each repartition partition.
    const markers = this.markerRecords(busy, Date.now());
    if (!busy && markers.length === 0) {
      // At most the event-time meta moved (inputs buffered, the watermark on): no transaction for it
      // alone. It goes with the next one; meta and offsets are always committed together, so a
      // restart stays consistent (it replays from the committed offsets with the meta saved beside them).
      this.stats.released += applied;
      this.committedUpTo = this.gate.watermark;
      this.continueSoon();
      return;
    }
    const messages = [...this.pendingDlq, ...snapshots, ...this.metaRecords(), ...markers];
    const endTx = this.metrics.insertLatency.startTimer({ table: 'kafka-transaction' });
    let tx: StepTransaction | undefined;
    let t3 = 0;
    try {
      tx = this.writer.begin();
      this.addOutputs(tx, out);
      this.addSuspected(tx, suspected);
      for (const c of this.pingCommands) tx.add(c);
      t3 = performance.now();
      for (const m of messages) tx.add(m);
      await tx.commit(offsets);
    } catch (err) {
      await tx?.abort().catch(() => undefined);
      // Memory is now ahead of Kafka: only a restart (state rebuilt from the state topic) is safe.
      this.logger.fatal({ err }, 'transaction failed; exiting so the state is rebuilt');
      this.exit(1);
      throw err;
    }
    endTx();
    if (this.cfg.DETECTOR_TRACE_STEPS)
      process.stderr.write(
        `${JSON.stringify({ step: Date.now(), mono: Number(process.hrtime.bigint() / 1000n), applied, out: out.length, snaps: snapshots.length, msgs: messages.length + out.length, held: this.gate.buffered, heapMB: Math.round(process.memoryUsage().heapUsed / 1e6), rulesMs: Math.round(t1 - t0), snapMs: Math.round(t2 - t1), encodeMs: Math.round(t3 - t2), txMs: Math.round(performance.now() - t3) })}\n`,
      );
    this.stats.transactions++;
    this.stats.released += applied;
    for (const [topic, n] of countByTopic(messages, out, this.topics))
      this.metrics.produced.inc({ topic }, n);
    this.pendingDlq = [];
    this.pendingDlqPartitions = [];
    this.pingCommands = [];
    for (const t of offsets)
      for (const p of t.partitions) this.committed.set(`${t.topic}:${p.partition}`, Number(p.offset));
    this.count(out);
    this.stats.suspected += suspected.length;
    if (suspected.length > 0)
      this.metrics.produced.inc({ topic: this.topics.suspectedOutages }, suspected.length);
    this.committedUpTo = this.gate.watermark;
    this.continueSoon();
  }

  private apply(h: Held<Source>, out: Emission[]): void {
    const source = h.value;
    const { topic, partition } = source;
    try {
      // The meter looked up at offer time, unless the meters table changed since.
      const known = source.version === this.ctx.topo.version ? source.info : undefined;
      const gardu = applyInput(this.ctx, this.st, source, out, known).garduId;
      if (this.garduPartition.get(gardu) !== partition) this.garduPartition.set(gardu, partition);
    } catch (err) {
      if (!(err instanceof BadRecordError)) throw err;
      this.dead(topic, partition, source.from, source.i, err.reason, err.message);
    }
  }

  /** Encodes the step's outputs into the transaction (a status value is a transient view: copied by add). */
  private addOutputs(tx: StepTransaction, out: Emission[]): void {
    const now = Date.now();
    for (const e of out) {
      if (e.to === 'status') {
        const value = this.enc.encodeStatus(e.record);
        tx.add({ topic: this.topics.meterStatus, key: e.record.meter_id, value, transient: true });
        continue;
      }
      const record = { ...e.record, emitted_at: now };
      if (e.to === 'momentary')
        tx.add({
          topic: this.topics.momentary,
          key: record.outage_id,
          value: this.enc.encodeMomentary(record),
        });
      else
        tx.add({ topic: this.topics.outages, key: record.outage_id, value: this.enc.encodeOutage(record) });
    }
  }

  /**
   * The suspected-outages records of the step: suspicions on arrival, then those the rules' records
   * (`out`) and state settle (CONFIRMED or CANCELLED) as of the watermark.
   */
  private suspicions(out: Emission[]): SuspicionRecord[] {
    const records: SuspicionRecord[] = [];
    publishArrivals(this.ctx, this.sst, this.st, records);
    settleByRecords(this.ctx, this.sst, this.st, out, records);
    if (this.sst.gardus.size > 0) sweep(this.ctx, this.sst, this.st, this.gate.watermark, records);
    if (this.pings) this.verifyByPings(this.pings, records);
    return records;
  }

  /**
   * Ping verification (pingEdge.ts): the step's suspicion records open or close pings; the
   * head-end's results since the last step update the suspicions (more records); the commands due
   * wait in `pingCommands` for the step's transaction.
   */
  private verifyByPings(pings: PingEdge, records: SuspicionRecord[]): void {
    const now = Date.now();
    pings.observe(records, now);
    pings.restore(this.st, now);
    const { commands, updates, silences, nested } = pings.take(now);
    pings.record(this.st, silences, this.gate.watermark);
    for (const n of nested) suspectNested(this.ctx, this.sst, n, records);
    for (const u of updates)
      applyPings(this.ctx, this.sst, u.garduId!, u.outageId, u.sent, u.outcomes, records, u.verdict);
    for (const c of commands) this.pingCommands.push(c);
  }

  private addSuspected(tx: StepTransaction, records: SuspicionRecord[]): void {
    const now = Date.now();
    for (const r of records)
      tx.add({
        topic: this.topics.suspectedOutages,
        key: r.outage_id,
        value: this.enc.encodeSuspected({ ...r, emitted_at: now }),
      });
  }

  /** Snapshots of changed gardu (rules and arrival state), to the partition of their traffic. */
  private garduRecords(): Out[] {
    const topic = stateTopic(this.cfg.AMI_TOPIC_PREFIX);
    const records: Out[] = [];
    const byChild = this.st.dirty.size > 0 ? feedersByChild(this.st) : undefined;
    for (const garduId of this.st.dirty) {
      const partition = this.garduPartition.get(garduId);
      if (partition !== undefined)
        records.push({ topic, ...garduRecord(partition, garduId, snapshotGardu(this.st, garduId, byChild)) });
    }
    this.st.dirty.clear();
    for (const garduId of this.sst.dirty) {
      const partition = this.garduPartition.get(garduId);
      if (partition !== undefined)
        records.push({ topic, ...arrivalRecord(partition, garduId, encodeArrival(this.sst, garduId)) });
    }
    this.sst.dirty.clear();
    return records;
  }

  /** Event-time meta of the topic-partitions whose meta changed since last saved. */
  private metaRecords(): Out[] {
    const topic = stateTopic(this.cfg.AMI_TOPIC_PREFIX);
    const records: Out[] = [];
    for (const tp of this.gate.topicPartitions()) {
      const meta = this.gate.meta(tp)!;
      const json = JSON.stringify(meta);
      if (this.savedMeta.get(tp) === json) continue;
      this.savedMeta.set(tp, json);
      records.push({ topic, ...tpRecord(Number(tp.split(':').at(-1)), tp, meta) });
    }
    return records;
  }

  private offsetsToCommit(): StepOffsets {
    const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
    for (const tp of this.gate.topicPartitions()) {
      const offset = this.gate.commitOffset(tp);
      if (offset === undefined || this.committed.get(tp) === offset) continue;
      const [topic, partition] = splitTp(tp);
      const list = byTopic.get(topic) ?? [];
      list.push({ partition, offset: String(offset) });
      byTopic.set(topic, list);
    }
    return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
  }

  private count(out: Emission[]): void {
    for (const e of out) {
      if (e.to === 'outages') {
        if (e.record.status === 'RESTORED') this.open.delete(e.record.outage_id);
        else this.open.set(e.record.outage_id, e.record.scope);
        this.logger.info(
          {
            outage: e.record.outage_id,
            scope: e.record.scope,
            status: e.record.status,
            gardu: e.record.gardu_id,
            feeder: e.record.feeder_id,
          },
          `outage ${e.record.status}`,
        );
      }
      if (e.to === 'outages') this.stats.outages++;
      else if (e.to === 'momentary') this.stats.momentary++;
      else this.stats.statuses++;
    }
    for (const scope of ['METER', 'GARDU', 'FEEDER'] as const)
      this.metrics.openOutages.set({ scope }, [...this.open.values()].filter((s) => s === scope).length);
  }

  private async load(fresh: number[], inputs: string[]): Promise<void> {
    const state = await loadState(
      this.kafka,
      this.admin,
      stateTopic(this.cfg.AMI_TOPIC_PREFIX),
      this.cfg.DETECTOR_GROUP_ID,
      fresh,
      this.logger,
    );
    for (const { partition, snap } of state.gardus) {
      loadGardu(this.st, snap);
      this.garduPartition.set(snap.gardu.garduId, partition);
    }
    for (const { partition, garduId, json } of state.arrivals) {
      loadArrival(this.sst, json);
      this.garduPartition.set(garduId, partition);
    }
    const groupOffsets = new Map<string, number>();
    for (const topic of inputs) {
      const [committed] = await this.admin.fetchOffsets({
        groupId: this.cfg.DETECTOR_GROUP_ID,
        topics: [topic],
      });
      for (const p of committed?.partitions ?? [])
        groupOffsets.set(`${topic}:${p.partition}`, Number(p.offset));
      for (const o of await this.admin.fetchTopicOffsets(topic)) {
        if (!fresh.includes(o.partition)) continue;
        const tp = `${topic}:${o.partition}`;
        const next = Math.max(groupOffsets.get(tp) ?? -1, Number(o.low));
        const saved = state.tps.get(tp) ?? null;
        this.gate.track(tp, next >= Number(o.high), saved, next, topic === this.repartition);
        if (saved) this.savedMeta.set(tp, JSON.stringify(saved));
      }
    }
    for (const p of fresh) this.loaded.add(p);
  }

  private drop(p: number, inputs: string[]): void {
    for (const [garduId, partition] of this.garduPartition) {
      if (partition !== p) continue;
      dropGardu(this.st, garduId);
      dropArrival(this.sst, garduId);
      this.garduPartition.delete(garduId);
    }
    // Dead letters not committed yet: the new owner replays their messages.
    const keep = this.pendingDlqPartitions.map((q) => q !== p);
    this.pendingDlq = this.pendingDlq.filter((_, i) => keep[i]);
    this.pendingDlqPartitions = this.pendingDlqPartitions.filter((_, i) => keep[i]);
    for (const topic of inputs) {
      this.gate.untrack(`${topic}:${p}`);
      this.committed.delete(`${topic}:${p}`);
      this.savedMeta.delete(`${topic}:${p}`);
    }
    this.loaded.delete(p);
  }
}

/** A watermark marker of the repartition topic; undefined when it is not one (dead-lettered). */
function parseMarker(value: Buffer | null): WatermarkMarker | undefined {
  try {
    const m = JSON.parse(value?.toString() ?? 'null') as Partial<WatermarkMarker> | null;
    return typeof m?.bound === 'number' && Array.isArray(m.sources) ? (m as WatermarkMarker) : undefined;
  } catch {
    return undefined;
  }
}

function splitTp(tp: string): [string, number] {
  const i = tp.lastIndexOf(':');
  return [tp.slice(0, i), Number(tp.slice(i + 1))];
}

function countByTopic(messages: Out[], out: Emission[], topics: Topics): Map<string, number> {
  const n = new Map<string, number>();
  for (const m of messages) n.set(m.topic, (n.get(m.topic) ?? 0) + 1);
  for (const e of out) {
    const topic =
      e.to === 'status' ? topics.meterStatus : e.to === 'momentary' ? topics.momentary : topics.outages;
    n.set(topic, (n.get(topic) ?? 0) + 1);
  }
  return n;
}
