import { Partitioners, type Kafka, type Message, type PartitionMetadata, type Producer } from 'kafkajs';
import type avro from 'avsc';
import {
  AvroCodec,
  avroType,
  ensureTopics,
  inputPartition,
  topicNames,
  type Logger,
  type MeterEvent,
  type MeterProfile,
  type MeterRead,
  type Topics,
} from '@ami/lib';
import { BATCH_BYTES, encodeFramed, openWireProducer, WireSends } from '@ami/simulator/publisher';
import { subjectOf } from '@ami/simulator/schemas';
import type { WireProducer } from '@ami/lib';
import { DistinctReads } from './distinct.js';
import { Pacer, type Pace } from './pace.js';
import { readRecording, type Manifest } from './recording.js';

/**
 * Replays a recording into Kafka: reads to `<prefix>.reads`, events to
 * `<prefix>.events`, key = gardu_id (so one gardu, and therefore each meter,
 * stays in one partition in recorded order), values encoded with the
 * registered schema ids on the synchronous AvroCodec encoder path.
 *
 * One idempotent producer (acks = all), placement by the murmur2 partitioner
 * (kafkajs' default, the placement any client picks for the key):
 *
 * - the simulator's `WireProducer` (default, SASL/TLS as configured): each chunk is encoded
 *   in place straight into one record batch per topic-partition (`WireSends`,
 *   a batch goes as soon as it is 256 KB, the rest when the chunk is
 *   complete); the producer sends each partition's batches strictly in order,
 *   so up to `depth` chunks may be unacknowledged at once and every key's order
 *   still holds;
 * - kafkajs with `client: 'kafkajs'` (or no `cfg`): kafkajs groups a
 *   request's messages per partition by copying arrays (quadratic), so a chunk
 *   is split here by partition into requests of at most `request` messages;
 *   partitions go concurrently, each partition's requests strictly in order;
 *   one chunk in flight (the next one is encoded meanwhile).
 *
 * Acknowledgements are accounted in chunk order. Event time is never touched:
 * pacing only decides when a delivery is handed to Kafka (before it is encoded).
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
  /** Wall ms the replay was blocked waiting for Kafka acknowledgements (vs reading, encoding, pacing). */
  sendWaitMs: number;
  /** The producer used: the simulator's wire producer or kafkajs. */
  client: 'wire' | 'kafkajs';
  stoppedEarly?: string;
  /** The pacer's origin (first delivery time, and the wall time it was due); unset when nothing was sent. */
  paceOrigin?: { at: number; wall: number };
}

export interface ReplayOptions {
  kafka: Kafka;
  /** Kafka settings for the wire producer (SASL/TLS included); without them kafkajs is used. */
  cfg?: Parameters<typeof openWireProducer>[0];
  /** `wire` (default when `cfg` allows it) or `kafkajs`. */
  client?: 'wire' | 'kafkajs';
  /** Chunks handed to the wire producer before the oldest is acknowledged (default 3; kafkajs: 1). */
  depth?: number;
  codec: AvroCodec;
  prefix: string;
  recording: string;
  manifest: Manifest;
  pace: Pace;
  /** Messages per chunk (reads + events) handed to Kafka at once. */
  chunk?: number;
  /** Messages per produce request (per partition; kafkajs only). */
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

/** A chunk encoded and ready to go: `flush` hands it to Kafka and resolves when all of it is acknowledged. */
interface Built {
  flush: () => Promise<void>;
  eventBytes: number;
  readBytes: number;
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
  /** Each published profile's gardu -> its feeder: reads and events are placed by feeder (contract, "Placement"). */
  private readonly feederOf = new Map<string, string>();
  /** Gardu keys per topic: partition and key bytes computed once. */
  private readonly keys = new Map<string, Map<string, { partition: number; bytes: Buffer }>>();
  /** The fast path: wire producer, avsc types and schema ids per topic, scratch buffer. */
  private wire?: WireProducer;
  private readonly enc = new Map<string, { type: avro.Type; id: number }>();
  private scratch: Buffer = Buffer.allocUnsafe(4096);

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
    const { codec, prefix, cfg } = this.o;
    const ids = {
      MeterRead: await codec.register('MeterRead', subjectOf(prefix, 'MeterRead')),
      MeterEvent: await codec.register('MeterEvent', subjectOf(prefix, 'MeterEvent')),
      MeterProfile: await codec.register('MeterProfile', subjectOf(prefix, 'MeterProfile')),
    };
    this.encRead = codec.encoder('MeterRead', ids.MeterRead);
    this.encEvent = codec.encoder('MeterEvent', ids.MeterEvent);
    this.encProfile = codec.encoder('MeterProfile', ids.MeterProfile);
    if (cfg && (this.o.client ?? 'wire') === 'wire') {
      const t = this.topics;
      this.enc.set(t.reads, { type: avroType('MeterRead'), id: ids.MeterRead });
      this.enc.set(t.events, { type: avroType('MeterEvent'), id: ids.MeterEvent });
      this.enc.set(t.meters, { type: avroType('MeterProfile'), id: ids.MeterProfile });
      this.wire = await openWireProducer(cfg, [t.reads, t.events, t.meters]);
      return;
    }
    await this.producer.connect();
  }

