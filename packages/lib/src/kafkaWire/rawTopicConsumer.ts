import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import { isRetriable, UnavailableError } from '../errors.js';
import { wireClientOptions, type WireKafkaConfig } from '../kafka.js';
import type { Logger } from '../logger.js';
import { indexRecords, OFFSET_OUT_OF_RANGE, READ_COMMITTED, WireFetcher, type RecordIndex } from './fetch.js';

/**
 * A READ_COMMITTED fetcher for a consumer's bulk topic, from the common Kafka settings: up to
 * 32 MiB a fetch and 4 MiB a partition (a few thousand reads per partition and round trip).
 */
export function bulkFetcher(cfg: WireKafkaConfig, clientId: string): WireFetcher {
  return new WireFetcher({
    ...wireClientOptions(cfg, clientId),
    maxBytes: 32 << 20,
    partitionMaxBytes: 4 << 20,
    isolation: READ_COMMITTED,
  });
}

/**
 * Loads one partition's records, fetched from `fetchOffset`; resolves when the caller may fetch
 * further (backpressure).
 */
export type ProcessRecords = (
  partition: number,
  ix: RecordIndex,
  highWatermark: number,
  fetchOffset: number,
) => Promise<void>;

/**
 * Where a partition starts: its committed offset, else (none, or one below the log's start, its
 * records deleted) the earliest. Not checked against the end: a leader elected a moment ago
 * reports a high watermark that lags the committed offset, and starting at the earliest re-read
 * the whole partition (every record then late for the detector). Beyond the log, the fetch
 * answers OFFSET_OUT_OF_RANGE.
 */
export function startOffset(committed: number | undefined, earliest: number): number {
  return committed !== undefined && committed >= earliest ? committed : earliest;
}

export interface RawTopicOptions {
  topic: string;
  groupId: string;
  fetcher: Pick<WireFetcher, 'fetch' | 'close'>;
  /** Committed offsets and the earliest offsets (a partition never committed starts at the beginning). */
  admin: Pick<Admin, 'fetchOffsets' | 'fetchTopicOffsets'>;
  isolation: number;
  process: ProcessRecords;
  /**
   * Leave partition out of the next fetch (the detector: it holds too many inputs, and this
   * partition is ahead in event time of the one its watermark waits for). Default: fetch all.
   */
  holdBack?: (partition: number) => boolean;
  /**
   * Where the caller's state of these partitions continues (the detector: the next offset of its
   * event-time gate, which keeps what it consumed since the last commit across a rejoin). A
   * partition left out is not ready and is not fetched yet. Asked after every assignment, and
   * awaited: the caller applies its own side of the assignment first. Without it, a partition
   * starts at `startOffset` after every assignment.
   */
  positions?: (partitions: readonly number[]) => Promise<ReadonlyMap<number, number>>;
  /**
   * The fetch of `partition` restarts at `offset` (its position was out of range on the broker),
   * before any record from there is processed: the caller moves its position too.
   */
  restartAt?: (partition: number, offset: number) => Promise<void>;
  /**
   * A failure that retrying cannot help: a batch that cannot be read (UnsupportedBatchError: corrupt,
   * an old message format; compressed batches are read), an authorization or version refusal
   * (KafkaProtocolError): the caller stops.
   */
  onFatal: (err: unknown) => void;
  logger: Logger;
}

/**
 * Consumes one topic with raw fetches (fetch.ts)
 * for the partitions the kafkajs group member was assigned: kafkajs keeps
 * the group membership, heartbeats and offset commits, with this topic
 * paused in it. Positions start at the group's committed offsets after every
 * assignment, or where the caller's state continues (`positions`); the
 * caller commits a position only once it is done with the
 * records before it (the loader: ClickHouse accepted the rows; the
 * detector: the transaction with its outputs), as for kafkajs batches.
 */
