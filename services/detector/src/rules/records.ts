import type { Outage } from '@ami/lib';
import { isTusbung } from '../meterStatus.js';
import { bulkStart, METER_CLOCK_SKEW_MS } from './evidence.js';
import type { Emission, GarduState, Incident, OutageRecord, RulesContext } from './state.js';

export function garduOutageId(garduId: string, startedAt: number): string {
  return `GARDU-${garduId}-${startedAt}`;
}

export function meterOutageId(garduId: string, startedAt: number, firstMeter: string): string {
  return `METER-${garduId}-${startedAt}-${firstMeter}`;
}

export function outageRecord(
  ctx: RulesContext,
  g: GarduState,
  inc: Incident,
  status: Outage['status'],
  topic: Emission['to'] = 'outages',
): OutageRecord {
  const where = placeOf(ctx, g.garduId);
  const base = {
    outage_id: inc.outageId!,
    scope: inc.scope!,
    status,
    region: where.region,
    ulp: where.ulp,
    feeder_id: where.feederId,
    gardu_id: g.garduId,
    parent_outage_id: inc.parentId,
    started_at: inc.startedAt,
    confirmed_at: inc.confirmedAt ?? inc.startedAt,
    restored_at: inc.restoredAt,
  };
  // Final figures at RESTORED: a customer counts (customers_interrupted) when this record is the first to
  // see a sustained interruption of theirs, or on the momentary topic; before, every customer counted so far.
  const count = new Counter(ctx, status === 'RESTORED', topic === 'momentary');
  if (inc.scope === 'METER') {
    for (const m of inc.members) {
      const from = inc.gasps[m] ?? inc.bulkStartedAt ?? inc.startedAt;
      const to = inc.back[m] ?? inc.restoredAt ?? Infinity;
      // Nested: the parent counted the member if it was dark long enough in it, and its time up to the restore.
      const parentEnd = inc.parentRestoredAt;
      if (parentEnd !== null && parentEnd - from > ctx.cfg.CONFIRM_DELAY_MS) count.timeOnly(parentEnd, to);
      else count.customer(from, to);
    }
    return {
      ...base,
      meter_ids: inc.members,
      customers_affected: inc.members.length,
      customers_total: inc.members.length,
      last_gasps: inc.members.filter((m) => inc.gasps[m] !== undefined).length,
      tusbung_excluded: 0,
      customers_interrupted: count.customers,
      customer_interruption_s: count.seconds(),
    };
  }
  let total = 0;
  let tusbung = 0;
  let aliveThrough = 0;
  // Alive while the gardu was dark: seen after its last gasp (an earlier read, e.g. during the partial
  // failure an escalation starts with, proves nothing) and before its restore, by more than a meter's
  // clock may be off (a read at the boundary the gardu went dark or came back at, on a clock that is off).
  let lastGasp = inc.startedAt;
  for (const m in inc.gasps) lastGasp = Math.max(lastGasp, inc.gasps[m]!);
  const restoredAt = inc.restoredAt ?? Infinity;
  const bulk = bulkStart(ctx, g, inc);
  for (const m of ctx.topo.garduMeters(g.garduId)) {
    total++;
    const seen = inc.back[m];
    if (isTusbung(g.facts[m])) tusbung++;
    else if (
      inc.gasps[m] === undefined &&
      seen !== undefined &&
      seen > lastGasp + METER_CLOCK_SKEW_MS &&
      seen < restoredAt - METER_CLOCK_SKEW_MS
    )
      aliveThrough++;
    else if (!inc.countedElsewhere.includes(m)) count.customer(inc.gasps[m] ?? bulk, restoredAt);
  }
  return {
    ...base,
    meter_ids: [],
    customers_affected: total - tusbung - aliveThrough,
    customers_total: total,
    last_gasps: Object.keys(inc.gasps).length,
    tusbung_excluded: tusbung,
    customers_interrupted: count.customers,
    customer_interruption_s: count.seconds(),
  };
}

/** Adds up one record's customers and customer-milliseconds. */
class Counter {
  customers = 0;
  private ms = 0;
  constructor(
    private readonly ctx: RulesContext,
    private readonly final: boolean,
    private readonly momentary: boolean,
  ) {}

  /** A customer dark from `from` to `to` in this record, counted here unless momentary on the outages topic. */
  customer(from: number, to: number): void {
    if (!this.final) return void this.customers++;
    if (!this.momentary && to - from <= this.ctx.cfg.CONFIRM_DELAY_MS) return;
    this.customers++;
    this.ms += to - from;
  }

  /** A customer counted by another record; only its time from `from` to `to` is this record's. */
  timeOnly(from: number, to: number): void {
    if (this.final) this.ms += Math.max(0, to - from);
  }

  seconds(): number {
    return this.final ? seconds(this.ms) : 0;
  }
}

/** Customer-milliseconds to whole customer-seconds (a long: 1.2 M customers x hours fits). */
function seconds(customerMs: number): number {
  return Math.round(customerMs / 1000);
}

export function digestOf(r: OutageRecord): string {
  return JSON.stringify({ ...r, status: undefined });
}

export function placeOf(
  ctx: RulesContext,
  garduId: string,
): { region: string; ulp: string; feederId: string } {
  const first = ctx.topo.garduMeters(garduId).values().next().value;
  const info = first === undefined ? undefined : ctx.topo.meter(first);
  return { region: info?.region ?? '', ulp: info?.ulp ?? '', feederId: info?.feederId ?? '' };
}
