import type { KafkaMessage } from 'kafkajs';
import type { MeterStatus, Outage, RecordIndex, SuspectedOutage } from '@ami/lib';
import type { Input } from '../rules.js';
import type { MeterInfo } from '../topology.js';

/**
 * Where an input's bytes are: a kafkajs message, or record `i` of a raw fetch
 * (no object per record; a message is built only for a dead letter).
 */
export type Origin = KafkaMessage | RecordIndex;

/** A buffered input (itself the rules' Input) with where it came from. */
export type Source = Input & {
  topic: string;
  partition: number;
  offset: number;
  from: Origin;
  i: number;
  /** The meter as looked up when it was offered, still valid while the topology is at `version`. */
  info: MeterInfo | undefined;
  version: number;
};

/** The Avro encoders of the outputs. */
export interface Encoders {
  encodeOutage: (o: Outage) => Buffer;
  encodeMomentary: (o: Outage) => Buffer;
  /** A view valid until the next call (statusEncoder.ts). */
  encodeStatus: (s: MeterStatus) => Buffer;
  encodeSuspected: (s: SuspectedOutage) => Buffer;
}

export function isRaw(from: Origin): from is RecordIndex {
  return 'keyStart' in from;
}

/** The input as a kafkajs message (views of the fetched bytes, no copy): what a dead letter carries. */
export function messageOf(from: Origin, i: number): KafkaMessage {
  if (!isRaw(from)) return from;
  const view = (start: number, end: number) => (start < 0 ? null : from.buf.subarray(start, end));
  return {
    key: view(from.keyStart[i]!, from.keyEnd[i]!),
    value: view(from.valueStart[i]!, from.valueEnd[i]!),
    offset: String(from.offset[i]),
    timestamp: String(from.timestamp[i]),
    attributes: 0,
    headers: {},
  };
}

/** `<topic>:<partition>` split. */
export function splitTp(tp: string): [string, number] {
  const i = tp.lastIndexOf(':');
  return [tp.slice(0, i), Number(tp.slice(i + 1))];
}
