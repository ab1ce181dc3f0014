import type { Admin, Consumer, Kafka } from 'kafkajs';
import { followMetersTable, type AvroCodec, type BadMetersRecordHandler, type Logger } from '@ami/lib';
import type { Topology } from './topology.js';

/**
 * `ami.meters` as a table: every instance reads the whole compacted topic (a
 * global table, own throwaway group, nothing committed) and keeps following it
 * (`followMetersTable` in `@ami/lib`). `ready` resolves once the topic was read
 * to the end seen at start.
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
): Promise<{ consumer: Consumer; ready: Promise<void> }> {
  const { consumer, ready } = await followMetersTable({
    kafka,
    admin,
    codec,
    topic,
    groupPrefix,
    apply: (meterId, profile) => topo.apply(meterId, profile),
    onBad,
    logger,
  });
  return { consumer, ready };
}
