import { Partitioners, type Kafka, type Message, type PartitionMetadata, type Producer } from 'kafkajs';
import {
  AvroCodec,
  ensureTopics,
  topicNames,
  type Logger,
  type MeterEvent,
  type MeterProfile,
  type MeterRead,
  type Topics,
} from '@ami/lib';
import { subjectOf } from '../../services/simulator/src/schemas.js';
import { DistinctReads } from './distinct.js';
import { Pacer, type Pace } from './pace.js';
import { readRecording, type Manifest } from './recording.js';

/**
 * Replays a recording into Kafka: reads to `<prefix>.reads`, events to
 * `<prefix>.events`, key = gardu_id (so one gardu, and therefore each meter,
 * stays in one partition in recorded order), values encoded with the
 * registered schema ids on the synchronous AvroCodec encoder path.
 *
 * One idempotent producer (acks = all). kafkajs groups a request's messages
 * per partition by copying arrays (quadratic), so a chunk is split here by
 * partition (kafkajs' default murmur2 partitioner, the placement any client
 * picks for the key) into requests of at most `request` messages; partitions
 * go concurrently (up to 5 requests in flight on the connection), each
 * partition's requests strictly in order, so per-partition sequence numbers and
 * every key's order hold. Every send is awaited before the next chunk goes;
 * the next chunk is encoded while the previous one is in flight. Event time
 * is never touched: pacing only decides when a delivery is handed to Kafka.
 */

export interface Marker {
  meter_id: string;
  read_at: number;
  /** Wall ms just before the send that carried it, and when Kafka acknowledged it. */
  sentAt: number;
  ackedAt: number;
}

/** First produce (wall) of each last gasp, per gardu, for the last gasp → outage latency. */
export interface GaspRecord {
  occurredAt: number;
  sentAt: number;
}

export interface TimelinePoint {
  /** Wall ms when the send was acknowledged. */
  wall: number;
  /** Highest delivery time (`at`) sent so far. */
  at: number;
  reads: number;
  events: number;
  bytes: number;
}

export interface ReplayStats {
  reads: number;
  events: number;
  lastGasps: number;
  /** Bytes of keys and values produced. */
  bytes: number;
  sends: number;
  startedAt: number;
  endedAt: number;
  /** Distinct (meter_id, read_at) among the replayed reads. */
  distinctReads: number;
  /** Checksums of the distinct reads (see correctness.ts). */
  sumReadAt: number;
  sumEnergy: number;
  /** Mean encoded read (key + framed value), bytes. */
  meanReadBytes: number;
  timeline: TimelinePoint[];
  markers: Marker[];
  gasps: Map<string, GaspRecord[]>;
  /** Wall ms spent waiting for Kafka acknowledgements vs encoding/reading. */
  sendWaitMs: number;
  stoppedEarly?: string;
}

export interface ReplayOptions {
  kafka: Kafka;
  codec: AvroCodec;
  prefix: string;
  recording: string;
  manifest: Manifest;
  pace: Pace;
  /** Messages per chunk (reads + events) handed to Kafka at once. */
  chunk?: number;
  /** Messages per produce request (per partition). */
  request?: number;
  partitions?: number;
  /** One latency marker read every this many ms of wall time. */
  markerEveryMs?: number;
  /** Stop after this many records or this wall time (bounded runs). */
  maxRecords?: number;
  deadline?: number;
  logger?: Logger;
  onSent?: (stats: ReplayStats, last: TimelinePoint) => void;
  /** Called when a marker was acknowledged (the sampler starts polling for it). */
  onMarker?: (m: Marker) => void;
}

export class Replayer {
  readonly topics: Topics;
  private readonly producer: Producer;
  private encRead!: (v: MeterRead) => Buffer;
  private encEvent!: (v: MeterEvent) => Buffer;
  private encProfile!: (v: MeterProfile) => Buffer;
  private stopping?: string;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly metadata = new Map<string, PartitionMetadata[]>();
  /** Gardu keys: partition and key bytes computed once. */
  private readonly keys = new Map<string, { partition: number; bytes: Buffer }>();