  /** Which producer the replay uses (after `start`). */
  get client(): 'wire' | 'kafkajs' {
    return this.wire ? 'wire' : 'kafkajs';
  }

  /** Chunks that may be unacknowledged at once with every key's order kept. */
  private get depth(): number {
    return this.wire ? Math.max(1, this.o.depth ?? 3) : 1;
  }

  /** Wire path: encodes `value` in place and adds it to the chunk's batches; returns key + value bytes. */
  private addWire(
    sends: WireSends,
    topic: string,
    key: { partition: number; bytes: Buffer },
    value: unknown,
  ): number {
    const { type, id } = this.enc.get(topic)!;
    const { buf, len } = encodeFramed(type, id, value, this.scratch);
    this.scratch = buf;
    sends.add(topic, key.partition, key.bytes, len, buf);
    return len + key.bytes.length;
  }

  /** Topology first (`<prefix>.meters`, key meter_id): the detector and loader need it. */
  async publishProfiles(profiles: Iterable<MeterProfile>, chunk = 20_000): Promise<number> {
    if (this.wire) return this.publishProfilesWire(profiles, chunk);
    let messages: Message[] = [];
    let n = 0;
    const topic = this.topics.meters;
    for (const p of profiles) {
      this.feederOf.set(p.gardu_id, p.feeder_id);
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

  /** Rounds of `chunk` profiles, each acknowledged before the next is encoded (topology is small). */
  private async publishProfilesWire(profiles: Iterable<MeterProfile>, chunk: number): Promise<number> {
    const topic = this.topics.meters;
    let sends = new WireSends(this.wire!);
    let n = 0;
    for (const p of profiles) {
      this.feederOf.set(p.gardu_id, p.feeder_id);
      const key = { partition: this.partitionOf(topic, p.meter_id), bytes: Buffer.from(p.meter_id) };
      this.addWire(sends, topic, key, p);
      if (++n % chunk === 0) {
        await sends.flush();
        sends = new WireSends(this.wire!);
      }
    }
    await sends.flush();
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
    let byKey = this.keys.get(topic);
    if (!byKey) this.keys.set(topic, (byKey = new Map()));
    let g = byKey.get(key);
    if (!g) {
      const partitions = this.metadata.get(topic)!.length;
      const partition = inputPartition({ garduId: key, feederId: this.feederOf.get(key) }, partitions);
      byKey.set(key, (g = { partition, bytes: Buffer.from(key) }));
    }
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

  /** One chunk for the wire producer: events first, then reads, one record batch per topic-partition. */
  private buildWire(events: MeterEvent[], reads: MeterRead[]): Built {
    const n = events.length + reads.length;
    const sends = new WireSends(this.wire!, Math.min(BATCH_BYTES + 16 * 1024, 1024 + n * 128));
    const t = this.topics;
    let eventBytes = 0;
    let readBytes = 0;
    for (const e of events)
      eventBytes += this.addWire(sends, t.events, this.placement(t.events, e.gardu_id), e);
    for (const r of reads) readBytes += this.addWire(sends, t.reads, this.placement(t.reads, r.gardu_id), r);
    return { flush: () => sends.flush(), eventBytes, readBytes };
  }

  /** One chunk for kafkajs: messages with their partition, sent by `sendKeyed`. */
  private buildKafkajs(events: MeterEvent[], reads: MeterRead[]): Built {
    const t = this.topics;
    let eventBytes = 0;
    let readBytes = 0;
    const eventMsgs: Message[] = events.map((e) => {
      const value = this.encEvent(e);
      const k = this.placement(t.events, e.gardu_id);
      eventBytes += value.length + k.bytes.length;
      return { key: k.bytes, value, partition: k.partition };
    });
    const readMsgs: Message[] = new Array(reads.length);
    for (let i = 0; i < reads.length; i++) {
      const r = reads[i]!;
      const value = this.encRead(r);
      const k = this.placement(t.reads, r.gardu_id);
      readBytes += value.length + k.bytes.length;
      readMsgs[i] = { key: k.bytes, value, partition: k.partition };
    }
    // Events first: a last gasp should not queue behind a chunk of reads of the same delivery.
    const topicMessages: { topic: string; messages: Message[] }[] = [];
    if (eventMsgs.length > 0) topicMessages.push({ topic: t.events, messages: eventMsgs });
    if (readMsgs.length > 0) topicMessages.push({ topic: t.reads, messages: readMsgs });
    return { flush: () => this.sendKeyed(topicMessages), eventBytes, readBytes };
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
      client: this.client,
    };
    let readBytes = 0;
    let maxAt = Number.NEGATIVE_INFINITY;
    let nextMarkerAt = 0;
    /** Records handed to the producer (acknowledged or not). */
    let handed = 0;
    /** Chunks handed to Kafka, oldest first; each settles after its acknowledgement was accounted. */
    const pending: Promise<void>[] = [];
    let accounted: Promise<void> = Promise.resolve();

    /** Hands a built chunk to Kafka; its acknowledgement is accounted after every earlier chunk's. */
    const send = (
      flush: () => Promise<void>,
      counts: { reads: number; events: number; bytes: number },
      gasps: [string, number][],
      marker: Omit<Marker, 'sentAt' | 'ackedAt'> | undefined,
      at: number,
    ): Promise<void> => {
      const sentAt = Date.now();
      const acked = flush().then(() => Date.now());
      const previous = accounted;
      const p = (async () => {
        const ackedAt = await acked;
        await previous;
        stats.sends++;
        stats.reads += counts.reads;
        stats.events += counts.events;
        stats.bytes += counts.bytes;
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
          wall: Math.max(ackedAt, stats.timeline.at(-1)?.wall ?? 0),
          at: maxAt,
          reads: stats.reads,
          events: stats.events,
          bytes: stats.bytes,
        };
        stats.timeline.push(point);
        onSent?.(stats, point);
      })();
      p.catch(() => undefined); // awaited in order below; this only keeps it from being "unhandled" meanwhile
      accounted = p;
      return p;
    };

    let failure: { err: unknown } | undefined;
    try {
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
          if (this.o.maxRecords !== undefined && handed >= this.o.maxRecords) {
            this.stop(`max records (${this.o.maxRecords}) reached`);
            break outer;
          }
          const evs = first ? d.events : [];
          const reads = d.reads.slice(ri, ri + Math.max(1, chunkSize - evs.length));
          ri += reads.length;
          first = false;
          let marker: Omit<Marker, 'sentAt' | 'ackedAt'> | undefined;
          const now = Date.now();
          if (reads.length > 0 && now >= nextMarkerAt) {
            const r = reads[Math.floor(reads.length / 2)]!;
            marker = { meter_id: r.meter_id, read_at: r.read_at };
            nextMarkerAt = now + markerEvery;
          }
          // Paced before encoding: the wire path may send a full batch while the chunk is being built.
          await pacer.until(d.at, reads.length + evs.length);
          const gasps: [string, number][] = [];
          for (const e of evs) if (e.type === 'LAST_GASP') gasps.push([e.gardu_id, e.occurred_at]);
          for (const r of reads) distinct.add(r.meter_id, r.read_at, r.kind, r.energy_import_wh);
          // Encoded while earlier chunks are in flight (the wire producer queues each partition's batches in order).
          const built = this.wire ? this.buildWire(evs, reads) : this.buildKafkajs(evs, reads);
          readBytes += built.readBytes;
          handed += reads.length + evs.length;
          if (pending.length >= this.depth) {
            const t0 = Date.now();
            while (pending.length >= this.depth) await pending.shift();
            stats.sendWaitMs += Date.now() - t0;
          }
          pending.push(
            send(
              built.flush,
              { reads: reads.length, events: evs.length, bytes: built.readBytes + built.eventBytes },
              gasps,
              marker,
              d.at,
            ),
          );
        }
      }
    } catch (err) {
      failure = { err };
    }
    // Every chunk handed over is acknowledged (or failed) before the replay returns or throws.
    const t0 = Date.now();
    const settled = await Promise.allSettled(pending);
    stats.sendWaitMs += Date.now() - t0;
    if (failure) throw failure.err;
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    stats.endedAt = Date.now();
    stats.distinctReads = distinct.distinct;
    stats.sumReadAt = distinct.sumReadAt;
    stats.sumEnergy = distinct.sumEnergy;
    stats.meanReadBytes = stats.reads > 0 ? readBytes / distinct.total : 0;
    stats.stoppedEarly = this.stopping;
    stats.paceOrigin = pacer.origin;
    return stats;
  }

  async close(): Promise<void> {
    if (this.wire) await this.wire.close();
    else await this.producer.disconnect();
  }
}
