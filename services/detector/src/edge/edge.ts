import { setTimeout as delay } from 'node:timers/promises';
import type { Admin, EachBatchPayload, Kafka } from 'kafkajs';
import {
  BadRecordError,
  indexMessages,
  retryKafkaStartup,
  whileBeating,
  type AvroCodec,
  type Logger,
  type MetersTable,
  type RecordIndex,
  type ServiceMetrics,
  type Topics,
} from '@ami/lib';
import type { DetectorConfig } from '../config.js';
import { EventTimeGate, type Held } from '../eventTime.js';
import type { Out, StepTransaction, StepWriter } from '../output.js';
import type { PingEdge } from '../pingEdge.js';
import {
  advance,
  applyInput,
  newDetectorState,
  pruneSeen,
  type Emission,
  type RulesContext,
} from '../rules.js';
import {
  applyPings,
  newSuspicionState,
  publishArrivals,
  settleByRecords,
  suspectNested,
  sweep,
  type SuspicionRecord,
} from '../suspicion.js';
import type { DetectorStats, EdgeContext } from './context.js';
import { Ingest } from './ingest.js';
import type { Encoders, Source } from './inputs.js';
import { PartitionState } from './partitionState.js';
import { PendingRecords } from './pending.js';
import { Repartition } from './repartition.js';

/**
 * Wall clock between steps (release + one transaction). A batch arriving sooner
 * is only buffered; the next batch or the ticker steps. Buffered inputs are
 * never committed, so a revoked partition's are simply replayed by the new owner.
 */
const STEP_INTERVAL_MS = 100;
/** Wall clock between end-offset polls while some input looks idle. */
const END_POLL_MS = 500;

/** What an Edge works with (processor.ts builds them). */
export interface EdgeOptions {
  cfg: DetectorConfig;
  rules: RulesContext;
  topics: Topics;
  kafka: Kafka;
  admin: Admin;
  writer: StepWriter;
  logger: Logger;
  stats: DetectorStats;
  codec: AvroCodec;
  encoders: Encoders;
  /** The service's exit: a failed transaction leaves memory ahead of Kafka, only a restart is safe. */
  exit: (code: number) => void;
  metrics: ServiceMetrics;
  meters: Pick<MetersTable, 'catchUp'>;
  /** Ping verification of suspected outages; null when DETECTOR_PINGS is off. */
  pings: PingEdge | null;
}

/**
 * The Kafka edge of the detector, one per instance: takes the inputs of its partitions (a kafkajs
 * batch or a raw fetch) through `Ingest` to the event-time gate, and per step releases what the
 * watermark allows through the rules, then writes outputs, suspected outages, pings, dead letters,
 * forwards, the state topic and the input offsets in ONE transaction. Every step, batch and
 * assignment runs under one lock. Its parts: ingest.ts (an input to the gate), repartition.ts
 * (scale-out), partitionState.ts (the state of the assigned partitions in Kafka), pending.ts (dead
 * letters and forwards waiting for the transaction).
 */
export class Edge {
  /** Input topics fetched raw (RawTopicConsumer), not through kafkajs. */
  readonly rawTopics = new Set<string>();
  private readonly c: EdgeContext;
  private readonly pending: PendingRecords;
  private readonly repartition: Repartition;
  private readonly ingest: Ingest;
  private readonly partitionState: PartitionState;
  private readonly writer: StepWriter;
  private readonly enc: Encoders;
  private readonly exit: (code: number) => void;
  private readonly admin: Admin;
  private readonly pings: PingEdge | null;
  private loading: Promise<void> = Promise.resolve();
  private lock: Promise<unknown> = Promise.resolve();
  /** READ_NOW pings decided, for the next transaction. */
  private pingCommands: Out[] = [];
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
  private polling = false;
  private lastEndPoll = 0;

