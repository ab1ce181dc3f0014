import type { Admin, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import {
  AvroCodec,
  BadRecordError,
  createKafka,
  createRegistry,
  deadLetterHeaders,
  ensureTopics,
  exitOnCrash,
  ServiceMetrics,
  validateEvent,
  validateRead,
  topicNames,
  valueSubject,
  type DeadLetter,
  type KnownMeter,
  type Logger,
  type MeterEvent,
  type MeterRead,
  type MeterStatus,
  type Outage,
  type Topics,
} from '@ami/lib';
import type { DetectorConfig } from './config.js';
import { garduRecord, loadState, stateTopic, tpRecord } from './changelog.js';
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
  snapshotGardu,
  type DetectorState,
  type Emission,
  type Input,
  type RulesContext,
} from './rules.js';
import { Topology, type MeterInfo } from './topology.js';
import { followMeters } from './topologyTable.js';
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
  duplicates: number;
  replayed: number;
  dlq: Record<string, number>;
  outages: number;
  momentary: number;
  statuses: number;
  transactions: number;
}

export interface DetectorHandle {
  stats: DetectorStats;
  topology: Topology;
  /** Event time up to which everything was applied and committed. */
  watermark(): number;
  stop(): Promise<void>;
}

/** A buffered input (itself the rules' Input) with where it came from. */
type Source = Input & {
  topic: string;
  partition: number;
  message: KafkaMessage;
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
const FETCH_BYTES_PER_PARTITION = 2 * 1024 * 1024;

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
  const partitions = await prepareTopics(admin, topics, cfg);
  const outputTopics = [
    topics.outages,
    topics.meterStatus,
    topics.momentary,
    topics.dlq,
    stateTopic(cfg.AMI_TOPIC_PREFIX),
  ];
  const partitionCounts = new Map(
    (await admin.fetchTopicMetadata({ topics: outputTopics })).topics.map((t) => [
      t.name,
      t.partitions.length,
    ]),
  );
  const codec = new AvroCodec(createRegistry(cfg));
  const encodeOutage = codec.encoder('Outage', await codec.register('Outage', valueSubject(topics.outages)));
  const encodeMomentary = codec.encoder(
    'Outage',
    await codec.register('Outage', valueSubject(topics.momentary)),
  );
  const encodeStatus = statusEncoder(await codec.register('MeterStatus', valueSubject(topics.meterStatus)));

  const writer = await openStepWriter(
    cfg,
    kafka,
    outputTopics,
    (topic) => {
      const n = partitionCounts.get(topic);
      if (n === undefined) throw new Error(`no partition count for output topic ${topic}`);
      return n;
    },
    logger,
  );
  const stats: DetectorStats = {
    consumed: 0,
    released: 0,
    late: 0,
    duplicates: 0,
    replayed: 0,
    dlq: {},
    outages: 0,
    momentary: 0,
    statuses: 0,
    transactions: 0,
  };
  const topo = new Topology();
  const meters = await followMeters(
    kafka,
    admin,
    codec,
    topics.meters,
    cfg.DETECTOR_GROUP_ID,
    topo,
    (err, partition, offset) => {
      stats.dlq[err.reason] = (stats.dlq[err.reason] ?? 0) + 1;
      metrics.dlq.inc({ topic: topics.meters, reason: err.reason });
      logger.warn(
        { topic: topics.meters, partition, offset, reason: err.reason },
        `bad meters record skipped: ${err.message}`,
      );
    },
    logger,
  );
  await meters.ready;
  logger.info({ meters: topo.size }, 'meters table loaded');

  const ctx: RulesContext = { cfg, topo };
  const inputs = [topics.reads, topics.events];
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
    { encodeOutage, encodeMomentary, encodeStatus },
    exit,
    metrics,
  );
  const consumer = kafka.consumer({
    groupId: cfg.DETECTOR_GROUP_ID,
    partitionAssigners: [CoPartitionedAssigner],
    readUncommitted: false,
    // Every fetch may serve every input partition: a partition starved by the others' backlog would
    // fall behind in event time and its records turn late.
    maxBytesPerPartition: FETCH_BYTES_PER_PARTITION,
    maxBytes: FETCH_BYTES_PER_PARTITION * inputs.length * partitions,
  });
  exitOnCrash(consumer, logger, exit);
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const owned = new Set(Object.values(e.payload.memberAssignment).flat());
    edge.assign(
      [...owned].sort((a, b) => a - b),
      inputs,
    );
  });
  await consumer.connect();
  for (const topic of inputs) await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ autoCommit: false, eachBatch: (payload) => edge.onBatch(payload) });
  ready = true;
  const ticker = setInterval(
    () => void edge.tick().catch((err) => logger.error({ err }, 'idle step failed')),
    100,
  );
  logger.info({ partitions, instance: cfg.DETECTOR_INSTANCE_ID }, 'detector running');

  return {
    stats,
    topology: topo,
    watermark: () => edge.watermark,
    async stop() {
      clearInterval(ticker);
      edge.close();
      await consumer.disconnect();
      await meters.consumer.disconnect();
      await edge.idle();
      await writer.close();
      await admin.disconnect();
      server?.close();
    },
  };
}

