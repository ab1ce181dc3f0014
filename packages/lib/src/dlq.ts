import type { IHeaders, KafkaMessage, Producer } from 'kafkajs';
import { byteLength } from './kafka.js';
import type { Logger } from './logger.js';
import type { ServiceMetrics } from './metrics.js';

export interface DeadLetter {
  sourceTopic: string;
  partition: number;
  message: KafkaMessage;
  reason: string;
  detail: string;
}

/** Headers that say where a dead letter came from and why (contract: original key, original bytes). */
export function deadLetterHeaders(d: DeadLetter, service: string): IHeaders {
  return {
    'ami.source.topic': d.sourceTopic,
    'ami.source.partition': String(d.partition),
    'ami.source.offset': d.message.offset,
    'ami.reason': d.reason,
    'ami.detail': d.detail.slice(0, 1000),
    'ami.service': service,
    'ami.failed_at': new Date().toISOString(),
  };
}

/**
 * Sends bad records to the DLQ topic, unchanged, with headers saying why.
 * Nothing is dropped silently: every dead letter is logged and counted.
 */
export class DeadLetterQueue {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly service: string,
    private readonly logger: Logger,
    private readonly metrics?: ServiceMetrics,
  ) {}

  async send(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const messages = letters.map((d) => ({
      key: d.message.key,
      value: d.message.value,
      headers: deadLetterHeaders(d, this.service),
    }));
    // A flood of bad records must not become one request above the broker's max message size.
    for (const chunk of chunkBySize(messages, messageBytes))
      await this.producer.send({ topic: this.topic, messages: chunk });
    for (const d of letters) this.metrics?.dlq.inc({ topic: d.sourceTopic, reason: d.reason });
    this.logSent(letters);
  }

  /** One line per source topic and reason (with the first record's detail), not one per record: a flood stays readable. */
  private logSent(letters: DeadLetter[]): void {
    const groups = new Map<string, { first: DeadLetter; count: number }>();
    for (const d of letters) {
      const k = `${d.sourceTopic}\u0000${d.reason}`;
      const g = groups.get(k);
      if (g) g.count++;
      else groups.set(k, { first: d, count: 1 });
    }
    for (const { first: d, count } of groups.values()) {
      this.logger.warn(
        { topic: d.sourceTopic, partition: d.partition, offset: d.message.offset, reason: d.reason, count },
        `dead letter${count > 1 ? `s (${count}), the first` : ''}: ${d.detail}`,
      );
    }
  }
}

/** Default limits of one produce call: well under the broker's 1 MiB max message size per partition batch. */
export const SEND_CHUNK_BYTES = 512 * 1024;
export const SEND_CHUNK_MESSAGES = 1000;

/** Approximate bytes of a message on the wire: key, value, headers and per-record overhead. */
export function messageBytes(m: {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: IHeaders;
}): number {
  let n = 32 + byteLength(m.key) + byteLength(m.value);
  for (const [k, v] of Object.entries(m.headers ?? {}))
    n +=
      8 +
      Buffer.byteLength(k) +
      (Array.isArray(v) ? v.reduce((a: number, x) => a + byteLength(x), 0) : byteLength(v));
  return n;
}

/** Splits items, in order, into runs of at most `maxBytes` (a bigger item goes alone) and `maxCount` items. */
export function chunkBySize<T>(
  items: readonly T[],
  sizeOf: (item: T) => number,
  maxBytes = SEND_CHUNK_BYTES,
  maxCount = SEND_CHUNK_MESSAGES,
): T[][] {
  const chunks: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (cur.length > 0 && (bytes + size > maxBytes || cur.length >= maxCount)) {
      chunks.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(item);
    bytes += size;
  }
  if (cur.length > 0) chunks.push(cur);
  return chunks;
}
