import { randomBytes } from 'node:crypto';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import {
  AvroCodec,
  BadRecordError,
  DeadLetterQueue,
  exitOnCrash,
  isRetriable,
  rejectIfInvalid,
  ServiceMetrics,
  validateProfile,
  type CommandResult,
  type Logger,
  type Topics,
  type MeterCommand,
  type MeterProfile,
} from '@ami/lib';
import type { SimulatorConfig } from './config.js';
import { decide, pressButton, type Decision, type MeterState } from './headend.js';
import { Publisher } from './publisher.js';
import { subjectOf } from './schemas.js';

/**
 * The head-end's Kafka edge: follows ami.meters as a table (loaded before the
 * first command is answered), consumes ami.commands, publishes the meters'
 * answers (events, on-demand reads) and one CommandResult per command.
 * Undecodable commands go to the DLQ with headers.
 */
export class HeadEnd {
  readonly profiles = new Map<string, MeterProfile>();
  readonly states = new Map<string, MeterState>();
  private readonly producer: Producer;
  private readonly publisher: Publisher;
  private readonly dlq: DeadLetterQueue;
  private readonly timers = new Set<NodeJS.Timeout>();
  private metersConsumer?: Consumer;
  private commandsConsumer?: Consumer;
  private encResult?: (v: CommandResult) => Buffer;

  constructor(
    private readonly kafka: Kafka,
    private readonly cfg: SimulatorConfig,
    private readonly codec: AvroCodec,
    private readonly logger: Logger,
    /** Prometheus counters (consumed, produced, DLQ by reason); served by the CLI on METRICS_PORT. */
    readonly metrics = new ServiceMetrics('headend'),
  ) {
    this.publisher = new Publisher(kafka, cfg, codec, cfg.SIM_PARTITIONS);
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    this.dlq = new DeadLetterQueue(this.producer, this.publisher.topics.dlq, 'headend', logger, metrics);
  }

  get topics(): Topics {
    return this.publisher.topics;
  }

  async start(): Promise<void> {
    await this.publisher.start();
    await this.producer.connect();
    this.encResult = this.codec.encoder(
      'CommandResult',
      await this.codec.register('CommandResult', subjectOf(this.cfg.AMI_TOPIC_PREFIX, 'CommandResult')),
    );
    await this.loadMeters();
    const c = this.kafka.consumer({ groupId: this.cfg.HEADEND_GROUP_ID });
    this.commandsConsumer = c;
    exitOnCrash(c, this.logger);
    await c.connect();
    await c.subscribe({ topic: this.publisher.topics.commands, fromBeginning: true });
    await c.run({ eachBatch: (p) => this.onCommands(p) });
  }

  /** Consume ami.meters from the start until the high watermarks, then keep following it. */
  private async loadMeters(): Promise<void> {
    const topic = this.publisher.topics.meters;
    const admin = this.kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
    const remaining = new Map(ends.filter((e) => e.high !== e.low).map((e) => [e.partition, BigInt(e.high)]));
    const c = this.kafka.consumer({
      groupId: `${this.cfg.HEADEND_GROUP_ID}.meters.${randomBytes(4).toString('hex')}`,
    });
    this.metersConsumer = c;
    exitOnCrash(c, this.logger);
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    let loaded!: () => void;
    const done = new Promise<void>((r) => (loaded = r));
    if (remaining.size === 0) loaded();
    await c.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) await this.onProfile(m);
        const high = remaining.get(batch.partition);
        if (high !== undefined && BigInt(batch.lastOffset()) + 1n >= high) remaining.delete(batch.partition);
        if (remaining.size === 0) loaded();
      },
    });
    await done;
    this.logger.info({ meters: this.profiles.size }, 'meters table loaded');
  }

  private async onProfile(m: KafkaMessage): Promise<void> {
    const key = m.key?.toString() ?? '';
    if (m.value === null) {
      this.profiles.delete(key);
      return;
    }
    try {
      const p = await this.codec.decode('MeterProfile', m.value);
      // The one profile check of every consumer of the meters topic.
      rejectIfInvalid(validateProfile(p));
      this.profiles.set(p.meter_id, p);
    } catch (err) {
      if (isRetriable(err)) throw err;
      this.logger.warn(
        { err, key },
        'undecodable or invalid meter profile skipped (the meters table is not ours to dead-letter)',
      );
    }
  }

  private async onCommands({ batch, resolveOffset, heartbeat }: EachBatchPayload): Promise<void> {
    const decisions: Decision[] = [];
    const letters = [];
    this.metrics.observeBatch(
      batch.topic,
      batch.partition,
      batch.messages.length,
      batch.lastOffset(),
      batch.highWatermark,
    );
    for (const message of batch.messages) {
      try {
        if (!message.value) throw new BadRecordError('empty-value', 'command with no value');
        decisions.push(this.apply(await this.codec.decode('MeterCommand', message.value)));
      } catch (err) {
        if (isRetriable(err)) throw err;
        const e = err as BadRecordError;
        letters.push({
          sourceTopic: batch.topic,
          partition: batch.partition,
          message,
          reason: e.reason ?? 'bad-command',
          detail: e.message,
        });
      }
    }
    await this.publish(decisions);
    await this.dlq.send(letters);
    for (const m of batch.messages) resolveOffset(m.offset);
    await heartbeat();
  }

  /** Decide, update the meter's state, and schedule the button press after ENABLE_RECONNECT. */
  apply(cmd: MeterCommand): Decision {
    const profile = this.profiles.get(cmd.meter_id);
    const d = decide(cmd, profile, this.states.get(cmd.meter_id), Date.now());
    if (d.state) this.states.set(cmd.meter_id, d.state);
    if (d.awaitButton && profile && this.cfg.HEADEND_BUTTON_DELAY_MS !== 'never')
      this.scheduleButton(profile, cmd.command_id, this.cfg.HEADEND_BUTTON_DELAY_MS);
    this.logger.info(
      {
        command: cmd.command_id,
        meter: cmd.meter_id,
        type: cmd.type,
        status: d.result.status,
        reason: d.result.reason,
      },
      'command decided',
    );
    return d;
  }

  private scheduleButton(profile: MeterProfile, commandId: string, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const state = this.states.get(profile.meter_id);
      const pressed = state && pressButton(profile, state, commandId, Date.now());
      if (!pressed) return;
      this.states.set(profile.meter_id, pressed.state);
      this.publisher
        .publishBatch({ reads: [], events: [pressed.event] })
        .catch((err: unknown) =>
          this.logger.error({ err, meter: profile.meter_id }, 'could not publish the button press'),
        );
    }, delayMs);
    this.timers.add(timer);
  }

  private async publish(decisions: Decision[]): Promise<void> {
    if (decisions.length === 0) return;
    await this.publisher.publishBatch({
      reads: decisions.flatMap((d) => (d.read ? [d.read] : [])),
      events: decisions.flatMap((d) => (d.event ? [d.event] : [])),
    });
    const messages: Message[] = decisions.map((d) => ({
      key: d.result.meter_id,
      value: this.encResult!(d.result),
    }));
    await this.producer.send({ topic: this.publisher.topics.commandResults, messages, acks: -1 });
    this.metrics.produced.inc({ topic: this.publisher.topics.commandResults }, messages.length);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await this.commandsConsumer?.disconnect();
    await this.metersConsumer?.disconnect();
    await this.publisher.stop();
    await this.producer.disconnect();
  }
}
