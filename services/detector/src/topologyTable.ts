import type { Admin, Kafka } from 'kafkajs';
import {
  followMetersTable,
  type AvroCodec,
  type BadMetersRecordHandler,
  type Logger,
  type MetersTable,
} from '@ami/lib';
import type { Topology } from './topology.js';

/**
 * `ami.meters` as a table: every instance reads the whole compacted topic (a
 * global table, own throwaway group, nothing committed) and keeps following it
 * (`followMetersTable` in `@ami/lib`: profiles validated as every consumer of
 * the topic validates them, keyed by meter_id). `ready` resolves once the topic
 * was read to the end seen at start; `catchUp` waits for what was published
 * before the call (an input of a meter published a moment earlier).
 */
export async function followMeters(
  kafka: Kafka,
  admin: Admin,
  codec: AvroCodec,
  topic: string,
  groupPrefix: string,
  topo: Topology,
  onBad: BadMetersRecordHandler,
  logger: Logger,
): Promise<MetersTable> {
  return followMetersTable({
    kafka,
    admin,
    codec,
    topic,
    groupPrefix,
    apply: (meterId, profile) => topo.apply(meterId, profile),
    onBad,
    logger,
  });
}