  constructor(o: EdgeOptions) {
    const gate = new EventTimeGate<Source>({
      allowedLatenessMs: o.cfg.ALLOWED_LATENESS_MS,
      idleAdvanceMs: o.cfg.IDLE_ADVANCE_MS,
      idleAdvanceRate: o.cfg.IDLE_ADVANCE_RATE,
      confirmIdleWithEndOffsets: true,
      maxClockSkewMs: o.cfg.DETECTOR_MAX_CLOCK_SKEW_MS,
      futureConfirmMs: o.cfg.DETECTOR_FUTURE_CONFIRM_MS,
    });
    this.c = {
      cfg: o.cfg,
      rules: o.rules,
      topics: o.topics,
      logger: o.logger,
      stats: o.stats,
      metrics: o.metrics,
      st: newDetectorState(),
      sst: newSuspicionState(),
      gate,
      garduPartition: new Map(),
    };
    this.pending = new PendingRecords(this.c);
    this.repartition = new Repartition(this.c, this.pending);
    this.ingest = new Ingest(this.c, o.codec, o.meters, this.pending, this.repartition, o.pings);
    this.partitionState = new PartitionState(this.c, o.kafka, o.admin, this.pending, this.repartition);
    this.writer = o.writer;
    this.enc = o.encoders;
    this.exit = o.exit;
    this.admin = o.admin;
    this.pings = o.pings;
  }

  /** Scale-out: the inputs have `partitions` partitions (repartition.ts). */
  placeBy(partitions: number): void {
    this.repartition.placeBy(partitions);
  }

  /** New assignment: forget revoked partitions, start rebuilding the new ones. */
  assign(owned: number[], inputs: string[]): void {
    this.repartition.assigned();
    void this.locked(async () => {
      for (const p of this.partitionState.partitions())
        if (!owned.includes(p)) this.partitionState.drop(p, inputs);
      const fresh = owned.filter((p) => !this.partitionState.has(p));
      // Topics created a moment ago may not answer yet: retried up to the start-up deadline.
      if (fresh.length > 0)
        this.loading = retryKafkaStartup(
          'state and offsets of the assigned partitions',
          () => this.partitionState.load(fresh, inputs),
          { logger: this.c.logger },
        );
      await this.loading;
    });
  }

