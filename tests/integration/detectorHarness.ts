import { randomUUID } from 'node:crypto';
import type { Consumer, IHeaders, Kafka, Producer } from 'kafkajs';
import {
  AvroCodec,
  createKafka,
  createRegistry,
  ensureTopics,
  topicNames,
  valueSubject,
  type CommonConfig,
  type MeterEvent,
  type MeterProfile,
  type MeterRead,
  type RecordName,
  type RecordTypes,
} from '@ami/lib';
import { testLogger } from '../support/fixtures.js';

/** Produces hand-crafted Avro inputs for the detector and collects its outputs. */
export class DetectorHarness {
  readonly topics;
  readonly kafka: Kafka;
  private producer!: Producer;
  private readonly codec: AvroCodec;
  private readonly consumers: Consumer[] = [];

  constructor(private readonly cfg: CommonConfig) {
    this.topics = topicNames(cfg.AMI_TOPIC_PREFIX);
    this.kafka = createKafka(cfg, testLogger);
    this.codec = new AvroCodec(createRegistry(cfg));
  }

  async start(partitions = 3): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    await ensureTopics(admin, this.cfg.AMI_TOPIC_PREFIX, { partitions });
    await admin.disconnect();
    this.producer = this.kafka.producer({ idempotent: true });
    await this.producer.connect();
  }

  async meters(profiles: MeterProfile[]): Promise<void> {
    await this.send('MeterProfile', this.topics.meters, profiles.map((p) => [p.meter_id, p]));
  }

  async events(events: MeterEvent[]): Promise<void> {
    await this.send('MeterEvent', this.topics.events, events.map((e) => [e.gardu_id, e]));
  }

  async reads(reads: MeterRead[]): Promise<void> {
    await this.send('MeterRead', this.topics.reads, reads.map((r) => [r.gardu_id, r]));
  }

  async raw(topic: string, key: string, value: Buffer): Promise<void> {
    await this.producer.send({ topic, messages: [{ key, value }] });
  }

  private async send<N extends RecordName>(name: N, topic: string, records: Array<[string, RecordTypes[N]]>): Promise<void> {
    const encode = this.codec.encoder(name, await this.codec.register(name, valueSubject(topic)));
    await this.producer.send({ topic, messages: records.map(([key, value]) => ({ key, value: encode(value) })) });
  }

  /** Everything committed to `topic`, decoded as `name`, appended as it arrives. */
  async collect<N extends RecordName>(name: N, topic: string): Promise<Array<RecordTypes[N] & { headers?: IHeaders }>> {
    const got: Array<RecordTypes[N]> = [];
    const consumer = this.kafka.consumer({ groupId: `test.${randomUUID()}`, readUncommitted: false });
    this.consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(await this.codec.decode(name, message.value!)) });
    return got;
  }

  /** Raw messages (key, headers) of `topic`, e.g. the DLQ. */
  async collectRaw(topic: string): Promise<Array<{ key: string | null; headers: Record<string, string> }>> {
    const got: Array<{ key: string | null; headers: Record<string, string> }> = [];
    const consumer = this.kafka.consumer({ groupId: `test.${randomUUID()}`, readUncommitted: false });
    this.consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) =>
        void got.push({
          key: message.key?.toString() ?? null,
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        }),
    });
    return got;
  }

  async stop(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.disconnect()));
    await this.producer?.disconnect();
  }
}

export function profile(meterId: string, garduId: string, feederId = 'F1', kdpm: MeterProfile['kdpm'] = 'L'): MeterProfile {
  return {
    meter_id: meterId,
    idpel: '512345678901',
    kdpm,
    phases: 1,
    tariff: 'R-1',
    daya_va: 1300,
    gardu_id: garduId,
    feeder_id: feederId,
    ulp: 'ULP-DENPASAR',
    region: 'BALI',
    timezone: 'Asia/Makassar',
    installed_at: 0,
  };
}

export function ev(id: string, meterId: string, garduId: string, type: MeterEvent['type'], at: number, extra: Partial<MeterEvent> = {}): MeterEvent {
  return { event_id: id, meter_id: meterId, gardu_id: garduId, occurred_at: at, type, relay: 'CLOSED', cause: 'NONE', power_limit_va: null, ...extra };
}

export function rd(meterId: string, garduId: string, at: number): MeterRead {
  return { meter_id: meterId, gardu_id: garduId, read_at: at, interval_s: 900, energy_import_wh: 1000, demand_w: 100, voltage_v: 220, relay: 'CLOSED', power_limit_va: 1300, kind: 'INTERVAL' };
}
