import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, Message } from 'kafkajs';
import type { Logger } from '@ami/lib';
import type { TpMeta } from './eventTime.js';
import { shownOf, type MeterFacts } from './meterStatus.js';
import type { FeederOutage, GarduSnapshot, GarduState, Incident } from './rules.js';

/**
 * The detector's state topic (compacted, internal): per gardu its snapshot
 * (`g:<gardu_id>`), its suspicions on arrival (`s:<gardu_id>`), per input topic-partition the event-time meta
 * (`tp:<topic>:<partition>`). Records go to the partition of the gardu's
 * traffic, in the same transaction as outputs and input offsets, so a new
 * owner of partition p rebuilds exactly the state that matches the offsets.
 */
export function stateTopic(prefix: string): string {
  return `${prefix}.detector-state`;
}

/**
 * The detector's repartition topic (internal, as many partitions as the inputs): reads and events
 * not on their feeder's partition, forwarded there (key and bytes as they came, header
 * `ami.kind` = `read` or `event`), and the watermark markers of every input partition's owner
 * (`ami.kind` = `watermark`; README, "Scaling out").
 */
export function repartitionTopic(prefix: string): string {
  return `${prefix}.detector-repartition`;
}

/** What an owner announces on every repartition partition: inputs it forwards later from `sources` come after `bound`. */
export interface WatermarkMarker {
  bound: number;
  sources: string[];
}

export const KIND_HEADER = 'ami.kind';

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
/** Version 4: a run of meters with equal facts, their ids first ([meters, relay, ...] as FactsRow). */
type FactsRun = [string[], ...(FactsRow extends [string, ...infer Rest] ? Rest : never)];

/** Ids are short and plain: quoted as they are, unless a character needs JSON escaping. */
const PLAIN = /^[\w.:@/-]*$/;
const id = (s: string | null): string => (s === null ? 'null' : PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));
/** Event times are finite; JSON writes anything else as null. */
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

/** The same facts: consecutive meters with them share one run in the snapshot. */
function sameFacts(a: MeterFacts, b: MeterFacts): boolean {
  if (a.relay !== b.relay || a.cause !== b.cause || a.reconnectEnabled !== b.reconnectEnabled) return false;
  if (a.relaySince !== b.relaySince) return false;
  if (a.shown === undefined || b.shown === undefined) return a.shown === b.shown;
  return (
    a.shown.state === b.shown.state &&
    a.shown.outageId === b.shown.outageId &&
    a.shown.since === b.shown.since
  );
}

/** One run of facts as written: `[ids]` then the fields of its meters' facts. */
function factsRun(ids: string, f: MeterFacts): string {
  let run = `[[${ids}],"${f.relay}","${f.cause}",${f.reconnectEnabled ? 1 : 0},${num(f.relaySince)}`;
  if (f.shown !== undefined) run += `,"${f.shown.state}",${id(f.shown.outageId)},${num(f.shown.since)}`;
  return `${run}]`;
}

/**
 * A gardu's snapshot as JSON, version 5 (version 5: incidents carry `back`, `returns`, `countedElsewhere`,
 * `parentRestoredAt` and `bulkStartedAt`, for the customer-seconds of each record). The meters' facts are rows of values, not objects with repeated
 * keys (since version 2: in a storm every meter of a gardu has facts), and consecutive meters with the same
 * facts share one row (version 4: once a storm's outage is confirmed, the meters that gasped all show it
 * since the same time, and their rows were half of the snapshot). The remembered event ids (a Map in
 * memory) are one object beside them (since version 3). Relay, cause and state are enum words, written
 * without escaping (bench:detector prints the time and size against JSON.stringify of version 1).
 */
export function encodeSnapshot(snap: GarduSnapshot): string {
  let facts = '';
  let run: MeterFacts | undefined;
  let ids = '';
  for (const m in snap.gardu.facts) {
    const f = snap.gardu.facts[m]!;
    if (run !== undefined && sameFacts(run, f)) {
      ids += `,${id(m)}`;
      continue;
    }
    if (run !== undefined) facts += `${facts === '' ? '' : ','}${factsRun(ids, run)}`;
    run = f;
    ids = id(m);
  }
  if (run !== undefined) facts += `${facts === '' ? '' : ','}${factsRun(ids, run)}`;
  let seen = '';
  for (const [eventId, at] of snap.gardu.seen) seen += `${seen === '' ? '' : ','}${id(eventId)}:${num(at)}`;
  const { facts: _facts, seen: _seen, ...gardu } = snap.gardu;
  return `{"v":5,"gardu":${JSON.stringify(gardu)},"seen":{${seen}},"facts":[${facts}],"feeders":${JSON.stringify(snap.feeders)}}`;
}

type Written<G> = Omit<G, 'facts' | 'seen'>;

