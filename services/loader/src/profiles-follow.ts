import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import {
  BadRecordError,
  exitOnCrash,
  isRetriable,
  UnavailableError,
  type AvroCodec,
  type Logger,
  type MeterProfile,
} from '@ami/lib';
import type { ProfileTable } from './profiles.js';
import { checkProfile } from './tables.js';

export interface ProfileFollower {
  /** Resolves once the topic was read up to its end offsets at start-up. */
  ready: Promise<void>;
  /**
   * Waits until the table holds everything in the topic *now* (end offsets
   * fetched after the call). A read checked after this sees every profile
   * published before it. Throws UnavailableError (retriable) after `timeoutMs`.
   */
  catchUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface Waiter {
  targets: Map<number, number>;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * `ami.meters` as an in-memory table of the loader's input checks. Every
 * loader instance reads the whole compacted topic (own throwaway group,
 * nothing committed; the loader group's share of the partitions would not be
 * the whole table) and keeps following it. Profiles are accepted as the
 * `meters` table accepts them (a profile the table dead-letters is not known).
 */
export async function followProfiles(opts: {
  kafka: Kafka;
  admin: Admin;
  codec: AvroCodec;
  topic: string;
  groupPrefix: string;
  table: ProfileTable;
  logger: Logger;
  catchUpTimeoutMs: number;
  onBad?: (err: BadRecordError, partition: number, offset: string) => void;
}): Promise<ProfileFollower> {
  const { kafka, admin, codec, topic, table, logger } = opts;
  /** Next offset to read per partition (what the table holds). */
  const position = new Map<number, number>();
  const waiters = new Set<Waiter>();

  const reachedAll = (targets: Map<number, number>) => {
    for (const [p, end] of targets) if ((position.get(p) ?? 0) < end) return false;
    return true;
  };
  const advance = (partition: number, lastOffset: string) => {
    const next = Number(lastOffset) + 1;
    if (next > (position.get(partition) ?? 0)) position.set(partition, next);
    for (const w of waiters)
      if (reachedAll(w.targets)) {
        waiters.delete(w);
        w.resolve();
      }
  };

  let topicExists = false;
  async function endOffsets(): Promise<Map<number, number>> {
    try {
      // No meters topic (yet): no meters; the subscription below creates or waits for it as the loader's does.
      topicExists ||= (await admin.listTopics()).includes(topic);
      if (!topicExists) return new Map();
      const ends = await admin.fetchTopicOffsets(topic);
      // An empty partition (or one whose every record is before the table's position) needs no wait.
      return new Map(
        ends.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high)]),
      );
    } catch (err) {
      throw new UnavailableError('kafka', `end offsets of ${topic}: ${(err as Error).message}`, err);
    }
  }

  function waitFor(targets: Map<number, number>, timeoutMs?: number): Promise<void> {
    if (reachedAll(targets)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        targets,
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (err) => (clearTimeout(timer), reject(err)),
      };
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              waiters.delete(w);
              reject(
                new UnavailableError('kafka', `meters table not caught up with ${topic} in ${timeoutMs} ms`),
              );
            }, timeoutMs);
      waiters.add(w);
    });
  }

  async function load(m: { key: Buffer | null; value: Buffer | null; offset: string }): Promise<void> {
    if (m.value === null) {
      const meterId = m.key?.toString() ?? '';
      if (meterId !== '') table.apply(meterId, null);
      return;
    }
    const p: MeterProfile =
      codec.decodeCached('MeterProfile', m.value) ?? (await codec.decode('MeterProfile', m.value));
    // Same acceptance as the meters table (time zone, ranges); throws BadRecordError.
    checkProfile(p);
    table.apply(p.meter_id, p);
  }

  const startEnds = await endOffsets();
  const consumer: Consumer = kafka.consumer({ groupId: `${opts.groupPrefix}.meters.${randomUUID()}` });
  exitOnCrash(consumer, logger);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  // After eachBatch, and also for batches of control records only (transactions): kafkajs resolves those itself.
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => advance(e.payload.partition, e.payload.lastOffset));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch, heartbeat }) => {
      for (const m of batch.messages) {
        for (let delay = 500; ; delay = Math.min(delay * 2, 30_000)) {
          try {
            await load(m);
            break;
          } catch (err) {
            if (err instanceof BadRecordError) {
              opts.onBad?.(err, batch.partition, m.offset);
              break;
            }
            if (!isRetriable(err)) throw err;
            logger.warn({ err, retryInMs: delay }, 'meters profile decode failed; retrying');
            await sleep(delay);
            await heartbeat().catch(() => undefined);
          }
        }
      }
    },
  });

  return {
    ready: waitFor(startEnds),
    async catchUp(timeoutMs = opts.catchUpTimeoutMs) {
      await waitFor(await endOffsets(), timeoutMs);
    },
    async stop() {
      // Not retriable: a check waiting on a stopped follower must not loop.
      for (const w of waiters) w.reject(new Error('meters follower stopped'));
      waiters.clear();
      await consumer.disconnect();
    },
  };
}
