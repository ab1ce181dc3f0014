import { Reader, Writer } from '../protocol.js';

/** Metadata v1: brokers and the leader of every partition of the topics asked for. */

export interface BrokerAddress {
  host: string;
  port: number;
}

export interface TopicMetadata {
  /** The topic's error code (TOPIC_AUTHORIZATION_FAILED, UNKNOWN_TOPIC_OR_PARTITION, ...). */
  code: number;
  /** Leader broker id by partition index (-1: none now). */
  leaders: number[];
}

export interface MetadataAnswer {
  brokers: Map<number, BrokerAddress>;
  topics: Map<string, TopicMetadata>;
}

export function encodeMetadataRequest(_version: number, topics: readonly string[]): Buffer[] {
  const w = new Writer().int32(topics.length);
  for (const t of topics) w.string(t);
  return w.done();
}

export function decodeMetadataResponse(body: Buffer, _version: number): MetadataAnswer {
  const r = new Reader(body);
  const brokers = new Map<number, BrokerAddress>();
  for (let n = r.int32(); n > 0; n--) {
    const id = r.int32();
    const host = r.string()!;
    const port = r.int32();
    r.string(); // rack
    brokers.set(id, { host, port });
  }
  r.int32(); // controller
  const topics = new Map<string, TopicMetadata>();
  for (let n = r.int32(); n > 0; n--) {
    const code = r.int16();
    const name = r.string()!;
    r.int8(); // internal
    const leaders: number[] = [];
    for (let p = r.int32(); p > 0; p--) {
      r.int16(); // partition error: its leader says it (-1 when there is none)
      const index = r.int32();
      leaders[index] = r.int32();
      for (let k = r.int32(); k > 0; k--) r.int32(); // replicas
      for (let k = r.int32(); k > 0; k--) r.int32(); // isr
    }
    topics.set(name, { code, leaders });
  }
  return { brokers, topics };
}
