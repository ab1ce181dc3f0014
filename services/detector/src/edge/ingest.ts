import { setTimeout as delay } from 'node:timers/promises';
import {
  BadRecordError,
  isRetriable,
  TOPOLOGY_REASONS,
  validateEvent,
  validateRead,
  type AvroCodec,
  type Invalid,
  type KnownMeter,
  type MeterEvent,
  type MeterRead,
  type MetersTable,
} from '@ami/lib';
import type { PingEdge } from '../pingEdge.js';
import { isDuplicate } from '../rules.js';
import { onArrival } from '../suspicion.js';
import type { MeterInfo } from '../topology.js';
import type { EdgeContext } from './context.js';
import { isRaw, type Origin, type Source } from './inputs.js';
import type { PendingRecords } from './pending.js';
import type { Repartition } from './repartition.js';

/**
 * An input from its bytes to the event-time gate: decoded (the writer schema fetched when new),
 * validated against ranges and the topology, forwarded when another partition owns its feeder,
 * de-duplicated, and offered to the gate; a bad one goes to the DLQ. Last gasps are seen on arrival
 * too (suspected outages, pings), before the watermark.
 */
export class Ingest {
  private stopped = false;
  /** Wall time at which the last completed meters catch-up started. */
  private metersCaughtUpFrom = Number.NEGATIVE_INFINITY;
  private looked: MeterInfo | undefined;
  private readonly known: { gardu_id: string; installed_at: number | undefined } = {
    gardu_id: '',
    installed_at: undefined,
  };

  constructor(
    private readonly c: EdgeContext,
    private readonly codec: AvroCodec,
    private readonly meters: Pick<MetersTable, 'catchUp'>,
    private readonly pending: PendingRecords,
    private readonly repartition: Repartition,
    /** Ping verification of suspected outages; null when DETECTOR_PINGS is off. */
    private readonly pings: PingEdge | null,
  ) {}

  /** No more catching up (the service stops). */
  close(): void {
    this.stopped = true;
  }

  /**
   * Decode, validate and buffer one input (a kafkajs message, or record `i` of
   * a raw fetch). Synchronous (returns undefined) when the writer schema is
   * cached, the hot path; otherwise the promise of doing so once the schema is
   * fetched.
   */
  offer(
    tp: string,
    kind: 'event' | 'read',
    topic: string,
    partition: number,
    from: Origin,
    i: number,
    now: number,
  ): Promise<void> | undefined {
    const buf = isRaw(from)
      ? from.valueStart[i]! < 0
        ? null
        : from.buf.subarray(from.valueStart[i]!, from.valueEnd[i]!)
      : from.value;
    let value: MeterEvent | MeterRead | undefined;
    try {
      if (buf === null) throw new BadRecordError('null-value', 'a reads/events message has no value');
      value = this.codec.decodeCached(kind === 'event' ? 'MeterEvent' : 'MeterRead', buf);
    } catch (err) {
      if (!(err instanceof BadRecordError)) throw err;
      this.pending.dead(topic, partition, from, i, err.reason, err.message);
      return undefined;
    }
    if (value === undefined) return this.offerFetching(tp, kind, topic, partition, from, i, buf!, now);
    return this.admit(tp, source(kind, value, topic, partition, from, i), now);
  }

  /** `offer` for a writer schema not cached yet: fetched from the registry first. */
  private async offerFetching(
    tp: string,
    kind: 'event' | 'read',
    topic: string,
    partition: number,
    from: Origin,
    i: number,
    buf: Buffer,
    now: number,
  ): Promise<void> {
    let value: MeterEvent | MeterRead;
    try {
      value = await this.codec.decode(kind === 'event' ? 'MeterEvent' : 'MeterRead', buf);
    } catch (err) {
      if (!(err instanceof BadRecordError)) throw err;
      return this.pending.dead(topic, partition, from, i, err.reason, err.message);
    }
    await this.admit(tp, source(kind, value, topic, partition, from, i), now);
  }

  /** The topology lookup of the validation: the meter is kept for the rules (one lookup per input). */
  private readonly lookup = (id: string): KnownMeter | undefined => {
    const m = this.c.rules.topo.meter(id);
    this.looked = m;
    if (m === undefined) return undefined;
    // One object reused: the validation reads it only during the call.
    this.known.gardu_id = m.garduId;
    this.known.installed_at = m.installedAt;
    return this.known;
  };

  /**
   * Validate (ranges and topology, packages/lib/src/validate.ts), drop duplicates, offer to the gate.
   * Synchronous, except that a topology reason (unknown meter, ...) first brings the meters table up
   * to the meters topic's end: the profile may have been published a moment before the input.
   */
  private admit(tp: string, source: Source, now: number): Promise<void> | undefined {
    const invalid = this.validate(source, now);
    // A catch-up that started after this input was fetched already covers it.
    if (invalid !== undefined && TOPOLOGY_REASONS.has(invalid.reason) && this.metersCaughtUpFrom < now)
      return this.admitAfterCatchUp(tp, source, now);
    this.admitValid(tp, source, now, invalid);
    return undefined;
  }

