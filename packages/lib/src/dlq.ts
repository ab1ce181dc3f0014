import type { IHeaders, KafkaMessage, Producer } from 'kafkajs';
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
    await this.producer.send({
      topic: this.topic,
      messages: letters.map((d) => ({
        key: d.message.key,
        value: d.message.value,
        headers: deadLetterHeaders(d, this.service),
      })),
    });
    for (const d of letters) {
      this.metrics?.dlq.inc({ topic: d.sourceTopic, reason: d.reason });
      this.logger.warn(
        { topic: d.sourceTopic, partition: d.partition, offset: d.message.offset, reason: d.reason },
        `dead letter: ${d.detail}`,
      );
    }
  }
}
