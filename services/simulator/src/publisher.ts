import { Partitioners, type Kafka, type Producer, type Message, type PartitionMetadata } from 'kafkajs';
import { AvroCodec, ensureTopics, topicNames, type CommonConfig, type MeterEvent, type MeterProfile, type MeterRead, type Topics } from '@ami/lib';
import type { Fleet } from './fleet.js';
import { subjectOf } from './schemas.js';
import type { Batch } from './simulation.js';

/** Messages per produce request and partition: kafkajs groups messages per partition in O(n^2). */
const CHUNK = 1000;

/**
 * The thin Kafka edge of the simulator: encodes with the registered schema
 * ids (synchronous avsc fast path) and produces with acks=-1 on an idempotent
 * producer. Every send is awaited.
 *
 * Speed: kafkajs groups a request's messages per partition by copying arrays
 * (quadratic in messages per partition), so a batch is split here by
 * partition (the default murmur2 partitioner, computed once per gardu key,
 * so the placement is what any client would choose) into requests of CHUNK
 * messages; partitions are sent concurrently, each partition's requests in
 * order, so every meter's records keep their order.
 */
export class Publisher {
  readonly topics: Topics;
  private readonly producer: Producer;
  private encRead?: (v: MeterRead) => Buffer;
  private encEvent?: (v: MeterEvent) => Buffer;
  private encProfile?: (v: MeterProfile) => Buffer;

  constructor(
    private readonly kafka: Kafka,
    private readonly cfg: CommonConfig,
    private readonly codec: AvroCodec,
    private readonly partitions = 6,
  ) {
    this.topics = topicNames(cfg.AMI_TOPIC_PREFIX);
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false });
  }

  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly partitionCache = new Map<string, number>();
  private readonly keyCache = new Map<string, Buffer>();
  private partitionMeta: PartitionMetadata[] = [];

  /** Partition of a gardu key on ami.reads / ami.events (same partition count). */
  private partitionOf(key: string): number {
    let p = this.partitionCache.get(key);
    if (p === undefined) {
      p = this.partitioner({ topic: this.topics.reads, partitionMetadata: this.partitionMeta, message: { key, value: null } });
      this.partitionCache.set(key, p);
      this.keyCache.set(key, Buffer.from(key));
    }
    return p;
  }

  async start(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, this.cfg.AMI_TOPIC_PREFIX, { partitions: this.partitions });
      const meta = await admin.fetchTopicMetadata({ topics: [this.topics.reads, this.topics.events] });
      const [reads, events] = meta.topics.map((t) => t.partitions.length);
      if (reads !== events) throw new Error(`${this.topics.reads} has ${reads} partitions but ${this.topics.events} has ${events}: gardu keys would not share partitions`);
      this.partitionMeta = meta.topics[0]!.partitions;
    } finally {
      await admin.disconnect();
    }
    const prefix = this.cfg.AMI_TOPIC_PREFIX;
    this.encRead = this.codec.encoder('MeterRead', await this.codec.register('MeterRead', subjectOf(prefix, 'MeterRead')));
    this.encEvent = this.codec.encoder('MeterEvent', await this.codec.register('MeterEvent', subjectOf(prefix, 'MeterEvent')));
    this.encProfile = this.codec.encoder('MeterProfile', await this.codec.register('MeterProfile', subjectOf(prefix, 'MeterProfile')));
    await this.producer.connect();
  }

  /** ami.meters (compacted, key meter_id) in chunks; call before any traffic. */
  async publishFleet(fleet: Fleet): Promise<number> {
    let messages: Message[] = [];
    for (const p of fleet.profiles()) {
      messages.push({ key: p.meter_id, value: this.encProfile!(p) });
      // Unkeyed partitioning is by murmur2 of meter_id: small requests keep kafkajs' grouping cheap.
      if (messages.length >= CHUNK * 2) {
        await this.send([{ topic: this.topics.meters, messages }]);
        messages = [];
      }
    }
    if (messages.length > 0) await this.send([{ topic: this.topics.meters, messages }]);
    return fleet.size;
  }

  /** Reads and events of one batch, keyed by gardu_id. */
  async publishBatch(batch: Pick<Batch, 'reads' | 'events'>): Promise<void> {
    const byPartition = new Map<number, { events: Message[]; reads: Message[] }>();
    const slot = (key: string) => {
      const p = this.partitionOf(key);
      let s = byPartition.get(p);
      if (!s) byPartition.set(p, (s = { events: [], reads: [] }));
      return { s, partition: p, key: this.keyCache.get(key)! };
    };
    for (const e of batch.events) {
      const { s, partition, key } = slot(e.gardu_id);
      s.events.push({ key, value: this.encEvent!(e), partition });
    }
    for (const r of batch.reads) {
      const { s, partition, key } = slot(r.gardu_id);
      s.reads.push({ key, value: this.encRead!(r), partition });
    }
    await Promise.all([...byPartition.values()].map((s) => this.sendPartition(s.events, s.reads)));
  }

  /** One partition's events then reads, in requests of CHUNK messages, in order. */
  private async sendPartition(events: Message[], reads: Message[]): Promise<void> {
    for (let i = 0; i < events.length; i += CHUNK) await this.send([{ topic: this.topics.events, messages: events.slice(i, i + CHUNK) }]);
    for (let i = 0; i < reads.length; i += CHUNK) await this.send([{ topic: this.topics.reads, messages: reads.slice(i, i + CHUNK) }]);
  }

  private async send(topicMessages: { topic: string; messages: Message[] }[]): Promise<void> {
    await this.producer.sendBatch({ topicMessages, acks: -1 });
  }

  async stop(): Promise<void> {
    await this.producer.disconnect();
  }
}