  constructor(private readonly o: ReplayOptions) {
    this.topics = topicNames(o.prefix);
    this.producer = o.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 5,
      allowAutoTopicCreation: false,
    });
  }

  /** Topics, schemas and the producer connection. */
  async start(): Promise<void> {
    const admin = this.o.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, this.o.prefix, { partitions: this.o.partitions ?? 6 });
      const { topics } = await admin.fetchTopicMetadata({
        topics: [this.topics.reads, this.topics.events, this.topics.meters],
      });
      for (const t of topics) this.metadata.set(t.name, t.partitions);
    } finally {
      await admin.disconnect();
    }
    const { codec, prefix } = this.o;
    this.encRead = codec.encoder(
      'MeterRead',
      await codec.register('MeterRead', subjectOf(prefix, 'MeterRead')),
    );
    this.encEvent = codec.encoder(
      'MeterEvent',
      await codec.register('MeterEvent', subjectOf(prefix, 'MeterEvent')),
    );
    this.encProfile = codec.encoder(
      'MeterProfile',
      await codec.register('MeterProfile', subjectOf(prefix, 'MeterProfile')),
    );
    await this.producer.connect();
  }

  /** Topology first (`<prefix>.meters`, key meter_id): the detector and loader need it. */
  async publishProfiles(profiles: Iterable<MeterProfile>, chunk = 20_000): Promise<number> {
    let messages: Message[] = [];
    let n = 0;
    const topic = this.topics.meters;
    for (const p of profiles) {
      messages.push({
        key: p.meter_id,
        value: this.encProfile(p),
        partition: this.partitionOf(topic, p.meter_id),
      });
      n++;
      if (messages.length >= chunk) {
        await this.sendKeyed([{ topic, messages }]);
        messages = [];
      }
    }
    await this.sendKeyed([{ topic, messages }]);
    return n;
  }

  private partitionOf(topic: string, key: string): number {
    return this.partitioner({
      topic,
      partitionMetadata: this.metadata.get(topic)!,
      message: { key, value: null },
    });
  }

  /** Gardu key → partition and key bytes (reads and events have the same partition count). */
  private placement(topic: string, key: string): { partition: number; bytes: Buffer } {
    const cacheKey = `${topic}\u0000${key}`;
    let g = this.keys.get(cacheKey);
    if (!g)
      this.keys.set(cacheKey, (g = { partition: this.partitionOf(topic, key), bytes: Buffer.from(key) }));
    return g;
  }

  /** Messages carry their partition: group per partition (order kept), partitions concurrently, each in order. */
  private async sendKeyed(topicMessages: { topic: string; messages: Message[] }[]): Promise<void> {
    const request = this.o.request ?? 2000;
    const byPartition = new Map<number, { topic: string; messages: Message[] }[]>();
    for (const { topic, messages } of topicMessages) {
      const lists = new Map<number, Message[]>();
      for (const m of messages) {
        let list = lists.get(m.partition!);
        if (!list) lists.set(m.partition!, (list = []));
        list.push(m);
      }
      for (const [p, list] of lists) {
        let entries = byPartition.get(p);
        if (!entries) byPartition.set(p, (entries = []));
        entries.push({ topic, messages: list });
      }
    }
    await Promise.all(
      [...byPartition.values()].map(async (entries) => {
        for (const { topic, messages } of entries) {
          for (let i = 0; i < messages.length; i += request) {
            await this.producer.sendBatch({
              topicMessages: [{ topic, messages: messages.slice(i, i + request) }],
              acks: -1,
            });
          }
        }
      }),
    );
  }

  /** Ask a running replay to stop after the send in flight. */
  stop(reason: string): void {
    this.stopping ??= reason;
  }

  async replay(hooks: Pick<ReplayOptions, 'onSent' | 'onMarker'> = {}): Promise<ReplayStats> {
    const onSent = hooks.onSent ?? this.o.onSent;
    const onMarker = hooks.onMarker ?? this.o.onMarker;
    const { manifest } = this.o;
    const chunkSize = this.o.chunk ?? 20_000;
    const markerEvery = this.o.markerEveryMs ?? 1000;
    const pacer = new Pacer(this.o.pace);
    const distinct = new DistinctReads(
      manifest.meters ?? 0,
      manifest.startMs,
      manifest.endMs,
      (manifest.intervalS ?? 900) * 1000,
    );
    const stats: ReplayStats = {
      reads: 0,
      events: 0,
      lastGasps: 0,
      bytes: 0,
      sends: 0,
      startedAt: Date.now(),
      endedAt: 0,
      distinctReads: 0,
      sumReadAt: 0,
      sumEnergy: 0,
      meanReadBytes: 0,
      timeline: [],
      markers: [],
      gasps: new Map(),
      sendWaitMs: 0,
    };
    let readBytes = 0;
    let maxAt = Number.NEGATIVE_INFINITY;
    let nextMarkerAt = 0;
    let inFlight: Promise<void> = Promise.resolve();
    const topics = this.topics;

    const send = async (
      reads: Message[],
      events: Message[],
      gasps: [string, number][],
      marker: Omit<Marker, 'sentAt' | 'ackedAt'> | undefined,
      at: number,
      bytes: number,
    ): Promise<void> => {
      const topicMessages = [];
      // Events first: a last gasp should not queue behind a chunk of reads of the same delivery.
      if (events.length > 0) topicMessages.push({ topic: topics.events, messages: events });
      if (reads.length > 0) topicMessages.push({ topic: topics.reads, messages: reads });
      const sentAt = Date.now();
      await this.sendKeyed(topicMessages);
      const ackedAt = Date.now();
      stats.sendWaitMs += ackedAt - sentAt;
      stats.sends++;
      stats.reads += reads.length;
      stats.events += events.length;
      stats.bytes += bytes;
      for (const [gardu, occurredAt] of gasps) {
        let list = stats.gasps.get(gardu);
        if (!list) stats.gasps.set(gardu, (list = []));
        list.push({ occurredAt, sentAt });
      }
      stats.lastGasps += gasps.length;
      if (marker) {
        const m = { ...marker, sentAt, ackedAt };
        stats.markers.push(m);
        onMarker?.(m);
      }
      maxAt = Math.max(maxAt, at);
      const point = {
        wall: ackedAt,
        at: maxAt,
        reads: stats.reads,
        events: stats.events,
        bytes: stats.bytes,
      };
      stats.timeline.push(point);
      onSent?.(stats, point);
    };

    outer: for await (const d of readRecording(this.o.recording)) {
      // A delivery is split into chunks of at most `chunkSize` messages; events go with the first chunk.
      let ri = 0;
      let first = true;
      while (first || ri < d.reads.length) {
        if (this.stopping) break outer;
        if (this.o.deadline !== undefined && Date.now() > this.o.deadline) {
          this.stop('deadline reached');
          break outer;
        }
        if (this.o.maxRecords !== undefined && stats.reads + stats.events >= this.o.maxRecords) {
          this.stop(`max records (${this.o.maxRecords}) reached`);
          break outer;
        }
        const evs = first ? d.events : [];
        const reads = d.reads.slice(ri, ri + Math.max(1, chunkSize - evs.length));
        ri += reads.length;
        first = false;
        let bytes = 0;
        const gasps: [string, number][] = [];
        const eventMsgs: Message[] = evs.map((e) => {
          const value = this.encEvent(e);
          bytes += value.length + e.gardu_id.length;
          if (e.type === 'LAST_GASP') gasps.push([e.gardu_id, e.occurred_at]);
          const k = this.placement(topics.events, e.gardu_id);
          return { key: k.bytes, value, partition: k.partition };
        });
        const readMsgs: Message[] = new Array(reads.length);
        let rb = 0;
        for (let i = 0; i < reads.length; i++) {
          const r = reads[i]!;
          const value = this.encRead(r);
          rb += value.length + r.gardu_id.length;
          const k = this.placement(topics.reads, r.gardu_id);
          readMsgs[i] = { key: k.bytes, value, partition: k.partition };
          distinct.add(r.meter_id, r.read_at, r.kind, r.energy_import_wh);
        }
        bytes += rb;
        readBytes += rb;
        let marker: Omit<Marker, 'sentAt' | 'ackedAt'> | undefined;
        const now = Date.now();
        if (reads.length > 0 && now >= nextMarkerAt) {
          const r = reads[Math.floor(reads.length / 2)]!;
          marker = { meter_id: r.meter_id, read_at: r.read_at };
          nextMarkerAt = now + markerEvery;
        }
        await pacer.until(d.at, readMsgs.length + eventMsgs.length);
        await inFlight;
        const p = send(readMsgs, eventMsgs, gasps, marker, d.at, bytes);
        p.catch(() => undefined); // awaited before the next send; this only keeps it from being "unhandled" meanwhile
        inFlight = p;
      }
    }
    await inFlight;
    stats.endedAt = Date.now();
    stats.distinctReads = distinct.distinct;
    stats.sumReadAt = distinct.sumReadAt;
    stats.sumEnergy = distinct.sumEnergy;
    stats.meanReadBytes = stats.reads > 0 ? readBytes / distinct.total : 0;
    stats.stoppedEarly = this.stopping;
    return stats;
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}
