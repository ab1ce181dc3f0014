import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BadRecordError,
  isRetriable,
  exitOnCrash,
  type AvroCodec,
  type DeadLetter,
  type DeadLetterQueue,
  type Logger,
  type RecordName,
  type RecordTypes,
  type ServiceMetrics,
} from '@ami/lib';
import type { LatestTable } from './tables.js';

export interface FeedSource {
  topic: string;
  record: RecordName;
  table: LatestTable<unknown>;
}

/** A topic, its record type and the table it fills, type-checked together. */
export function feedSource<N extends RecordName>(
  topic: string,
  record: N,
  table: LatestTable<RecordTypes[N]>,
): FeedSource {
  return { topic, record, table: table as LatestTable<unknown> };
}

/**
 * Reads compacted topics from the beginning into in-memory tables, in a
 * consumer group of its own (every instance needs every key), and keeps
 * following. `caughtUp` resolves once the offsets that existed at start are read.
 */
export class CompactedFeed {
  private consumer?: Consumer;
  private readonly pending = new Map<string, bigint>();
  private resolveCaughtUp!: () => void;
  readonly caughtUp = new Promise<void>((r) => (this.resolveCaughtUp = r));
  isCaughtUp = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly sources: FeedSource[],
    private readonly logger: Logger,
    private readonly opts: { groupPrefix: string; dlq?: DeadLetterQueue; metrics?: ServiceMetrics },
  ) {}

  async start(): Promise<void> {
    await this.loadTargets();
    const consumer = this.kafka.consumer({
      groupId: `${this.opts.groupPrefix}-${randomUUID()}`,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    exitOnCrash(consumer, this.logger);
    // Also fires for batches holding only transaction markers, which never reach eachBatch.
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) =>
      this.markRead(e.payload.topic, e.payload.partition, e.payload.lastOffset),
    );
    await consumer.connect();
    await consumer.subscribe({ topics: this.sources.map((s) => s.topic), fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat }) => {
        const source = this.sources.find((s) => s.topic === batch.topic)!;
        const dead: DeadLetter[] = [];
        for (const m of batch.messages) await this.applyMessage(source, batch.partition, m, dead);
        await this.opts.dlq?.send(dead);
        this.opts.metrics?.consumed.inc({ topic: batch.topic }, batch.messages.length);
        await heartbeat();
      },
    });
    this.checkCaughtUp();
  }

  private async applyMessage(
    source: FeedSource,
    partition: number,
    m: KafkaMessage,
    dead: DeadLetter[],
  ): Promise<void> {
    const key = m.key?.toString('utf8') ?? '';
    if (m.value === null) return source.table.apply(key, null);
    try {
      const record =
        this.codec.decodeCached(source.record, m.value) ?? (await this.codec.decode(source.record, m.value));
      source.table.apply(key, record);
    } catch (err) {
      if (!(err instanceof BadRecordError)) throw err;
      dead.push({
        sourceTopic: source.topic,
        partition,
        message: m,
        reason: err.reason,
        detail: err.message,
      });
    }
  }

  /** High watermarks at start: reading up to them is "caught up". */
  private async loadTargets(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      for (const s of this.sources) {
        for (const p of await withRetries(() => admin.fetchTopicOffsets(s.topic))) {
          if (BigInt(p.high) > BigInt(p.low)) this.pending.set(`${s.topic}:${p.partition}`, BigInt(p.high));
        }
      }
    } finally {
      await admin.disconnect();
    }
  }

  private markRead(topic: string, partition: number, lastOffset: string): void {
    const key = `${topic}:${partition}`;
    const target = this.pending.get(key);
    if (target !== undefined && BigInt(lastOffset) + 1n >= target) this.pending.delete(key);
    this.checkCaughtUp();
  }

  private checkCaughtUp(): void {
    if (this.isCaughtUp || this.pending.size > 0) return;
    this.isCaughtUp = true;
    this.logger.info(
      { topics: this.sources.map((s) => s.topic) },
      'compacted topics read up to their start offsets',
    );
    this.resolveCaughtUp();
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

/** A freshly created topic may answer "not the leader" for a moment: retry what is retriable. */
async function withRetries<T>(fn: () => Promise<T>, attempts = 20, delayMs = 250): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !isRetriable(err)) throw err;
      await sleep(delayMs);
    }
  }
}

/**
 * Follows a topic from its end (what arrives after start), in a group of its own, and hands
 * each decodable record to `onRecord`. For the head-end's answers, which matter only for the
 * commands this instance sends from now on. An undecodable
 * record is logged and skipped: these topics are other services' to dead-letter.
 */
export class TailFeed<N extends RecordName> {
  private consumer?: Consumer;

  constructor(
    private readonly kafka: Kafka,
    private readonly codec: AvroCodec,
    private readonly topic: string,
    private readonly record: N,
    private readonly onRecord: (r: RecordTypes[N]) => void,
    private readonly logger: Logger,
    private readonly opts: { groupPrefix: string },
  ) {}

  async start(): Promise<void> {
    // The ends now: everything after them is read, however long the group takes to join
    // (a "latest" reset at join time would miss an answer that came in the meantime).
    const admin = this.kafka.admin();
    await admin.connect();
    const ends = await withRetries(() => admin.fetchTopicOffsets(this.topic)).finally(() =>
      admin.disconnect(),
    );
    const consumer = this.kafka.consumer({
      groupId: `${this.opts.groupPrefix}-tail-${randomUUID()}`,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    exitOnCrash(consumer, this.logger);
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic], fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat }) => {
        for (const m of batch.messages) {
          if (!m.value) continue;
          try {
            const r =
              this.codec.decodeCached(this.record, m.value) ??
              (await this.codec.decode(this.record, m.value));
            this.onRecord(r);
          } catch (err) {
            if (!(err instanceof BadRecordError)) throw err;
            this.logger.warn({ err, topic: this.topic }, 'undecodable record skipped');
          }
        }
        await heartbeat();
      },
    });
    for (const e of ends) consumer.seek({ topic: this.topic, partition: e.partition, offset: e.high });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}