/** Creates missing contract topics and the state topic (as many partitions as the inputs). */
async function prepareTopics(admin: Admin, topics: Topics, cfg: DetectorConfig): Promise<number> {
  await ensureTopics(admin, cfg.AMI_TOPIC_PREFIX, { partitions: cfg.DETECTOR_PARTITIONS });
  const [meta] = (await admin.fetchTopicMetadata({ topics: [topics.events] })).topics;
  const partitions = meta!.partitions.length;
  const state = stateTopic(cfg.AMI_TOPIC_PREFIX);
  if (!(await admin.listTopics()).includes(state)) {
    await admin.createTopics({
      topics: [
        {
          topic: state,
          numPartitions: partitions,
          replicationFactor: 1,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
      waitForLeaders: true,
    });
  }
  return partitions;
}

interface Encoders {
  encodeOutage: (o: Outage) => Buffer;
  encodeMomentary: (o: Outage) => Buffer;
  /** A view valid until the next call (statusEncoder.ts). */
  encodeStatus: (s: MeterStatus) => Buffer;
}

/** Per-instance processing state; every step runs under one lock. */
class Edge {
  private readonly st: DetectorState = newDetectorState();
  private readonly gate: EventTimeGate<Source>;
  private readonly garduPartition = new Map<string, number>();
  private readonly loaded = new Set<number>();
  private loading: Promise<void> = Promise.resolve();
  private lock: Promise<unknown> = Promise.resolve();
  private pendingDlq: Out[] = [];
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
  ) {
    this.gate = new EventTimeGate<Source>({
      allowedLatenessMs: cfg.ALLOWED_LATENESS_MS,
      idleAdvanceMs: cfg.IDLE_ADVANCE_MS,
      idleAdvanceRate: cfg.IDLE_ADVANCE_RATE,
      confirmIdleWithEndOffsets: true,
    });
  }

  /** New assignment: forget revoked partitions, start rebuilding the new ones. */
  assign(owned: number[], inputs: string[]): void {
    void this.locked(async () => {
      for (const p of [...this.loaded]) if (!owned.includes(p)) this.drop(p, inputs);
      const fresh = owned.filter((p) => !this.loaded.has(p));
      if (fresh.length > 0) this.loading = this.load(fresh, inputs);
      await this.loading;
    });
  }

  async onBatch({ batch, isStale }: EachBatchPayload): Promise<void> {
    await this.locked(async () => {
      await this.loading;
      if (!this.loaded.has(batch.partition) || isStale()) return;
      const tp = `${batch.topic}:${batch.partition}`;
      const kind = batch.topic === this.topics.events ? 'event' : 'read';
      this.metrics.observeBatch(
        batch.topic,
        batch.partition,
        batch.messages.length,
        batch.lastOffset(),
        batch.highWatermark,
      );
      const now = Date.now();
      for (const message of batch.messages) {
        this.stats.consumed++;
        // Synchronous unless the writer schema must be fetched first.
        const pending = this.offer(tp, kind, batch.topic, batch.partition, message, now);
        if (pending) await pending;
      }
      const next = Number(batch.lastOffset()) + 1;
      this.gate.consumedTo(tp, next);
      this.gate.setCaughtUp(tp, next >= Number(batch.highWatermark), Date.now());
      // One transaction per STEP_INTERVAL_MS at most, not one per batch (kafkajs hands over one
      // partition's batch at a time; a transaction costs several broker round trips).
      if (Date.now() - this.lastStep >= STEP_INTERVAL_MS) await this.step();
      else this.due = true;
    });
  }

  /** Wall-clock step for quiet inputs (watermark idleness). */
  async tick(): Promise<void> {
    if (this.stopped) return;
    await this.pollEndOffsets();
    await this.locked(async () => {
      if (this.backlog || this.due || this.gate.nextWatermark(Date.now()) > this.gate.watermark)
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
   * Decode, validate and buffer one message. Synchronous (returns undefined)
   * when the writer schema is cached, the hot path; otherwise the promise of
   * doing so once the schema is fetched.
   */
  private offer(
    tp: string,
    kind: 'event' | 'read',
    topic: string,
    partition: number,
    message: KafkaMessage,
    now: number,
  ): Promise<void> | undefined {
    const buf = message.value;
    let source: Source | undefined;
    try {
      if (buf === null) throw new BadRecordError('null-value', 'a reads/events message has no value');
      if (kind === 'event') {
        const value = this.codec.decodeCached('MeterEvent', buf);
        if (value !== undefined) source = this.source('event', value, topic, partition, message);
      } else {
        const value = this.codec.decodeCached('MeterRead', buf);
        if (value !== undefined) source = this.source('read', value, topic, partition, message);
      }
    } catch (err) {
      if (!(err instanceof BadRecordError)) throw err;
      this.dead({ sourceTopic: topic, partition, message, reason: err.reason, detail: err.message });
      return undefined;
    }
    if (source === undefined) return this.offerFetching(tp, kind, topic, partition, message, now);
    this.admit(tp, source, now);
    return undefined;
  }

  /** `offer` for a writer schema not cached yet: fetched from the registry first. */
  private async offerFetching(
    tp: string,
    kind: 'event' | 'read',
    topic: string,
    partition: number,
    message: KafkaMessage,
    now: number,
  ): Promise<void> {
    let source: Source;
    try {
      source =
        kind === 'event'
          ? this.source(
              'event',
              await this.codec.decode('MeterEvent', message.value!),
              topic,
              partition,
              message,
            )
          : this.source(
              'read',
              await this.codec.decode('MeterRead', message.value!),
              topic,
              partition,
              message,
            );
    } catch (err) {
      if (!(err instanceof BadRecordError)) throw err;
      return this.dead({ sourceTopic: topic, partition, message, reason: err.reason, detail: err.message });
    }
    this.admit(tp, source, now);
  }

  private source(
    kind: 'event',
    value: MeterEvent,
    topic: string,
    partition: number,
    message: KafkaMessage,
  ): Source;
  private source(
    kind: 'read',
    value: MeterRead,
    topic: string,
    partition: number,
    message: KafkaMessage,
  ): Source;
  private source(
    kind: 'event' | 'read',
    value: MeterEvent | MeterRead,
    topic: string,
    partition: number,
    message: KafkaMessage,
  ): Source {
    return { kind, value, topic, partition, message, info: undefined, version: -1 } as Source;
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

  /** Validate (ranges and topology, packages/lib/src/validate.ts), drop duplicates, offer to the gate. */
  private admit(tp: string, source: Source, now: number): void {
    const { topic, partition, message } = source;
    this.looked = undefined;
    const invalid =
      source.kind === 'event'
        ? validateEvent(source.value, { now, lookup: this.lookup })
        : validateRead(source.value, { now, lookup: this.lookup });
    if (invalid !== undefined) {
      // A meter clock far ahead would drag the watermark.
      const err = new BadRecordError(invalid.reason, invalid.detail);
      return this.dead({ sourceTopic: topic, partition, message, reason: err.reason, detail: err.message });
    }
    const looked = this.looked as MeterInfo | undefined; // set by `lookup` during the validation
    if (looked !== undefined && looked.meterId === source.value.meter_id) {
      source.info = looked;
      source.version = this.ctx.topo.version;
    }
    if (source.kind === 'event' && isDuplicate(this.ctx, this.st, source.value, source.info)) {
      this.stats.duplicates++;
      return;
    }
    const t = source.kind === 'event' ? source.value.occurred_at : source.value.read_at;
    const verdict = this.gate.offer(tp, Number(message.offset), t, source, now);
    if (verdict === 'replayed') this.stats.replayed++;
    else if (verdict === 'late') {
      this.stats.late++;
      const detail = `event time ${new Date(t).toISOString()} is before the watermark ${new Date(this.gate.watermark).toISOString()}`;
      this.dead({ sourceTopic: topic, partition, message, reason: 'late', detail });
    }
  }

  private dead(d: DeadLetter): void {
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

  /** Release what the watermark allows through the rules, then commit everything in one transaction. */
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

  private async step(): Promise<void> {
    const t0 = performance.now();
    this.lastStep = Date.now();
    this.due = false;
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
    const t1 = performance.now();
    const snapshots = this.garduRecords();
    const t2 = performance.now();
    const offsets = this.offsetsToCommit();
    if (out.length === 0 && this.pendingDlq.length === 0 && snapshots.length === 0 && offsets.length === 0) {
      // At most the event-time meta moved (inputs buffered, the watermark on): no transaction for it
      // alone. It goes with the next one; meta and offsets are always committed together, so a
      // restart stays consistent (it replays from the committed offsets with the meta saved beside them).
      this.stats.released += applied;
      this.committedUpTo = this.gate.watermark;
      this.continueSoon();
      return;
    }
    const messages = [...this.pendingDlq, ...snapshots, ...this.metaRecords()];
    const endTx = this.metrics.insertLatency.startTimer({ table: 'kafka-transaction' });
    let tx: StepTransaction | undefined;
    let t3 = 0;
    try {
      tx = this.writer.begin();
      this.addOutputs(tx, out);
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
    if (this.cfg.DETECTOR_TRACE_STEPS === '1')
      process.stderr.write(
        `${JSON.stringify({ step: Date.now(), mono: Number(process.hrtime.bigint() / 1000n), applied, out: out.length, snaps: snapshots.length, msgs: messages.length + out.length, rulesMs: Math.round(t1 - t0), snapMs: Math.round(t2 - t1), encodeMs: Math.round(t3 - t2), txMs: Math.round(performance.now() - t3) })}\n`,
      );
    this.stats.transactions++;
    this.stats.released += applied;
    for (const [topic, n] of countByTopic(messages, out, this.topics))
      this.metrics.produced.inc({ topic }, n);
    this.pendingDlq = [];
    this.pendingDlqPartitions = [];
    for (const t of offsets)
      for (const p of t.partitions) this.committed.set(`${t.topic}:${p.partition}`, Number(p.offset));
    this.count(out);
    this.committedUpTo = this.gate.watermark;
    this.continueSoon();
  }

  private apply(h: Held<Source>, out: Emission[]): void {
    const source = h.value;
    const { topic, partition, message } = source;
    try {
      // The meter looked up at offer time, unless the meters table changed since.
      const known = source.version === this.ctx.topo.version ? source.info : undefined;
      const gardu = applyInput(this.ctx, this.st, source, out, known).garduId;
      if (this.garduPartition.get(gardu) !== partition) this.garduPartition.set(gardu, partition);
    } catch (err) {
      if (!(err instanceof BadRecordError)) throw err;
      this.dead({ sourceTopic: topic, partition, message, reason: err.reason, detail: err.message });
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

  /** Snapshots of changed gardu, to the partition of their traffic. */
  private garduRecords(): Out[] {
    const topic = stateTopic(this.cfg.AMI_TOPIC_PREFIX);
    const records: Out[] = [];
    for (const garduId of this.st.dirty) {
      const partition = this.garduPartition.get(garduId);
      if (partition !== undefined)
        records.push({ topic, ...garduRecord(partition, garduId, snapshotGardu(this.st, garduId)) });
    }
    this.st.dirty.clear();
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
        this.gate.track(tp, next >= Number(o.high), saved);
        if (saved) this.savedMeta.set(tp, JSON.stringify(saved));
      }
    }
    for (const p of fresh) this.loaded.add(p);
  }

  private drop(p: number, inputs: string[]): void {
    for (const [garduId, partition] of this.garduPartition) {
      if (partition !== p) continue;
      dropGardu(this.st, garduId);
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
