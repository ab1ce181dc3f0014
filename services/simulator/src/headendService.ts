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
import { Exchanges } from './exchanges.js';
import { pressButton, route, type CommandChannel, type Decision, type MeterState } from './headend.js';
import { Publisher } from './publisher.js';
import { subjectOf } from './schemas.js';
import { decodeSupplyChange, SupplyTable } from './supply.js';

/** Supply changes older than this (ms, after their end) are forgotten. */
const SUPPLY_MEMORY_MS = 60 * 60_000;

/**
 * The head-end's Kafka edge: follows ami.meters and the simulated physical
 * world (`<prefix>.sim.supply`) as tables (both loaded before the first
 * command is answered), consumes ami.commands and ami.pings (machine pings:
 * anything but READ_NOW there is refused NOT_A_PING and never reaches a meter),
 * publishes the meters' answers (events, on-demand reads) and one CommandResult
 * per command. Pings wait for
 * their medium on timers (src/media.ts), PLC pings for a slot at their gardu's
 * concentrator; the decisions are the pure functions of headend.ts.
 * Undecodable commands go to the DLQ with headers.
 */
export class HeadEnd {
  readonly profiles = new Map<string, MeterProfile>();
  readonly states = new Map<string, MeterState>();
  /** Which parts of the simulated network are without supply, in event time. */
  readonly supply = new SupplyTable();
  private readonly producer: Producer;
  private readonly publisher: Publisher;
  private readonly dlq: DeadLetterQueue;
  /** Button presses after ENABLE_RECONNECT. */
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Commands waiting for their meter's answer or time-out. */
  readonly exchanges: Exchanges;
  /** Decisions made on timers, published together on the next turn of the event loop. */
  private ready: Decision[] = [];
  private flushing?: NodeJS.Immediate;
  /** Publishes one after the other (results keep their order; stop waits for the last). */
  private chain: Promise<void> = Promise.resolve();
  private supplySeen = 0;
  private tableConsumers: Consumer[] = [];
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
    this.exchanges = new Exchanges({
      seed: cfg.HEADEND_SEED,
      scale: cfg.HEADEND_LATENCY_SCALE,
      limits: { inFlight: cfg.HEADEND_CONCENTRATOR_IN_FLIGHT, queue: cfg.HEADEND_CONCENTRATOR_QUEUE },
      isDark: (p, now) => this.supply.darkAt(p, now) !== undefined,
      stateOf: (meterId) => this.states.get(meterId),
      onResult: (cmd, d, profile) => {
        this.settle(cmd, d, profile);
        this.ready.push(d);
        this.flushing ??= setImmediate(() => this.flushReady());
      },
    });
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
    if (!this.publisher.supplyAvailable)
      this.logger.warn(
        { topic: this.publisher.supplyTopic },
        'no access to the supply topic (the simulated physical world): every meter is taken as powered',
      );
    await Promise.all([
      this.loadTable(this.publisher.topics.meters, 'meters', (m) => this.onProfile(m)),
      this.publisher.supplyAvailable &&
        this.loadTable(this.publisher.supplyTopic, 'supply', (m) => this.onSupply(m)),
    ]);
    this.logger.info({ meters: this.profiles.size, supply_changes: this.supply.size }, 'tables loaded');
    const c = this.kafka.consumer({ groupId: this.cfg.HEADEND_GROUP_ID });
    this.commandsConsumer = c;
    exitOnCrash(c, this.logger);
    await c.connect();
    const { commands, pings } = this.publisher.topics;
    await c.subscribe({ topics: [commands, pings], fromBeginning: true });
    await c.run({ eachBatch: (p) => this.onCommands(p) });
  }

  /** Consume a table topic from the start until the high watermarks, then keep following it. */
  private async loadTable(
    topic: string,
    name: string,
    onRecord: (m: KafkaMessage) => Promise<void>,
  ): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
    const remaining = new Map(ends.filter((e) => e.high !== e.low).map((e) => [e.partition, BigInt(e.high)]));
    const c = this.kafka.consumer({
      groupId: `${this.cfg.HEADEND_GROUP_ID}.${name}.${randomBytes(4).toString('hex')}`,
    });
    this.tableConsumers.push(c);
    exitOnCrash(c, this.logger);
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    let loaded!: () => void;
    const done = new Promise<void>((r) => (loaded = r));
    if (remaining.size === 0) loaded();
    await c.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) await onRecord(m);
        const high = remaining.get(batch.partition);
        if (high !== undefined && BigInt(batch.lastOffset()) + 1n >= high) remaining.delete(batch.partition);
        if (remaining.size === 0) loaded();
      },
    });
    await done;
  }

  /** A supply change of the simulated world (key `<interruption>@<dark_from>`); a tombstone forgets it. */
  private async onSupply(m: KafkaMessage): Promise<void> {
    const key = m.key?.toString() ?? '';
    if (m.value === null) {
      this.supply.delete(key);
      return;
    }
    try {
      this.supply.set(key, decodeSupplyChange(m.value));
    } catch (err) {
      this.logger.warn(
        { err, key },
        "invalid supply change skipped (the simulated world is not the pipeline's input)",
      );
      return;
    }
    if (++this.supplySeen % 256 === 0) this.supply.prune(Date.now() - SUPPLY_MEMORY_MS);
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
    const channel: CommandChannel = batch.topic === this.publisher.topics.pings ? 'pings' : 'commands';
    for (const message of batch.messages) {
      try {
        if (!message.value) throw new BadRecordError('empty-value', 'command with no value');
        const d = this.apply(await this.codec.decode('MeterCommand', message.value), Date.now(), channel);
        if (d) decisions.push(d);
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

  /**
   * A command reached the head-end on `channel`: its decision now, or undefined
   * when the meter's answer (or its time-out) comes later, on a timer.
   */
  apply(cmd: MeterCommand, now = Date.now(), channel: CommandChannel = 'commands'): Decision | undefined {
    const profile = this.profiles.get(cmd.meter_id);
    // Dark: the simulated world's event time against the wall clock (equal when the simulation runs at realtime).
    const dark = profile !== undefined && this.supply.darkAt(profile, now) !== undefined;
    const r = route(cmd, profile, this.states.get(cmd.meter_id), now, dark, channel);
    if (r.kind === 'decided') return this.settle(cmd, r.decision, profile);
    const refused = this.exchanges.begin(cmd, profile!, r, now);
    return refused && this.settle(cmd, refused, profile);
  }

  /** A decision is final: update the meter's state, schedule the button press after ENABLE_RECONNECT, log it. */
  private settle(cmd: MeterCommand, d: Decision, profile?: MeterProfile): Decision {
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
        answered_in_ms: d.result.answered_in_ms,
      },
      'command decided',
    );
    return d;
  }

  private flushReady(): void {
    this.flushing = undefined;
    const decisions = this.ready;
    this.ready = [];
    this.publish(decisions).catch((err: unknown) =>
      this.logger.error(
        { err, commands: decisions.map((d) => d.result.command_id) },
        "could not publish the meters' answers: these commands have no result",
      ),
    );
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

  /** Publishes in call order, one publish at a time. */
  private publish(decisions: Decision[]): Promise<void> {
    const done = this.chain.then(() => this.produce(decisions));
    this.chain = done.catch(() => undefined);
    return done;
  }

  private async produce(decisions: Decision[]): Promise<void> {
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

  /**
   * Stops taking commands, cancels every timer (no answer, time-out or button
   * press happens any more), and publishes what is already decided plus one
   * REFUSED HEADEND_STOPPED per command still waiting for its meter: every
   * command keeps exactly one result, and no read goes out without its result.
   */
  async stop(): Promise<void> {
    await this.commandsConsumer?.disconnect();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = undefined;
    const stopped = this.exchanges.stop(Date.now());
    for (const d of stopped)
      this.logger.warn({ command: d.result.command_id }, 'stopped before the meter answered');
    const last = [...this.ready, ...stopped];
    this.ready = [];
    if (last.length > 0)
      await this.publish(last).catch((err: unknown) =>
        this.logger.error(
          { err, commands: last.map((d) => d.result.command_id) },
          'could not publish the last results on stop',
        ),
      );
    await this.chain;
    await Promise.all(this.tableConsumers.map((c) => c.disconnect()));
    await this.publisher.stop();
    await this.producer.disconnect();
  }
}
