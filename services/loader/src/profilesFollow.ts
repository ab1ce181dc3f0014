import type { Admin, Kafka } from 'kafkajs';
import { followMetersTable, type AvroCodec, type BadRecordError, type Logger } from '@ami/lib';
import type { ProfileTable } from './profiles.js';

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

/**
 * `ami.meters` as an in-memory table of the loader's input checks. Every
 * loader instance reads the whole compacted topic (own throwaway group,
 * nothing committed; the loader group's share of the partitions would not be
 * the whole table) and keeps following it (`followMetersTable` in `@ami/lib`).
 * Profiles are accepted as the `meters` table accepts them (a profile the
 * table dead-letters is not known).
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
  const { kafka, admin, codec, topic, groupPrefix, table, logger, onBad } = opts;
  const follower = await followMetersTable({
    kafka,
    admin,
    codec,
    topic,
    groupPrefix,
    logger,
    onBad,
    // Validated (validateProfile, as the `meters` table accepts them) and keyed by meter_id there.
    apply: (meterId, profile) => table.apply(meterId, profile),
  });
  return {
    ready: follower.ready,
    catchUp: (timeoutMs = opts.catchUpTimeoutMs) => follower.catchUp(timeoutMs),
    stop: () => follower.stop(),
  };
}
