import type { SuspectedOutage } from '@ami/lib';
import { advance, applyInput, inputTime, type Input, type OutageRecord } from '../src/rules.js';
import {
  newSuspicionState,
  onArrival,
  publishArrivals,
  settleByRecords,
  sweep,
  type SuspicionRecord,
  type SuspicionState,
} from '../src/suspicion.js';
import { World, type GarduSpec } from './world.js';
import type { RulesConfig } from '../src/config.js';

/**
 * The edge as the suspicion lifecycle sees it, without Kafka: inputs ARRIVE (onArrival, in the order
 * given), are held until the watermark passes them, then go through the rules in event-time order;
 * each step publishes the arrival suspicions, settles them by the rules' records and sweeps, in the
 * order processor.ts does.
 */
export class ArrivalWorld {
  readonly w: World;
  sst: SuspicionState = newSuspicionState();
  readonly records: SuspicionRecord[] = [];
  private held: Input[] = [];
  watermark = Number.NEGATIVE_INFINITY;

  constructor(gardus: GarduSpec[], cfg: Partial<RulesConfig> = {}) {
    this.w = new World(gardus, cfg);
  }

  /** Inputs reaching Kafka in this order; `loggedAt`: their Kafka timestamp. */
  arrive(inputs: Input[], loggedAt = 0): this {
    for (const input of inputs) {
      const info = this.w.ctx.topo.meter(input.value.meter_id)!;
      onArrival(this.w.ctx, this.sst, this.w.st, input, info, loggedAt);
      this.held.push(input);
    }
    return this;
  }

  /** One step of the edge with the watermark at `w` (never moves back). */
  step(w = this.watermark): this {
    this.watermark = Math.max(this.watermark, w);
    const from = this.w.out.length;
    const due = this.held.filter((i) => inputTime(i) <= this.watermark);
    this.held = this.held.filter((i) => inputTime(i) > this.watermark);
    due.sort((a, b) => inputTime(a) - inputTime(b));
    for (const i of due) applyInput(this.w.ctx, this.w.st, i, this.w.out);
    advance(this.w.ctx, this.w.st, this.watermark, this.w.out);
    publishArrivals(this.w.ctx, this.sst, this.w.st, this.records);
    settleByRecords(this.w.ctx, this.sst, this.w.st, this.w.out.slice(from), this.records);
    sweep(this.w.ctx, this.sst, this.w.st, this.watermark, this.records);
    this.sst.dirty.clear();
    return this;
  }

  /** Latest record per suspicion id. */
  latest(): Map<string, SuspicionRecord> {
    return new Map(this.records.map((r) => [r.outage_id, r]));
  }

  /** Statuses in publication order, per suspicion id. */
  history(id: string): SuspectedOutage['status'][] {
    return this.records.filter((r) => r.outage_id === id).map((r) => r.status);
  }

  outages(): OutageRecord[] {
    return this.w.outages();
  }

  momentaries(): OutageRecord[] {
    return this.w.momentaries();
  }
}
