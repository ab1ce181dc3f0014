import type { Admin, Kafka } from 'kafkajs';
import { arrivalRecord, garduRecord, loadState, stateTopic, tpRecord } from '../changelog.js';
import type { Out, StepOffsets } from '../output.js';
import { dropGardu, feedersByChild, loadGardu, snapshotGardu } from '../rules.js';
import { dropArrival, encodeArrival, loadArrival } from '../suspicion.js';
import type { EdgeContext } from './context.js';
import { splitTp } from './inputs.js';
import type { PendingRecords } from './pending.js';
import type { Repartition } from './repartition.js';

/**
 * The state of the assigned partitions in Kafka: rebuilt from the state topic and the group's
 * offsets when a partition is assigned, forgotten when it is revoked, and what each step writes
 * back beside its outputs (snapshots of the changed gardu, the event-time meta, the offsets).
 */
export class PartitionState {
  private readonly loaded = new Set<number>();
  /** Offsets committed per topic-partition, and the meta saved (as JSON) per topic-partition. */
  private readonly committed = new Map<string, number>();
  private readonly savedMeta = new Map<string, string>();

  constructor(
    private readonly c: EdgeContext,
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly pending: PendingRecords,
    private readonly repartition: Repartition,
  ) {}

  has(partition: number): boolean {
    return this.loaded.has(partition);
  }

  partitions(): number[] {
    return [...this.loaded];
  }

  /** The rules' and arrival state of `fresh` from the state topic; each input where the group left it. */
  async load(fresh: number[], inputs: string[]): Promise<void> {
    const { cfg, st, sst, gate, garduPartition } = this.c;
    const state = await loadState(
      this.kafka,
      this.admin,
      stateTopic(cfg.AMI_TOPIC_PREFIX),
      cfg.DETECTOR_GROUP_ID,
      fresh,
      this.c.logger,
    );
    for (const { partition, snap } of state.gardus) {
      loadGardu(st, snap);
      garduPartition.set(snap.gardu.garduId, partition);
    }
    for (const { partition, garduId, json } of state.arrivals) {
      loadArrival(sst, json);
      garduPartition.set(garduId, partition);
    }
    const groupOffsets = new Map<string, number>();
    for (const topic of inputs) {
      const [committed] = await this.admin.fetchOffsets({ groupId: cfg.DETECTOR_GROUP_ID, topics: [topic] });
      for (const p of committed?.partitions ?? [])
        groupOffsets.set(`${topic}:${p.partition}`, Number(p.offset));
      for (const o of await this.admin.fetchTopicOffsets(topic)) {
        if (!fresh.includes(o.partition)) continue;
        const tp = `${topic}:${o.partition}`;
        const next = Math.max(groupOffsets.get(tp) ?? -1, Number(o.low));
        const saved = state.tps.get(tp) ?? null;
        gate.track(tp, next >= Number(o.high), saved, next, topic === this.repartition.topic);
        if (saved) this.savedMeta.set(tp, JSON.stringify(saved));
      }
    }
    for (const p of fresh) this.loaded.add(p);
  }

  /** A revoked partition: its gardu, arrivals, inputs and pending records are the new owner's. */
  drop(p: number, inputs: string[]): void {
    const { st, sst, gate, garduPartition } = this.c;
    for (const [garduId, partition] of garduPartition) {
      if (partition !== p) continue;
      dropGardu(st, garduId);
      dropArrival(sst, garduId);
      garduPartition.delete(garduId);
    }
    // Dead letters and forwards not committed yet: the new owner replays their messages.
    this.pending.dropPartition(p);
    for (const topic of inputs) {
      gate.untrack(`${topic}:${p}`);
      this.committed.delete(`${topic}:${p}`);
      this.savedMeta.delete(`${topic}:${p}`);
    }
    this.loaded.delete(p);
  }

  /** Snapshots of changed gardu (rules and arrival state), to the partition of their traffic. */
  garduRecords(): Out[] {
    const { st, sst, garduPartition } = this.c;
    const topic = stateTopic(this.c.cfg.AMI_TOPIC_PREFIX);
    const records: Out[] = [];
    const byChild = st.dirty.size > 0 ? feedersByChild(st) : undefined;
    for (const garduId of st.dirty) {
      const partition = garduPartition.get(garduId);
      if (partition !== undefined)
        records.push({ topic, ...garduRecord(partition, garduId, snapshotGardu(st, garduId, byChild)) });
    }
    st.dirty.clear();
    for (const garduId of sst.dirty) {
      const partition = garduPartition.get(garduId);
      if (partition !== undefined)
        records.push({ topic, ...arrivalRecord(partition, garduId, encodeArrival(sst, garduId)) });
    }
    sst.dirty.clear();
    return records;
  }

  /** Event-time meta of the topic-partitions whose meta changed since last saved. */
  metaRecords(): Out[] {
    const gate = this.c.gate;
    const topic = stateTopic(this.c.cfg.AMI_TOPIC_PREFIX);
    const records: Out[] = [];
    for (const tp of gate.topicPartitions()) {
      const meta = gate.meta(tp)!;
      const json = JSON.stringify(meta);
      if (this.savedMeta.get(tp) === json) continue;
      this.savedMeta.set(tp, json);
      records.push({ topic, ...tpRecord(splitTp(tp)[1], tp, meta) });
    }
    return records;
  }

  /** The offsets that moved since the last commit. */
  offsetsToCommit(): StepOffsets {
    const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
    for (const tp of this.c.gate.topicPartitions()) {
      const offset = this.c.gate.commitOffset(tp);
      if (offset === undefined || this.committed.get(tp) === offset) continue;
      const [topic, partition] = splitTp(tp);
      const list = byTopic.get(topic) ?? [];
      list.push({ partition, offset: String(offset) });
      byTopic.set(topic, list);
    }
    return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
  }

  /** The step's transaction committed `offsets`. */
  committedTo(offsets: StepOffsets): void {
    for (const t of offsets)
      for (const p of t.partitions) this.committed.set(`${t.topic}:${p.partition}`, Number(p.offset));
  }
}
