import type { KafkaMessage } from 'kafkajs';
import { inputPartition } from '@ami/lib';
import { KIND_HEADER, repartitionTopic, type WatermarkMarker } from '../changelog.js';
import type { Out } from '../output.js';
import type { MeterInfo } from '../topology.js';
import type { EdgeContext } from './context.js';
import { messageOf, splitTp, type Source } from './inputs.js';
import type { PendingRecords } from './pending.js';

/** Wall clock between watermark markers of an instance with nothing else to write (quiet inputs). */
const MARKER_INTERVAL_MS = 250;

/**
 * Scale-out ("Scaling out" in the README): inputs not on their feeder's partition go to the
 * repartition topic on that partition, and each instance announces its own watermark there in
 * markers, so that the owners of the repartition partitions know how far its forwards go.
 */
export class Repartition {
  /** The repartition topic; undefined with DETECTOR_REPARTITION off. */
  topic: string | undefined;
  /** Partitions of the inputs. */
  partitions = 0;
  /** Gardu -> its feeder's partition, valid while the meters table is at `homesVersion`. */
  private readonly homes = new Map<string, number>();
  private homesVersion = -1;
  /** The own watermark last announced, and when (wall clock). */
  private announced = Number.NEGATIVE_INFINITY;
  private announcedAt = 0;
  /** An assignment changed: announce again (a new owner of a repartition partition heard nothing yet). */
  private announceDue = false;

  constructor(
    private readonly c: EdgeContext,
    private readonly pending: PendingRecords,
  ) {}

  /**
   * The inputs have `partitions` partitions; with DETECTOR_REPARTITION, inputs go to their feeder's
   * and the repartition topic's partitions wait for every input partition's owner.
   */
  placeBy(partitions: number): void {
    this.partitions = partitions;
    if (!this.c.cfg.DETECTOR_REPARTITION) return;
    this.topic = repartitionTopic(this.c.cfg.AMI_TOPIC_PREFIX);
    const sources: string[] = [];
    for (const topic of [this.c.topics.reads, this.c.topics.events])
      for (let p = 0; p < partitions; p++) sources.push(`${topic}:${p}`);
    this.c.gate.expectSources(sources);
  }

  /** An assignment changed: the next step announces. */
  assigned(): void {
    this.announceDue = true;
  }

  /**
   * An input of reads or events not on its feeder's partition goes to the repartition topic on that
   * partition, in the step's transaction with the offsets past it, and is processed by that
   * partition's owner. True when it was taken so (or is late here, or was forwarded before the saved
   * state). Inputs read from the repartition topic stay where they are.
   */
  forwarded(tp: string, source: Source, t: number, kafkaTs: number, now: number): boolean {
    const to = this.topic;
    if (to === undefined || source.topic === to || source.info === undefined) return false;
    const home = this.homeOf(source.info);
    if (home === source.partition) return false;
    const { gate, stats } = this.c;
    const verdict = gate.pass(tp, source.offset, t, now, { meterId: source.value.meter_id, kafkaTs });
    if (verdict === 'replayed') stats.replayed++;
    else if (verdict === 'late') {
      stats.late++;
      const detail = `event time ${new Date(t).toISOString()} is before the watermark ${new Date(gate.ownWatermark(now)).toISOString()} this instance announced to the repartition topic`;
      this.pending.dead(source.topic, source.partition, source.from, source.i, 'late', detail);
    } else {
      stats.forwarded++;
      this.c.metrics.forwarded.inc({ topic: source.topic });
      const m = messageOf(source.from, source.i);
      this.pending.add(
        { topic: to, partition: home, key: m.key, value: m.value, headers: { [KIND_HEADER]: source.kind } },
        source.partition,
      );
    }
    return true;
  }

  /** The partition of a gardu's feeder (`inputPartition`), cached while the meters table is unchanged. */
  private homeOf(info: MeterInfo): number {
    const topo = this.c.rules.topo;
    if (this.homesVersion !== topo.version) {
      this.homes.clear();
      this.homesVersion = topo.version;
    }
    let home = this.homes.get(info.garduId);
    if (home === undefined) {
      home = inputPartition({ garduId: info.garduId, feederId: info.feederId }, this.partitions);
      this.homes.set(info.garduId, home);
    }
    return home;
  }

  /**
   * A record of the repartition topic: the kind of a forwarded input, or undefined for a watermark
   * marker (its bounds go to the gate) or a record without a known kind (dead-lettered).
   */
  kindOf(tp: string, partition: number, message: KafkaMessage): 'read' | 'event' | undefined {
    const kind = message.headers?.[KIND_HEADER]?.toString();
    if (kind === 'read' || kind === 'event') return kind;
    const marker = kind === 'watermark' ? parseMarker(message.value) : undefined;
    if (marker !== undefined) {
      for (const source of marker.sources) this.c.gate.announce(tp, source, marker.bound);
      return undefined;
    }
    this.pending.dead(
      this.topic!,
      partition,
      message,
      0,
      'bad-repartition-record',
      kind === 'watermark'
        ? 'a watermark marker that is not {bound, sources} JSON'
        : `header ${KIND_HEADER} is ${kind ?? 'missing'}, not read, event or watermark`,
    );
    return undefined;
  }

  /**
   * The watermark markers of the step, one per repartition partition: this instance's own
   * watermark, after the step's forwards. Sent with any transaction, else at most every
   * MARKER_INTERVAL_MS while it moves (quiet inputs), and at once after an assignment.
   */
  markers(busy: boolean, now: number): Out[] {
    const topic = this.topic;
    if (topic === undefined) return [];
    if (!busy && !this.announceDue && now - this.announcedAt < MARKER_INTERVAL_MS) return [];
    const gate = this.c.gate;
    const sources = gate.topicPartitions().filter((tp) => splitTp(tp)[0] !== topic);
    const bound = gate.announceOwn(now);
    if (sources.length === 0 || !Number.isFinite(bound) || (bound === this.announced && !this.announceDue))
      return [];
    this.announced = bound;
    this.announcedAt = now;
    this.announceDue = false;
    const value = JSON.stringify({ bound, sources } satisfies WatermarkMarker);
    const key = `w:${this.c.cfg.DETECTOR_INSTANCE_ID}`;
    return Array.from({ length: this.partitions }, (_, partition) => ({
      topic,
      partition,
      key,
      value,
      headers: { [KIND_HEADER]: 'watermark' },
    }));
  }

  /** Whether this instance's own watermark moved past what it announced (a step must send it). */
  announcing(now: number): boolean {
    return this.topic !== undefined && this.c.gate.ownWatermark(now) > this.announced;
  }
}

/** A watermark marker of the repartition topic; undefined when it is not one (dead-lettered). */
function parseMarker(value: Buffer | null): WatermarkMarker | undefined {
  try {
    const m = JSON.parse(value?.toString() ?? 'null') as Partial<WatermarkMarker> | null;
    return typeof m?.bound === 'number' && Array.isArray(m.sources) ? (m as WatermarkMarker) : undefined;
  } catch {
    return undefined;
  }
}