/**
 * The snapshot of encodeSnapshot, or of an older version (1: plain JSON of the state; 2: no "seen" beside
 * the facts; 2 and 3: a row per meter).
 */
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
        v: 3 | 4 | 5;
        gardu: Written<GarduState>;
        seen: Record<string, number>;
        facts: Array<FactsRow | FactsRun>;
        feeders: FeederOutage[];
      };
  if (!('v' in raw))
    return {
      gardu: { ...raw.gardu, incidents: incidentsOf(raw.gardu.incidents), seen: seenOf(raw.gardu.seen) },
      feeders: raw.feeders,
    };
  const seen = seenOf(raw.v === 2 ? raw.gardu.seen : raw.seen);
  const { seen: _seen, ...gardu } = raw.gardu as Written<GarduState> & { seen?: unknown };
  return {
    gardu: { ...gardu, incidents: incidentsOf(gardu.incidents), facts: factsOf(raw.facts), seen },
    feeders: raw.feeders,
  };
}

/**
 * Incidents of versions 1-4 lack the fields version 5 added: a meter's return is then its latest sign of
 * life, nothing is counted elsewhere, and a nested outage counts from its start (an over-count, only
 * for outages open across the upgrade).
 */
function incidentsOf(incidents: Array<Partial<Incident> & Omit<Incident, NewIncidentFields>>): Incident[] {
  return incidents.map((i) => ({
    ...i,
    back: i.back ?? { ...i.alive },
    returns: i.returns ?? {},
    countedElsewhere: i.countedElsewhere ?? [],
    parentRestoredAt: i.parentRestoredAt ?? null,
    bulkStartedAt: i.bulkStartedAt ?? null,
  }));
}
type NewIncidentFields = 'back' | 'returns' | 'countedElsewhere' | 'parentRestoredAt' | 'bulkStartedAt';

function seenOf(o: Record<string, number>): Map<string, number> {
  return new Map(Object.entries(o));
}

function factsOf(rows: Array<FactsRow | FactsRun>): Record<string, MeterFacts> {
  const facts: Record<string, MeterFacts> = {};
  for (const row of rows) {
    // Each meter of a run gets its own object: the rules change one meter's facts in place.
    // The run's meters share one shown status (immutable), not its other facts.
    const shown = row.length === 8 ? shownOf(row[5], row[6], row[7]) : undefined;
    for (const meter of typeof row[0] === 'string' ? [row[0]] : row[0]) {
      const f: MeterFacts = {
        relay: row[1],
        cause: row[2],
        reconnectEnabled: row[3] === 1,
        relaySince: row[4],
      };
      if (shown !== undefined) f.shown = shown;
      facts[meter] = f;
    }
  }
  return facts;
}

export function tpRecord(partition: number, tp: string, meta: TpMeta): Message & { partition: number } {
  return { partition, key: `tp:${tp}`, value: JSON.stringify(meta) };
}

/**
 * A partition's event-time meta as saved by `tpRecord`. JSON writes a time of a partition that has
 * had no input (-Infinity) as null, which arithmetic would take for time 0 (1970): read back as -Infinity.
 */
export function decodeTpMeta(json: string): TpMeta {
  const raw = JSON.parse(json) as { [K in keyof TpMeta]: TpMeta[K] | null };
  const time = (t: number | null | undefined) => t ?? Number.NEGATIVE_INFINITY;
  return {
    consumedUpTo: raw.consumedUpTo ?? 0,
    maxTime: time(raw.maxTime),
    releasedUpTo: time(raw.releasedUpTo),
    ...(raw.forwardedUpTo === null || raw.forwardedUpTo === undefined
      ? {}
      : { forwardedUpTo: raw.forwardedUpTo }),
  };
}

/** A gardu's suspicions on arrival (suspicion.ts, JSON; null when it has none), key `s:<gardu_id>`. */
export function arrivalRecord(
  partition: number,
  garduId: string,
  json: string | null,
): Message & { partition: number } {
  return { partition, key: `s:${garduId}`, value: json };
}

export interface LoadedState {
  gardus: Array<{ partition: number; snap: GarduSnapshot }>;
  tps: Map<string, TpMeta>;
  /** Suspicions on arrival, per gardu (JSON of suspicion.ts `ArrivalGardu`). */
  arrivals: Array<{ partition: number; garduId: string; json: string }>;
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
  const state: LoadedState = { gardus: [], tps: new Map(), arrivals: [] };
  for (const [key, { partition, value }] of latest) {
    if (value === null) continue;
    if (key.startsWith('g:')) state.gardus.push({ partition, snap: decodeSnapshot(value) });
    else if (key.startsWith('tp:')) state.tps.set(key.slice(3), decodeTpMeta(value));
    else if (key.startsWith('s:')) state.arrivals.push({ partition, garduId: key.slice(2), json: value });
  }
  logger.info(
    { partitions: wanted, gardus: state.gardus.length },
    'detector state rebuilt from the state topic',
  );
  return state;
}
