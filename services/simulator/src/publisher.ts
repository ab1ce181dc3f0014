import {
  Partitioners,
  type Admin,
  type Kafka,
  type Message,
  type PartitionMetadata,
  type Producer,
} from 'kafkajs';
import type avro from 'avsc';
import {
  AvroCodec,
  avroType,
  ConfigError,
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
import { encodeSupplyChange, supplyKey, supplyTopic, type SupplyChange } from './supply.js';
import {
  inputPartition,
  partitionForKey,
  RecordBatchBuilder,
  WireProducer,
  wireClientOptions,
  type WireKafkaConfig,
} from '@ami/lib';

/** Messages per produce request: kafkajs groups a request's messages per partition in O(n^2). */
const CHUNK = 1000;
/** Profiles encoded per round when publishing the fleet. */
const FLEET_ROUND = 24_000;
/** Record batch size (bytes) at which the wire producer seals a partition's batch and sends it. */
export const BATCH_BYTES = 256 * 1024;

/** A record type ready for in-place encoding: avsc type and registered schema id. */
interface Encoding {
  type: avro.Type;
  id: number;
}

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

/**
 * A connected `WireProducer` for `topics` (leaders loaded, producer id
 * obtained; retried briefly), with SASL/TLS as configured.
 */
export async function openWireProducer(
  cfg: WireKafkaConfig & Pick<CommonConfig, 'KAFKA_CLIENT_ID'>,
  topics: string[],
): Promise<WireProducer> {
  const wire = new WireProducer(wireClientOptions(cfg, cfg.KAFKA_CLIENT_ID));
  try {
    await retrying(() => wire.connect(topics));
  } catch (err) {
    await wire.close();
    throw err;
  }
  return wire;
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
 * Traffic goes through `WireProducer` (records encoded straight into
 * per-partition record batches: ~20x kafkajs' rate here, see the README's
 * "Speed"), with SASL/TLS as configured; kafkajs only when asked (the bench's baseline).
 *
 * The kafkajs path: kafkajs groups a request's messages per partition by copying arrays
 * (quadratic in messages per partition), so records are split here by
 * partition (kafkajs' default murmur2 partitioner: the placement any client
 * would choose for the key) into requests of CHUNK messages. Partitions are
 * sent concurrently, each partition's requests in order, so every key's
 * records keep their order.
 */
export class Publisher {
  readonly topics: Topics;
  /** `<prefix>.sim.supply`: the simulated physical world, for the head-end only (not a contract topic). */
  readonly supplyTopic: string;
  /**
   * False when this Kafka user may not create or describe the supply topic (a
   * secured cluster whose operator did not grant it): supply changes are then
   * counted in `supplySkipped`, not sent, and the head-end sees every meter powered.
   */
  supplyAvailable = false;
  /** Supply changes not published because the topic is not available (see `supplyAvailable`). */
  supplySkipped = 0;
  private readonly producer: Producer;
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private readonly metadata = new Map<string, PartitionMetadata[]>();
  /** Gardu keys: partition and key bytes computed once (a few thousand keys). */
  private readonly garduKeys = new Map<string, { partition: number; bytes: Buffer }>();
  /** Gardu -> feeder, learnt from the profiles this publisher sent (`publishFleet`): reads and events are placed by feeder. */
  private readonly feeders = new Map<string, string>();
  private encRead?: (v: MeterRead) => Buffer;
  private encEvent?: (v: MeterEvent) => Buffer;
  private encProfile?: (v: MeterProfile) => Buffer;
  /** The fast path: direct wire producer and in-place encoders. */
  private wire?: WireProducer;
  private readonly enc = new Map<string, Encoding>();
  private scratch: Buffer = Buffer.allocUnsafe(4096);

  constructor(
    private readonly kafka: Kafka,
    private readonly cfg: CommonConfig,
    private readonly codec: AvroCodec,
    private readonly partitions = 6,
    /** `wire` (default, with or without SASL/TLS) or `kafkajs` (the bench's baseline). */
    private readonly client: 'wire' | 'kafkajs' = 'wire',
    /**
     * Reads and events: `feeder` (default) on the partition of their gardu's feeder (contract,
     * "Placement"; `inputPartition` of @ami/lib), `key` by Kafka's default partitioner of the gardu key
     * (a producer that does not know the rule: the detector repartitions them; tests).
     */
    private readonly placeBy: 'feeder' | 'key' = 'feeder',
  ) {
    this.topics = topicNames(cfg.AMI_TOPIC_PREFIX);
    this.supplyTopic = supplyTopic(cfg.AMI_TOPIC_PREFIX);
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
      this.supplyAvailable = await this.ensureSupplyTopic(admin);
      const { topics } = await retrying(() =>
        admin.fetchTopicMetadata({
          topics: [
            this.topics.reads,
            this.topics.events,
            this.topics.meters,
            ...(this.supplyAvailable ? [this.supplyTopic] : []),
          ],
        }),
      );
      for (const t of topics) this.metadata.set(t.name, t.partitions);
      const [reads, events] = [this.topics.reads, this.topics.events].map(
        (t) => this.metadata.get(t)!.length,
      );
      if (reads !== events)
        throw new ConfigError(
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
    if (this.client === 'wire') {
      this.enc.set(this.topics.reads, { type: avroType('MeterRead'), id: await id('MeterRead') });
      this.enc.set(this.topics.events, { type: avroType('MeterEvent'), id: await id('MeterEvent') });
      this.enc.set(this.topics.meters, { type: avroType('MeterProfile'), id: await id('MeterProfile') });
      this.wire = await openWireProducer(this.cfg, [
        this.topics.reads,
        this.topics.events,
        this.topics.meters,
        ...(this.supplyAvailable ? [this.supplyTopic] : []),
      ]);
      return;
    }
    await this.producer.connect();
  }

  /**
   * One partition (total order, a handful of records a run), plain deletion;
   * created when missing. False when the user is not authorized (secured
   * clusters: the operator creates topics, and the grants are the pipeline's).
   */
  private async ensureSupplyTopic(admin: Admin): Promise<boolean> {
    try {
      if ((await retrying(() => admin.listTopics())).includes(this.supplyTopic)) return true;
      await retrying(() =>
        admin.createTopics({
          topics: [{ topic: this.supplyTopic, numPartitions: 1, replicationFactor: 1 }],
          waitForLeaders: true,
        }),
      );
      return true;
    } catch (err) {
      if (isAuthorizationError(err)) return false;
      throw err;
    }
  }

  /**
   * How many `publishBatch` calls may be pending at once with every key's
   * order kept (`runSimulation`'s `inFlight`): several with the wire
   * producer (one FIFO per partition), one with kafkajs.
   */
  get pipelineDepth(): number {
    return this.wire ? 3 : 1;
  }

  /** ami.meters (compacted, key meter_id); call before any traffic. */
  async publishFleet(fleet: Fleet): Promise<number> {
    if (this.wire) {
      const topic = this.topics.meters;
      const { type, id } = this.enc.get(topic)!;
      const partitions = this.metadata.get(topic)!.length;
      // Rounds of FLEET_ROUND profiles, up to pipelineDepth rounds unacknowledged (memory stays bounded).
      const rounds: Array<Promise<void>> = [];
      let sends = new WireSends(this.wire);
      let n = 0;
      for (const p of fleet.profiles()) {
        this.learnFeeder(p.gardu_id, p.feeder_id);
        const key = Buffer.from(p.meter_id);
        const len = this.encodeValue(type, id, p);
        sends.add(topic, partitionForKey(key, partitions), key, len, this.scratch);
        if (++n % FLEET_ROUND === 0) {
          if (rounds.length >= this.pipelineDepth) await rounds.shift();
          const round = sends.flush();
          round.catch(() => undefined); // awaited in order below
          rounds.push(round);
          sends = new WireSends(this.wire);
        }
      }
      rounds.push(sends.flush());
      while (rounds.length > 0) await rounds.shift();
      return fleet.size;
    }
    let out: Outgoing[] = [];
    for (const p of fleet.profiles()) {
      this.learnFeeder(p.gardu_id, p.feeder_id);
      out.push({ topic: this.topics.meters, key: p.meter_id, value: this.encProfile!(p) });
      if (out.length >= FLEET_ROUND) {
        await this.sendKeyed(out);
        out = [];
      }
    }
    await this.sendKeyed(out);
    return fleet.size;
  }

  /**
   * Reads and events of one batch, keyed by gardu_id (events first: they
   * happened before the reads' interval end), and its supply changes (JSON to
   * the simulator-only supply topic, a few per run).
   */
  async publishBatch(batch: Pick<Batch, 'reads' | 'events'> & Partial<Pick<Batch, 'supply'>>): Promise<void> {
    let supply = batch.supply ?? [];
    if (supply.length > 0 && !this.supplyAvailable) {
      this.supplySkipped += supply.length;
      supply = [];
    }
    if (this.wire) {
      const n = batch.reads.length + batch.events.length;
      const sends = new WireSends(this.wire, Math.min(BATCH_BYTES + 16 * 1024, 1024 + n * 128));
      if (supply.length > 0) this.addSupply(sends, supply);
      for (const [topic, records] of [
        [this.topics.events, batch.events],
        [this.topics.reads, batch.reads],
      ] as const) {
        if (records.length === 0) continue;
        const { type, id } = this.enc.get(topic)!;
        for (const r of records) {
          const g = this.placement(topic, r.gardu_id) as { partition: number; bytes: Buffer };
          const len = this.encodeValue(type, id, r);
          sends.add(topic, g.partition, g.bytes, len, this.scratch);
        }
      }
      await sends.flush();
      return;
    }
    const out: Outgoing[] = supply.map((c) => ({
      topic: this.supplyTopic,
      key: supplyKey(c),
      value: encodeSupplyChange(c),
    }));
    for (const e of batch.events)
      out.push({ topic: this.topics.events, key: e.gardu_id, value: this.encEvent!(e) });
    for (const r of batch.reads)
      out.push({ topic: this.topics.reads, key: r.gardu_id, value: this.encRead!(r) });
    await this.sendKeyed(out);
  }

  private addSupply(sends: WireSends, supply: SupplyChange[]): void {
    const partitions = this.metadata.get(this.supplyTopic)!.length;
    for (const c of supply) {
      const key = Buffer.from(supplyKey(c));
      const value = encodeSupplyChange(c);
      sends.add(this.supplyTopic, partitionForKey(key, partitions), key, value.length, value);
    }
  }

  /** Encodes `value` in the Confluent wire format into this.scratch; returns its length. */
  private encodeValue(type: avro.Type, id: number, value: unknown): number {
    const { buf, len } = encodeFramed(type, id, value, this.scratch);
    this.scratch = buf;
    return len;
  }

  private partitionOf(topic: string, key: string): number {
    return this.partitioner({
      topic,
      partitionMetadata: this.metadata.get(topic)!,
      message: { key, value: null },
    });
  }

  /**
   * Key bytes and partition; cached for gardu keys of reads/events (same partition count, checked at
   * start): placed by the gardu's feeder when this publisher sent its profiles, else by the key.
   */
  private placement(topic: string, key: string): { partition: number; bytes: Buffer | string } {
    if (topic === this.topics.meters || topic === this.supplyTopic)
      return { partition: this.partitionOf(topic, key), bytes: key };
    let g = this.garduKeys.get(key);
    if (!g) {
      const feederId = this.placeBy === 'feeder' ? this.feeders.get(key) : undefined;
      const partitions = this.metadata.get(topic)!.length;
      g = { partition: inputPartition({ garduId: key, feederId }, partitions), bytes: Buffer.from(key) };
      this.garduKeys.set(key, g);
    }
    return g;
  }

  /** A published profile names its gardu's feeder: a placement cached without it (by key) is dropped. */
  private learnFeeder(garduId: string, feederId: string): void {
    if (this.feeders.get(garduId) === feederId) return;
    this.feeders.set(garduId, feederId);
    this.garduKeys.delete(garduId);
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
    if (this.wire) await this.wire.close();
    else await this.producer.disconnect();
  }
}

/** A kafkajs refusal for lack of rights (by the broker's error code name, never by text). */
function isAuthorizationError(err: unknown): boolean {
  const e = err as { type?: string; errors?: unknown[] };
  if (typeof e?.type === 'string' && e.type.endsWith('_AUTHORIZATION_FAILED')) return true;
  return Array.isArray(e?.errors) && e.errors.some(isAuthorizationError);
}

/**
 * Encodes `value` in the Confluent wire format (magic 0, schema id, Avro body)
 * into `scratch` in place; when it does not fit, into a new buffer twice as
 * large (repeatedly). Returns the buffer used (keep it as the next scratch) and
 * the encoded length.
 */
export function encodeFramed(
  type: avro.Type,
  id: number,
  value: unknown,
  scratch: Buffer,
): { buf: Buffer; len: number } {
  for (let s = scratch; ; s = Buffer.allocUnsafe(s.length * 2)) {
    s[0] = 0;
    s.writeInt32BE(id, 1);
    const end = type.encode(value, s, 5);
    if (end >= 0) return { buf: s, len: end };
  }
}

/**
 * Records of one publish call, built into one open record batch per
 * topic-partition; a batch is sent as soon as it is full (so sending overlaps
 * encoding), the rest at `flush`, which waits for every acknowledgement.
 */
export class WireSends {
  private readonly open = new Map<string, Array<RecordBatchBuilder | undefined>>();
  private sent: Array<Promise<void>> = [];

  /** `capacity`: initial bytes of each batch buffer (they grow if needed). */
  constructor(
    private readonly wire: WireProducer,
    private readonly capacity = BATCH_BYTES + 16 * 1024,
  ) {}

  add(topic: string, partition: number, key: Buffer, valueLen: number, value: Buffer): void {
    let builders = this.open.get(topic);
    if (!builders) this.open.set(topic, (builders = []));
    let b = builders[partition];
    if (!b) builders[partition] = b = new RecordBatchBuilder(this.capacity);
    b.add(key, value, valueLen);
    if (b.bytes >= BATCH_BYTES) {
      this.sent.push(this.wire.send(topic, partition, b));
      builders[partition] = undefined;
    }
  }

  async flush(): Promise<void> {
    for (const [topic, builders] of this.open)
      for (let p = 0; p < builders.length; p++) {
        const b = builders[p];
        if (b && b.count > 0) this.sent.push(this.wire.send(topic, p, b));
      }
    this.open.clear();
    const sent = this.sent;
    this.sent = [];
    await Promise.all(sent);
  }
}
