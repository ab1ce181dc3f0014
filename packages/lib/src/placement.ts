import { partitionForKey } from './kafkaWire/protocol.js';

/**
 * Where a read or event of a gardu goes: the gardu and, when known, the feeder it hangs on
 * (`MeterProfile.feeder_id`).
 */
export interface InputPlace {
  garduId: string;
  /** Undefined or empty: the feeder is not known (the gardu is not in the meters table yet). */
  feederId?: string | undefined;
}

/**
 * The partition of `<prefix>.reads` and `<prefix>.events` for a gardu's traffic (contract,
 * "Placement"): Kafka's murmur2 of the FEEDER id, so every gardu of one feeder shares a partition
 * and one detector instance rolls the feeder up; the record key stays the gardu id. A gardu whose
 * feeder is unknown is placed by its own id, as Kafka's default partitioner places the key. Each
 * gardu's traffic still shares one partition, so each meter's messages stay in order.
 */
export function inputPartition(place: InputPlace, partitions: number): number {
  const by = place.feederId !== undefined && place.feederId !== '' ? place.feederId : place.garduId;
  return partitionForKey(Buffer.from(by), partitions);
}
