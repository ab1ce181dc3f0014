import { Partitioners, type Kafka, type Message, type PartitionMetadata, type Producer } from 'kafkajs';
import {
  AvroCodec,
  ensureTopics,
  isRetriable,
  topicNames,
  type CommonConfig,
  type MeterEvent,
  type MeterProfile,
  type MeterRead,
  type Topics,
} from '@ami/lib';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Fleet } from './fleet.js';
import { subjectOf } from './schemas.js';
import type { Batch } from './simulation.js';

/** Messages per produce request: kafkajs groups a request's messages per partition in O(n^2). */
const CHUNK = 1000;
/** Profiles encoded per round when publishing the fleet. */
const FLEET_ROUND = 24_000;

/** Retry a call that failed with a retriable (kafkajs) error, a few times with a growing pause. */
async function retrying<T>(fn: () => Promise<T>, attempts = 8): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !isRetriable(err)) throw err;
      await sleep(200 * i);
    }
  }
}

interface Outgoing {
  topic: string;
  key: string;
  value: Buffer;
}

/**
 * The thin Kafka edge of the simulator: encodes with the registered schema
 * ids (synchronous avsc fast path) and produces with acks=-1 on an idempotent
 * producer. Every send is awaited.
 *
 * Speed: kafkajs groups a request's messages per partition by copying arrays
 * (quadratic in messages per partition), so records are split here by
 * partition (kafkajs' default murmur2 partitioner: the placement any client
 * would choose for the key) into requests of CHUNK messages. Partitions are
 * sent concurrently, each partition's requests in order, so every key's
 * records keep their order.
 */
export class Publisher {
  readonly topics: Topics;
  private readonly producer: Producer;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly metadata = new Map<string, PartitionMetadata[]>();
  /** Gardu keys: partition and key bytes computed once (a few thousand keys). */
  private readonly garduKeys = new Map<string, { partition: number; bytes: Buffer }>();
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
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 5,
      allowAutoTopicCreation: false,
    });
  }

  async start(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      // Just-created topics may not be in every metadata cache yet (UNKNOWN_TOPIC_OR_PARTITION): retry briefly.
      await retrying(() => ensureTopics(admin, this.cfg.AMI_TOPIC_PREFIX, { partitions: this.partitions }));
      const { topics } = await retrying(() =>
        admin.fetchTopicMetadata({
          topics: [this.topics.reads, this.topics.events, this.topics.meters],
        }),
      );
      for (const t of topics) this.metadata.set(t.name, t.partitions);
      const [reads, events] = [this.topics.reads, this.topics.events].map(
        (t) => this.metadata.get(t)!.length,
      );
      if (reads !== events)
        throw new Error(
          `${this.topics.reads} has ${reads} partitions but ${this.topics.events} has ${events}: a gardu's reads and events would not share a partition number`,
        );
    } finally {
      await admin.disconnect();
    }
    const prefix = this.cfg.AMI_TOPIC_PREFIX;
    const id = (name: 'MeterRead' | 'MeterEvent' | 'MeterProfile') =>
      this.codec.register(name, subjectOf(prefix, name));
    this.encRead = this.codec.encoder('MeterRead', await id('MeterRead'));
    this.encEvent = this.codec.encoder('MeterEvent', await id('MeterEvent'));
    this.encProfile = this.codec.encoder('MeterProfile', await id('MeterProfile'));
    await this.producer.connect();
  }

  /** ami.meters (compacted, key meter_id); call before any traffic. */
  async publishFleet(fleet: Fleet): Promise<number> {
    let out: Outgoing[] = [];
    for (const p of fleet.profiles()) {
      out.push({ topic: this.topics.meters, key: p.meter_id, value: this.encProfile!(p) });
      if (out.length >= FLEET_ROUND) {
        await this.sendKeyed(out);
        out = [];
      }
    }
    await this.sendKeyed(out);
    return fleet.size;
  }

  /** Reads and events of one batch, keyed by gardu_id (events first: they happened before the reads' interval end). */
  async publishBatch(batch: Pick<Batch, 'reads' | 'events'>): Promise<void> {
    const out: Outgoing[] = [];
    for (const e of batch.events)
      out.push({ topic: this.topics.events, key: e.gardu_id, value: this.encEvent!(e) });
    for (const r of batch.reads)
      out.push({ topic: this.topics.reads, key: r.gardu_id, value: this.encRead!(r) });
    await this.sendKeyed(out);
  }

  private partitionOf(topic: string, key: string): number {
    return this.partitioner({
      topic,
      partitionMetadata: this.metadata.get(topic)!,
      message: { key, value: null },
    });
  }

  /** Key bytes and partition; cached for gardu keys of reads/events (same partition count, checked at start). */
  private placement(topic: string, key: string): { partition: number; bytes: Buffer | string } {
    if (topic === this.topics.meters) return { partition: this.partitionOf(topic, key), bytes: key };
    let g = this.garduKeys.get(key);
    if (!g)
      this.garduKeys.set(key, (g = { partition: this.partitionOf(topic, key), bytes: Buffer.from(key) }));
    return g;
  }

  /** Group by partition (order kept), then each partition's requests in order, partitions concurrently. */
  private async sendKeyed(out: Outgoing[]): Promise<void> {
    const byPartition = new Map<number, Map<string, Message[]>>();
    for (const o of out) {
      const { partition, bytes } = this.placement(o.topic, o.key);
      let topics = byPartition.get(partition);
      if (!topics) byPartition.set(partition, (topics = new Map()));
      let list = topics.get(o.topic);
      if (!list) topics.set(o.topic, (list = []));
      list.push({ key: bytes, value: o.value, partition });
    }
    await Promise.all([...byPartition.values()].map((topics) => this.sendPartition(topics)));
  }

  private async sendPartition(topics: Map<string, Message[]>): Promise<void> {
    for (const [topic, messages] of topics) {
      for (let i = 0; i < messages.length; i += CHUNK) {
        await this.producer.sendBatch({
          topicMessages: [{ topic, messages: messages.slice(i, i + CHUNK) }],
          acks: -1,
        });
      }
    }
  }

  async stop(): Promise<void> {
    await this.producer.disconnect();
  }
}
