import { deadLetterHeaders, type DeadLetter } from '@ami/lib';
import type { Out } from '../output.js';
import type { EdgeContext } from './context.js';
import { messageOf, type Origin } from './inputs.js';

/**
 * Records the next step's transaction writes on behalf of input partitions: dead letters and
 * inputs forwarded to the repartition topic, each with the offsets past its source. A revoked
 * partition's are dropped with it: the new owner replays their messages.
 */
export class PendingRecords {
  private records: Out[] = [];
  private sources: number[] = [];

  constructor(private readonly c: EdgeContext) {}

  get size(): number {
    return this.records.length;
  }

  /** In the order they were added (a forwarded input before the markers after it). */
  all(): readonly Out[] {
    return this.records;
  }

  add(record: Out, sourcePartition: number): void {
    this.records.push(record);
    this.sources.push(sourcePartition);
  }

  /** A bad input to the DLQ, counted and logged here (once). */
  dead(
    sourceTopic: string,
    partition: number,
    from: Origin,
    i: number,
    reason: string,
    detail: string,
  ): void {
    const d: DeadLetter = { sourceTopic, partition, message: messageOf(from, i), reason, detail };
    this.c.stats.dlq[d.reason] = (this.c.stats.dlq[d.reason] ?? 0) + 1;
    this.c.metrics.dlq.inc({ topic: d.sourceTopic, reason: d.reason });
    this.c.logger.warn(
      { topic: d.sourceTopic, partition: d.partition, offset: d.message.offset, reason: d.reason },
      `dead letter: ${d.detail}`,
    );
    this.add(
      {
        topic: this.c.topics.dlq,
        key: d.message.key,
        value: d.message.value,
        headers: deadLetterHeaders(d, 'detector'),
      },
      d.partition,
    );
  }

  /** Committed: nothing pending. */
  clear(): void {
    this.records = [];
    this.sources = [];
  }

  dropPartition(p: number): void {
    const keep = this.sources.map((q) => q !== p);
    this.records = this.records.filter((_, i) => keep[i]);
    this.sources = this.sources.filter((_, i) => keep[i]);
  }
}