  async onBatch({ batch, isStale, heartbeat }: EachBatchPayload): Promise<void> {
    // A batch kafkajs fetched before the raw path took the topic over: the raw path loads it.
    if (this.rawTopics.has(batch.topic)) return;
    const offered = this.locked(async () => {
      await this.loading;
      if (!this.partitionState.has(batch.partition) || isStale()) return;
      this.c.metrics.observeBatch(
        batch.topic,
        batch.partition,
        batch.messages.length,
        batch.lastOffset(),
        batch.highWatermark,
      );
      const tp = `${batch.topic}:${batch.partition}`;
      const kind = batch.topic === this.c.topics.events ? 'event' : 'read';
      const now = Date.now();
      const repartitioned = batch.topic === this.repartition.topic;
      // Held inputs point into one copy of the batch's bytes, not at kafkajs' messages (RecordIndex).
      const ix = indexMessages(batch.messages);
      for (let i = 0; i < batch.messages.length; i++) {
        const k = repartitioned ? this.repartition.kindOf(tp, batch.partition, batch.messages[i]!) : kind;
        if (k === undefined) continue;
        // Inputs are counted once, where they were consumed first (a forwarded one was there).
        if (!repartitioned) this.c.stats.consumed++;
        // Synchronous unless the writer schema must be fetched first.
        const pending = this.ingest.offer(tp, k, batch.topic, batch.partition, ix, i, now);
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
      if (!this.partitionState.has(partition) || !this.rawTopics.has(topic)) return;
      // Fetched for a state of the partition that was dropped and loaded again since: not its continuation.
      if (this.c.gate.position(`${topic}:${partition}`) !== fetchOffset) return;
      this.c.metrics.observeBatch(
        topic,
        partition,
        ix.count,
        String(ix.nextOffset - 1),
        String(highWatermark),
      );
      const tp = `${topic}:${partition}`;
      const kind = topic === this.c.topics.events ? 'event' : 'read';
      const now = Date.now();
      for (let i = 0; i < ix.count; i++) {
        this.c.stats.consumed++;
        const pending = this.ingest.offer(tp, kind, topic, partition, ix, i, now);
        if (pending) await pending;
      }
      await this.consumed(tp, ix.nextOffset, highWatermark);
    });
    // kafkajs heartbeats for the group from its own fetch loop.
    await this.workOff(topic, async () => undefined);
  }

  /** Everything before `next` was offered: one step per STEP_INTERVAL_MS at most. */
  private async consumed(tp: string, next: number, highWatermark: number): Promise<void> {
    this.c.gate.consumedTo(tp, next);
    this.c.gate.setCaughtUp(tp, next >= highWatermark, Date.now());
    // Not one transaction per batch (kafkajs hands over one partition's batch at a time; a
    // transaction costs several broker round trips).
    if (Date.now() - this.lastStep >= STEP_INTERVAL_MS) await this.step();
    else this.due = true;
    if (this.c.gate.buffered > this.c.stats.peakBuffered) this.c.stats.peakBuffered = this.c.gate.buffered;
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
    while (this.c.gate.buffered > this.c.cfg.DETECTOR_MAX_BUFFERED && !this.stopped) {
      const now = Date.now();
      if (this.backlog || this.c.gate.canRelease(now)) await this.locked(() => this.step());
      else if (this.c.gate.waitsOnOtherTopic(topic, now, (other) => this.fetchedApart(topic, other)))
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
        const position = this.partitionState.has(p) ? this.c.gate.position(`${topic}:${p}`) : undefined;
        if (position !== undefined) at.set(p, position);
      }
      return at;
    });
  }

  /** The raw fetch of a partition restarts at `offset` (its position was out of range on the broker). */
  restartAt(topic: string, partition: number, offset: number): Promise<void> {
    return this.locked(async () => this.c.gate.reposition(`${topic}:${partition}`, offset));
  }

  /**
   * The raw fetch leaves a partition out while more than DETECTOR_MAX_BUFFERED inputs are held and
   * the partition is ahead of the input the watermark waits for: the laggards are fetched first.
   */
  holdsBack(topic: string, partition: number): boolean {
    return (
      this.c.gate.buffered > this.c.cfg.DETECTOR_MAX_BUFFERED &&
      this.c.gate.aheadOfWatermark(`${topic}:${partition}`, Date.now())
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
        this.c.gate.suspected > 0 ||
        this.c.gate.nextWatermark(Date.now()) > this.c.gate.watermark ||
        this.repartition.announcing(Date.now()) ||
        this.pings?.hasWork(Date.now()) === true
      )
        await this.step();
    });
  }

  /** Asks the broker for the inputs' end offsets when the gate needs them to call a partition idle. */
  private async pollEndOffsets(): Promise<void> {
    const now = Date.now();
    if (this.polling || now - this.lastEndPoll < END_POLL_MS || !this.c.gate.wantsEndOffsets(now)) return;
    this.polling = true;
    this.lastEndPoll = now;
    try {
      for (const topic of [this.c.topics.reads, this.c.topics.events]) {
        for (const p of await this.admin.fetchTopicOffsets(topic))
          this.c.gate.observeEnd(`${topic}:${p.partition}`, Number(p.high), now);
      }
    } catch (err) {
      // No answer, no idleness: the watermark waits for input or the next poll.
      this.c.logger.warn({ err }, "could not fetch the inputs' end offsets");
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

  /** No more steps (the service stops). */
  close(): void {
    this.stopped = true;
    this.ingest.close();
  }

  /** A step stopped at DETECTOR_STEP_LIMIT: the next one runs as soon as the event loop is free. */
  private continueSoon(): void {
    if (!this.backlog || this.continuing || this.stopped) return;
    this.continuing = true;
    setImmediate(() => {
      this.continuing = false;
      void this.tick().catch((err) => this.c.logger.error({ err }, 'backlog step failed'));
    });
  }

  /** Release what the watermark allows through the rules, then commit everything in one transaction. */
  private async step(): Promise<void> {
    const t0 = performance.now();
    this.lastStep = Date.now();
    this.due = false;
    this.ingest.expireSuspects(Date.now());
    const w = this.c.gate.nextWatermark(Date.now());
    const out: Emission[] = [];
    let applied = 0;
    const released = this.c.gate.release(
      w,
      (h) => {
        applied++;
        this.apply(h, out);
      },
      this.c.cfg.DETECTOR_STEP_LIMIT,
    );
    this.backlog =
      !released ||
      !advance(this.c.rules, this.c.st, this.c.gate.watermark, out, this.c.cfg.DETECTOR_STEP_LIMIT);
    if (Date.now() - this.lastPrune > 60_000 && Number.isFinite(w)) {
      pruneSeen(this.c.rules, this.c.st, w);
      this.lastPrune = Date.now();
    }
    const suspected = this.suspicions(out);
    const t1 = performance.now();
    const snapshots = this.partitionState.garduRecords();
    const t2 = performance.now();
    const offsets = this.partitionState.offsetsToCommit();
    const busy =
      out.length > 0 ||
      suspected.length > 0 ||
      this.pingCommands.length > 0 ||
      this.pending.size > 0 ||
      snapshots.length > 0 ||
      // Offsets that moved past watermark markers only go with the next transaction: committing them
      // alone would send markers, which move the other owners' offsets (a transaction every step).
      offsets.some((o) => o.topic !== this.repartition.topic);
    // After the step's forwards (pending) in each repartition partition.
    const markers = this.repartition.markers(busy, Date.now());
    if (!busy && markers.length === 0) {
      // At most the event-time meta moved (inputs buffered, the watermark on): no transaction for it
      // alone. It goes with the next one; meta and offsets are always committed together, so a
      // restart stays consistent (it replays from the committed offsets with the meta saved beside them).
      this.c.stats.released += applied;
      this.committedUpTo = this.c.gate.watermark;
      this.continueSoon();
      return;
    }
    const messages = [...this.pending.all(), ...snapshots, ...this.partitionState.metaRecords(), ...markers];
    const endTx = this.c.metrics.insertLatency.startTimer({ table: 'kafka-transaction' });
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
      this.c.logger.fatal({ err }, 'transaction failed; exiting so the state is rebuilt');
      this.exit(1);
      throw err;
    }
    endTx();
    if (this.c.cfg.DETECTOR_TRACE_STEPS)
      process.stderr.write(
        `${JSON.stringify({ step: Date.now(), mono: Number(process.hrtime.bigint() / 1000n), applied, out: out.length, snaps: snapshots.length, msgs: messages.length + out.length, held: this.c.gate.buffered, ...memoryMB(), rulesMs: Math.round(t1 - t0), snapMs: Math.round(t2 - t1), encodeMs: Math.round(t3 - t2), txMs: Math.round(performance.now() - t3) })}\n`,
      );
    this.c.stats.transactions++;
    this.c.stats.released += applied;
    for (const [topic, n] of countByTopic(messages, out, this.c.topics))
      this.c.metrics.produced.inc({ topic }, n);
    this.pending.clear();
    this.pingCommands = [];
    this.partitionState.committedTo(offsets);
    this.count(out);
    this.c.stats.suspected += suspected.length;
    if (suspected.length > 0)
      this.c.metrics.produced.inc({ topic: this.c.topics.suspectedOutages }, suspected.length);
    this.committedUpTo = this.c.gate.watermark;
    this.continueSoon();
  }

  private apply(h: Held<Source>, out: Emission[]): void {
    const source = h.value;
    const { topic, partition } = source;
    try {
      // The meter looked up at offer time, unless the meters table changed since.
      const known = source.version === this.c.rules.topo.version ? source.info : undefined;
      const gardu = applyInput(this.c.rules, this.c.st, source, out, known).garduId;
      if (this.c.garduPartition.get(gardu) !== partition) this.c.garduPartition.set(gardu, partition);
    } catch (err) {
      if (!(err instanceof BadRecordError)) throw err;
      this.pending.dead(topic, partition, source.from, source.i, err.reason, err.message);
    }
  }

  /** Encodes the step's outputs into the transaction (a status value is a transient view: copied by add). */
  private addOutputs(tx: StepTransaction, out: Emission[]): void {
    const now = Date.now();
    for (const e of out) {
      if (e.to === 'status') {
        const value = this.enc.encodeStatus(e.record);
        tx.add({ topic: this.c.topics.meterStatus, key: e.record.meter_id, value, transient: true });
        continue;
      }
      const record = { ...e.record, emitted_at: now };
      if (e.to === 'momentary')
        tx.add({
          topic: this.c.topics.momentary,
          key: record.outage_id,
          value: this.enc.encodeMomentary(record),
        });
      else
        tx.add({ topic: this.c.topics.outages, key: record.outage_id, value: this.enc.encodeOutage(record) });
    }
  }

  /**
   * The suspected-outages records of the step: suspicions on arrival, then those the rules' records
   * (`out`) and state settle (CONFIRMED or CANCELLED) as of the watermark.
   */
  private suspicions(out: Emission[]): SuspicionRecord[] {
    const records: SuspicionRecord[] = [];
    publishArrivals(this.c.rules, this.c.sst, this.c.st, records);
    settleByRecords(this.c.rules, this.c.sst, this.c.st, out, records);
    if (this.c.sst.gardus.size > 0)
      sweep(this.c.rules, this.c.sst, this.c.st, this.c.gate.watermark, records);
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
    pings.restore(this.c.st, now);
    const { commands, updates, silences, nested } = pings.take(now);
    pings.record(this.c.st, silences, this.c.gate.watermark);
    for (const n of nested) suspectNested(this.c.rules, this.c.sst, n, records);
    for (const u of updates)
      applyPings(this.c.rules, this.c.sst, u.garduId!, u.outageId, u.sent, u.outcomes, records, u.verdict);
    for (const c of commands) this.pingCommands.push(c);
  }

  private addSuspected(tx: StepTransaction, records: SuspicionRecord[]): void {
    const now = Date.now();
    for (const r of records)
      tx.add({
        topic: this.c.topics.suspectedOutages,
        key: r.outage_id,
        value: this.enc.encodeSuspected({ ...r, emitted_at: now }),
      });
  }

  private count(out: Emission[]): void {
    for (const e of out) {
      if (e.to === 'outages') {
        if (e.record.status === 'RESTORED') this.open.delete(e.record.outage_id);
        else this.open.set(e.record.outage_id, e.record.scope);
        this.c.logger.info(
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
      if (e.to === 'outages') this.c.stats.outages++;
      else if (e.to === 'momentary') this.c.stats.momentary++;
      else this.c.stats.statuses++;
    }
    for (const scope of ['METER', 'GARDU', 'FEEDER'] as const)
      this.c.metrics.openOutages.set({ scope }, [...this.open.values()].filter((s) => s === scope).length);
  }
}

function countByTopic(messages: readonly Out[], out: Emission[], topics: Topics): Map<string, number> {
  const n = new Map<string, number>();
  for (const m of messages) n.set(m.topic, (n.get(m.topic) ?? 0) + 1);
  for (const e of out) {
    const topic =
      e.to === 'status' ? topics.meterStatus : e.to === 'momentary' ? topics.momentary : topics.outages;
    n.set(topic, (n.get(topic) ?? 0) + 1);
  }
  return n;
}

/** The process's memory for the step trace: where RSS beyond the heap goes (buffers, V8's reserve). */
function memoryMB(): Record<string, number> {
  const m = process.memoryUsage();
  const mb = (n: number) => Math.round(n / 1e6);
  return {
    rssMB: mb(m.rss),
    heapMB: mb(m.heapUsed),
    heapTotalMB: mb(m.heapTotal),
    externalMB: mb(m.external),
    buffersMB: mb(m.arrayBuffers),
  };
}
