import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { AvroCodec } from './avro.js';
import { AmiError, BadRecordError, isRetriable, UnavailableError } from './errors.js';
import { exitOnCrash, retryKafkaStartup } from './kafka.js';
import type { Logger } from './logger.js';
import type { MeterProfile } from './records.js';
import { rejectIfInvalid, validateProfile } from './validate.js';

export type BadMetersRecordHandler = (
  err: BadRecordError,
  partition: number,
  offset: string,
  key: Buffer | null,
  value: Buffer | null,
) => void;

export interface MetersTableOptions {
  kafka: Kafka;
  admin: Admin;
  codec: AvroCodec;
  /** The compacted `<prefix>.meters` topic. */
  topic: string;
  /** The consumer group is `<groupPrefix>.meters.<uuid>`: a throwaway group, nothing committed. */
  groupPrefix: string;
  /**
   * Applies one record, in offset order per partition: the meter id and its
   * profile, or null for a tombstone (the meter id is then the record's key).
   * Only profiles that pass `validateProfile` get here, by their `meter_id`
   * (not the Kafka key): every consumer of the topic agrees on which meters
   * exist. A BadRecordError thrown here skips the record like a bad one.
   */
  apply: (meterId: string, profile: MeterProfile | null) => void;
  /** A record that is not a valid profile; it is skipped (the caller reports it). */
  onBad?: BadMetersRecordHandler;
  logger: Logger;
}

export interface MetersTable {
  /** The throwaway consumer. */
  consumer: Consumer;
  /** Resolves once the topic was read up to its end offsets at start-up. */
  ready: Promise<void>;
  /**
   * Waits until what was consumed reaches the topic's end offsets *now*
   * (fetched after the call): a lookup after this sees every profile published
   * before it. Throws UnavailableError (retriable) after `maxWaitMs`.
   */
  catchUp(maxWaitMs: number): Promise<void>;
  /** Rejects pending waits (not retriable) and disconnects the consumer. */
  stop(): Promise<void>;
}

interface Waiter {
  targets: Map<number, number>;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Follows the compacted meters topic as a table: reads the whole topic with a
 * throwaway consumer group of its own (every instance needs every partition),
 * then keeps applying records. Bad records go to `onBad` and are skipped;
 * retriable failures (registry down) are retried in place with back-off; any
 * other error crashes the consumer and the service exits (`exitOnCrash`), to
 * be restarted by its supervisor.
 */
export async function followMetersTable(opts: MetersTableOptions): Promise<MetersTable> {
  const { kafka, admin, codec, topic, logger } = opts;
  /** Next offset to read per partition (what the table holds). */
  const position = new Map<number, number>();
  const waiters = new Set<Waiter>();
  let stopped = false;
  const stopping = new AbortController();

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
      // No meters topic (yet): no meters; the subscription below creates or waits for it.
      topicExists ||= (await admin.listTopics()).includes(topic);
      if (!topicExists) return new Map();
      // A topic created a moment ago answers "not the leader" for a while: transient, retried.
      const ends = await retryKafkaStartup(`end offsets of ${topic}`, () => admin.fetchTopicOffsets(topic), {
        logger,
      });
      // An empty partition (or one whose every record is before the table's position) needs no wait.
      return new Map(
        ends.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high)]),
      );
    } catch (err) {
      throw new UnavailableError('kafka', `end offsets of ${topic}: ${(err as Error).message}`, err);
    }
  }

  // Not retriable: a check waiting on a stopped follower must not loop.
  const stoppedError = () => new AmiError(`meters table of ${topic} stopped`, { retriable: false });

  function waitFor(targets: Map<number, number>, maxWaitMs?: number): Promise<void> {
    if (reachedAll(targets)) return Promise.resolve();
    if (stopped) return Promise.reject(stoppedError());
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        targets,
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (err) => (clearTimeout(timer), reject(err)),
      };
      const timer =
        maxWaitMs === undefined
          ? undefined
          : setTimeout(() => {
              waiters.delete(w);
              reject(
                new UnavailableError('kafka', `meters table not caught up with ${topic} in ${maxWaitMs} ms`),
              );
            }, maxWaitMs);
      waiters.add(w);
    });
  }

  async function load(m: { key: Buffer | null; value: Buffer | null }): Promise<void> {
    if (m.value === null) {
      const key = m.key?.toString() ?? '';
      if (key === '') throw new BadRecordError('tombstone', 'a meters tombstone without a key');
      return opts.apply(key, null);
    }
    const profile =
      codec.decodeCached('MeterProfile', m.value) ?? (await codec.decode('MeterProfile', m.value));
    rejectIfInvalid(validateProfile(profile));
    opts.apply(profile.meter_id, profile);
  }

  const startEnds = await endOffsets();
  const consumer = kafka.consumer({ groupId: `${opts.groupPrefix}.meters.${randomUUID()}` });
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
              opts.onBad?.(err, batch.partition, m.offset, m.key, m.value);
              break;
            }
            // Stopping: give up, so that disconnecting does not wait for the registry.
            if (!isRetriable(err) || stopped) throw err;
            logger.warn({ err, topic, retryInMs: delay }, 'meters record not applied; retrying');
            await sleep(delay, undefined, { signal: stopping.signal }).catch(() => undefined);
            await heartbeat().catch(() => undefined);
          }
        }
      }
    },
  });

  return {
    consumer,
    ready: waitFor(startEnds),
    async catchUp(maxWaitMs) {
      await waitFor(await endOffsets(), maxWaitMs);
    },
    async stop() {
      stopped = true;
      stopping.abort();
      for (const w of waiters) w.reject(stoppedError());
      waiters.clear();
      await consumer.disconnect();
    },
  };
}