export class RawTopicConsumer {
  private assignment: number[] = [];
  private readonly nextOffsets = new Map<number, number>();
  /** Bumped by every assignment change: a fetch started under an older one is dropped. */
  private generation = 0;
  private paused = false;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: RawTopicOptions) {}

  /** The group gave this member `partitions` of the topic (GROUP_JOIN); none while rebalancing. */
  assign(partitions: readonly number[]): void {
    this.generation++;
    this.assignment = [...partitions].sort((a, b) => a - b);
    this.nextOffsets.clear();
    this.o.logger.info({ topic: this.o.topic, partitions: this.assignment }, 'raw fetch: assigned');
  }

  /** Stop fetching (the loader: ClickHouse refuses inserts; Kafka keeps the backlog). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  start(): void {
    this.running = true;
    this.loop = this.run().catch((err: unknown) => this.o.onFatal(err));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.o.fetcher.close();
  }

  private async run(): Promise<void> {
    let delay = 500;
    while (this.running) {
      if (this.paused || this.assignment.length === 0) {
        await sleep(50);
        continue;
      }
      try {
        await this.fetchOnce();
        delay = 500;
      } catch (err) {
        if (!this.running) return;
        if (!isRetriable(err)) throw err;
        this.o.logger.warn({ err, topic: this.o.topic, retryInMs: delay }, 'raw fetch failed; retrying');
        await sleep(delay);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  /** One fetch of every assigned partition not held back, then each partition's records loaded in turn. */
  private async fetchOnce(): Promise<void> {
    const generation = this.generation;
    await this.startPositions(generation);
    if (generation !== this.generation) return;
    const ready = this.assignment.filter((p) => this.nextOffsets.has(p));
    const wanted = this.o.holdBack ? ready.filter((p) => !this.o.holdBack!(p)) : ready;
    if (wanted.length === 0) {
      await sleep(20);
      return;
    }
    const answers = await this.o.fetcher.fetch(
      wanted.map((partition) => ({
        topic: this.o.topic,
        partition,
        offset: this.nextOffsets.get(partition)!,
      })),
    );
    let retry = false;
    for (const a of answers) {
      if (generation !== this.generation || !this.running) return;
      if (a.errorCode === OFFSET_OUT_OF_RANGE) {
        await this.restart(generation, a.partition, a.fetchOffset);
        continue;
      }
      if (a.errorCode !== 0) {
        retry = true; // retriable (WireFetcher throws the others)
        continue;
      }
      if (!a.records || a.records.length === 0) continue;
      const ix = indexRecords(a.records, a.fetchOffset, this.o.isolation === READ_COMMITTED ? a.aborted : []);
      // Also with no records (only transaction markers): their offsets get committed too.
      if (ix.nextOffset > a.fetchOffset)
        await this.o.process(a.partition, ix, a.highWatermark, a.fetchOffset);
      if (generation === this.generation) this.nextOffsets.set(a.partition, ix.nextOffset);
    }
    if (retry)
      throw new UnavailableError(
        'kafka',
        `raw fetch of ${this.o.topic}: partition errors ${answers
          .filter((a) => a.errorCode !== 0)
          .map((a) => `${a.partition}:${a.errorCode}`)
          .join(', ')}`,
      );
  }

  /**
   * Positions of assigned partitions without one: where the caller continues (`positions`), else
   * the committed offset, else the earliest.
   */
  private async startPositions(generation: number): Promise<void> {
    const missing = this.assignment.filter((p) => !this.nextOffsets.has(p));
    if (missing.length === 0) return;
    const at = this.o.positions ? await this.o.positions(missing) : await this.committedStarts(missing);
    if (generation !== this.generation) return;
    for (const [p, offset] of at) if (missing.includes(p)) this.nextOffsets.set(p, offset);
  }

  private async committedStarts(partitions: readonly number[]): Promise<Map<number, number>> {
    const [committed, bounds] = await Promise.all([
      this.o.admin.fetchOffsets({ groupId: this.o.groupId, topics: [this.o.topic] }),
      this.o.admin.fetchTopicOffsets(this.o.topic),
    ]);
    const low = new Map(bounds.map((b) => [b.partition, Number(b.low)]));
    const at = new Map(
      committed.flatMap((t) => t.partitions).map((p) => [p.partition, Number(p.offset)] as const),
    );
    // -1: nothing committed.
    return new Map(partitions.map((p) => [p, startOffset(at.get(p), low.get(p) ?? 0)] as const));
  }

  /** `partition`'s position is out of range on the broker: it restarts at its committed offset, else the earliest. */
  private async restart(generation: number, partition: number, from: number): Promise<void> {
    const offset = (await this.committedStarts([partition])).get(partition)!;
    if (generation !== this.generation) return;
    this.o.logger.warn(
      { topic: this.o.topic, partition, offset: from, restartAt: offset },
      'raw fetch: offset out of range; restarting at the committed offset, else the earliest',
    );
    await this.o.restartAt?.(partition, offset);
    if (generation === this.generation) this.nextOffsets.set(partition, offset);
  }
}
