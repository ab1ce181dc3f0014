import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, Message } from 'kafkajs';
import type { Logger } from '@ami/lib';
import type { TpMeta } from './eventTime.js';
import type { GarduSnapshot } from './rules.js';

/**
 * The detector's state topic (compacted, internal): per gardu its snapshot
 * (`g:<gardu_id>`), per input topic-partition the event-time meta
 * (`tp:<topic>:<partition>`). Records go to the partition of the gardu's
 * traffic, in the same transaction as outputs and input offsets, so a new
 * owner of partition p rebuilds exactly the state that matches the offsets.
 */
export function stateTopic(prefix: string): string {
  return `${prefix}.detector-state`;
}

export function garduRecord(
  partition: number,
  garduId: string,
  snap: GarduSnapshot | null,
): Message & { partition: number } {
  return { partition, key: `g:${garduId}`, value: snap === null ? null : JSON.stringify(snap) };
}

export function tpRecord(partition: number, tp: string, meta: TpMeta): Message & { partition: number } {
  return { partition, key: `tp:${tp}`, value: JSON.stringify(meta) };
}

export interface LoadedState {
  gardus: Array<{ partition: number; snap: GarduSnapshot }>;
  tps: Map<string, TpMeta>;
}

/** Read partitions `wanted` of the state topic to their end; the latest value per key wins. */
export async function loadState(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  groupPrefix: string,
  wanted: number[],
  logger: Logger,
): Promise<LoadedState> {
  const ends = new Map(
    (await admin.fetchTopicOffsets(topic)).map((o) => [
      o.partition,
      { low: Number(o.low), high: Number(o.high) },
    ]),
  );
  const pending = new Set(wanted.filter((p) => (ends.get(p)?.high ?? 0) > (ends.get(p)?.low ?? 0)));
  const latest = new Map<string, { partition: number; value: string | null }>();
  if (pending.size > 0) {
    const consumer = kafka.consumer({
      groupId: `${groupPrefix}.restore.${randomUUID()}`,
      readUncommitted: false,
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      const reached = (partition: number, lastOffset: string) => {
        if (Number(lastOffset) + 1 >= ends.get(partition)!.high) pending.delete(partition);
        if (pending.size === 0) resolve();
      };
      // Also fires for batches of only transaction markers, which eachBatch never sees.
      consumer.on(consumer.events.END_BATCH_PROCESS, (e) =>
        reached(e.payload.partition, e.payload.lastOffset),
      );
      void consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          if (!wanted.includes(batch.partition)) return;
          for (const m of batch.messages)
            latest.set(m.key!.toString(), { partition: batch.partition, value: m.value?.toString() ?? null });
        },
      });
    });
    await done;
    await consumer.disconnect();
  }
  const state: LoadedState = { gardus: [], tps: new Map() };
  for (const [key, { partition, value }] of latest) {
    if (value === null) continue;
    if (key.startsWith('g:')) state.gardus.push({ partition, snap: JSON.parse(value) as GarduSnapshot });
    else if (key.startsWith('tp:')) state.tps.set(key.slice(3), JSON.parse(value) as TpMeta);
  }
  logger.info(
    { partitions: wanted, gardus: state.gardus.length },
    'detector state rebuilt from the state topic',
  );
  return state;
}
