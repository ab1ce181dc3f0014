import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, Message } from 'kafkajs';
import type { Logger } from '@ami/lib';
import type { TpMeta } from './eventTime.js';
import type { MeterFacts } from './meterStatus.js';
import type { FeederOutage, GarduSnapshot, GarduState } from './rules.js';

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
  // As bytes: a ~20 KB string value would be measured twice by the transaction, then encoded.
  return { partition, key: `g:${garduId}`, value: snap === null ? null : Buffer.from(encodeSnapshot(snap)) };
}

/** Every field of MeterFacts, so that a new one fails to compile here until the encoding has it. */
type FactsFields = 'relay' | 'cause' | 'reconnectEnabled' | 'relaySince' | 'shown';
const _allFactsFields: [keyof MeterFacts] extends [FactsFields]
  ? [FactsFields] extends [keyof MeterFacts]
    ? true
    : never
  : never = true;
void _allFactsFields;

/** [meter, relay, cause, reconnect 0/1, relaySince] then, if shown, [state, outageId, since]. */
type FactsRow =
  | [string, MeterFacts['relay'], MeterFacts['cause'], 0 | 1, number]
  | [
      string,
      MeterFacts['relay'],
      MeterFacts['cause'],
      0 | 1,
      number,
      NonNullable<MeterFacts['shown']>['state'],
      string | null,
      number,
    ];

/** Ids are short and plain: quoted as they are, unless a character needs JSON escaping. */
const PLAIN = /^[\w.:@/-]*$/;
const id = (s: string | null): string => (s === null ? 'null' : PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));
/** Event times are finite; JSON writes anything else as null. */
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

/**
 * A gardu's snapshot as JSON, version 3: the meters' facts as rows of values instead of objects with
 * repeated keys (since version 2: in a storm every meter of a gardu has facts, three quarters of a
 * snapshot, ~34 KB of JSON for 133 meters in version 1, ~22 KB here, and a snapshot is written at
 * every step that changed the gardu), and the remembered event ids (a Map in memory) as one object
 * beside them (version 3). Relay, cause and state are enum words, written without escaping
 * (bench:detector prints the time and size against JSON.stringify of version 1).
 */
export function encodeSnapshot(snap: GarduSnapshot): string {
  let facts = '';
  for (const m in snap.gardu.facts) {
    const f = snap.gardu.facts[m]!;
    facts += `${facts === '' ? '[' : ',['}${id(m)},"${f.relay}","${f.cause}",${f.reconnectEnabled ? 1 : 0},${num(f.relaySince)}`;
    if (f.shown !== undefined) facts += `,"${f.shown.state}",${id(f.shown.outageId)},${num(f.shown.since)}`;
    facts += ']';
  }
  let seen = '';
  for (const [eventId, at] of snap.gardu.seen) seen += `${seen === '' ? '' : ','}${id(eventId)}:${num(at)}`;
  const { facts: _facts, seen: _seen, ...gardu } = snap.gardu;
  return `{"v":3,"gardu":${JSON.stringify(gardu)},"seen":{${seen}},"facts":[${facts}],"feeders":${JSON.stringify(snap.feeders)}}`;
}

type Written<G> = Omit<G, 'facts' | 'seen'>;

/** The snapshot of encodeSnapshot, or of an older version (1: plain JSON of the state; 2: no "seen" beside the facts). */
export function decodeSnapshot(json: string): GarduSnapshot {
  const raw = JSON.parse(json) as
    | {
        gardu: Written<GarduState> & { facts: Record<string, MeterFacts>; seen: Record<string, number> };
        feeders: FeederOutage[];
      }
    | {
        v: 2;
        gardu: Written<GarduState> & { seen: Record<string, number> };
        facts: FactsRow[];
        feeders: FeederOutage[];
      }
    | {
        v: 3;
        gardu: Written<GarduState>;
        seen: Record<string, number>;
        facts: FactsRow[];
        feeders: FeederOutage[];
      };
  if (!('v' in raw)) return { gardu: { ...raw.gardu, seen: seenOf(raw.gardu.seen) }, feeders: raw.feeders };
  const seen = seenOf(raw.v === 2 ? raw.gardu.seen : raw.seen);
  const { seen: _seen, ...gardu } = raw.gardu as Written<GarduState> & { seen?: unknown };
  return { gardu: { ...gardu, facts: factsOf(raw.facts), seen }, feeders: raw.feeders };
}

function seenOf(o: Record<string, number>): Map<string, number> {
  return new Map(Object.entries(o));
}

function factsOf(rows: FactsRow[]): Record<string, MeterFacts> {
  const facts: Record<string, MeterFacts> = {};
  for (const row of rows) {
    const f: MeterFacts = {
      relay: row[1],
      cause: row[2],
      reconnectEnabled: row[3] === 1,
      relaySince: row[4],
    };
    if (row.length === 8) f.shown = { state: row[5], outageId: row[6], since: row[7] };
    facts[row[0]] = f;
  }
  return facts;
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
    if (key.startsWith('g:')) state.gardus.push({ partition, snap: decodeSnapshot(value) });
    else if (key.startsWith('tp:')) state.tps.set(key.slice(3), JSON.parse(value) as TpMeta);
  }
  logger.info(
    { partitions: wanted, gardus: state.gardus.length },
    'detector state rebuilt from the state topic',
  );
  return state;
}