  private async admitAfterCatchUp(tp: string, source: Source, now: number): Promise<void> {
    await this.catchUpMeters();
    this.admitValid(tp, source, now, this.validate(source, now));
  }

  /** Brings the meters table up to the topic's end offsets of now; retried while Kafka does not answer. */
  private async catchUpMeters(): Promise<void> {
    for (let wait = 500; !this.stopped; wait = Math.min(wait * 2, 30_000)) {
      const started = Date.now();
      try {
        await this.meters.catchUp(this.c.cfg.DETECTOR_METERS_CATCHUP_MS);
        this.metersCaughtUpFrom = Math.max(this.metersCaughtUpFrom, started);
        return;
      } catch (err) {
        // Not retriable: the follower stopped (the service stops); the input is judged as it is.
        if (!isRetriable(err)) return;
        this.c.logger.warn(
          { err, retryInMs: wait },
          'meters table not caught up; retrying before dead-lettering',
        );
        await delay(wait);
      }
    }
  }

  private validate(source: Source, now: number): Invalid | undefined {
    this.looked = undefined;
    return source.kind === 'event'
      ? validateEvent(source.value, { now, lookup: this.lookup })
      : validateRead(source.value, { now, lookup: this.lookup });
  }

  private admitValid(tp: string, source: Source, now: number, invalid: Invalid | undefined): void {
    const { rules, st, gate, stats } = this.c;
    if (invalid !== undefined)
      return this.pending.dead(
        source.topic,
        source.partition,
        source.from,
        source.i,
        invalid.reason,
        invalid.detail,
      );
    const looked = this.looked as MeterInfo | undefined; // set by `lookup` during the validation
    if (looked !== undefined && looked.meterId === source.value.meter_id) {
      source.info = looked;
      source.version = rules.topo.version;
      // A held input shares the topology's id strings instead of its own copies (a blackout holds ~1 M).
      source.value.meter_id = looked.meterId;
      if (source.value.gardu_id === looked.garduId) source.value.gardu_id = looked.garduId;
    }
    const t = source.kind === 'event' ? source.value.occurred_at : source.value.read_at;
    // The Kafka record timestamp bounds how far ahead one meter's clock may take event time.
    const kafkaTs = isRaw(source.from) ? source.from.timestamp[source.i]! : Number(source.from.timestamp);
    if (this.repartition.forwarded(tp, source, t, kafkaTs, now)) return;
    if (source.kind === 'event' && isDuplicate(rules, st, source.value, source.info)) {
      stats.duplicates++;
      return;
    }
    const verdict = gate.offer(tp, source.offset, t, source, now, {
      meterId: source.value.meter_id,
      kafkaTs,
    });
    if (verdict === 'buffered') this.arrived(source, kafkaTs);
    else if (verdict === 'replayed') stats.replayed++;
    else if (verdict === 'suspect') stats.suspects++;
    else if (verdict === 'late') {
      stats.late++;
      const detail = `event time ${new Date(t).toISOString()} is before the watermark ${new Date(gate.watermark).toISOString()}`;
      this.pending.dead(source.topic, source.partition, source.from, source.i, 'late', detail);
    }
  }

  /**
   * A buffered input as it arrives, before the watermark: last gasps crossing the rule's threshold
   * are published as suspected at the next step (replayed inputs are in the saved arrival state).
   */
  private arrived(source: Source, kafkaTs: number): void {
    const { rules, st, sst, garduPartition } = this.c;
    const info = source.info ?? rules.topo.meter(source.value.meter_id);
    if (info === undefined) return;
    onArrival(rules, sst, st, source, info, kafkaTs);
    this.pings?.arrived(st, source, info, Date.now());
    if (sst.dirty.has(info.garduId) && garduPartition.get(info.garduId) !== source.partition)
      garduPartition.set(info.garduId, source.partition);
  }

  /** Suspects (ahead of the fleet's clock) no other meter confirmed in time: to the DLQ, `future-dated`. */
  expireSuspects(now: number): void {
    this.c.gate.expireSuspects(now, (h) => {
      const s = h.value;
      const t = new Date(h.t).toISOString();
      this.pending.dead(
        s.topic,
        s.partition,
        s.from,
        s.i,
        'future-dated',
        `event time ${t} of meter ${s.value.meter_id} is more than ${this.c.cfg.DETECTOR_MAX_CLOCK_SKEW_MS} ms ahead of its Kafka timestamp and of every other meter (a faulty clock; it would move the watermark)`,
      );
    });
  }
}

function source(
  kind: 'event' | 'read',
  value: MeterEvent | MeterRead,
  topic: string,
  partition: number,
  from: Origin,
  i: number,
): Source {
  const offset = isRaw(from) ? from.offset[i]! : Number(from.offset);
  return { kind, value, topic, partition, offset, from, i, info: undefined, version: -1 } as Source;
}
