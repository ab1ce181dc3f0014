import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import { BadRecordError, exitOnCrash, type AvroCodec, type Logger } from '@ami/lib';
import type { Topology } from './topology.js';

/**
 * `ami.meters` as a table: every instance reads the whole compacted topic (a
 * global table, own throwaway group, nothing committed) and keeps following it.
 * `ready` resolves once the topic was read to the end seen at start.
 */
export async function followMeters(
  kafka: Kafka,
  admin: Admin,
  codec: AvroCodec,
  topic: string,
  groupPrefix: string,
  topo: Topology,
  onBad: (
    err: BadRecordError,
    partition: number,
    offset: string,
    key: Buffer | null,
    value: Buffer | null,
  ) => void,
  logger: Logger,
): Promise<{ consumer: Consumer; ready: Promise<void> }> {
  const ends = await admin.fetchTopicOffsets(topic);
  const pending = new Set(ends.filter((o) => Number(o.high) > Number(o.low)).map((o) => o.partition));
  const high = new Map(ends.map((o) => [o.partition, Number(o.high)]));
  const consumer = kafka.consumer({ groupId: `${groupPrefix}.meters.${randomUUID()}` });
  exitOnCrash(consumer, logger);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let markReady = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const reached = (partition: number, lastOffset: string) => {
    if (Number(lastOffset) + 1 >= (high.get(partition) ?? 0)) pending.delete(partition);
    if (pending.size === 0) markReady();
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => reached(e.payload.partition, e.payload.lastOffset));
  if (pending.size === 0) markReady();
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const meterId = m.key?.toString() ?? '';
        try {
          if (m.value === null) topo.apply(meterId, null);
          else
            topo.apply(
              meterId,
              codec.decodeCached('MeterProfile', m.value) ?? (await codec.decode('MeterProfile', m.value)),
            );
        } catch (err) {
          if (!(err instanceof BadRecordError)) throw err;
          onBad(err, batch.partition, m.offset, m.key, m.value);
        }
      }
    },
  });
  return { consumer, ready };
}
