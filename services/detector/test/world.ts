import type {
  EventCause,
  Kdpm,
  MeterEvent,
  MeterEventType,
  MeterProfile,
  MeterStatus,
  RelayState,
} from '@ami/lib';
import { defaultDetectorConfig, type RulesConfig } from '../src/config.js';
import {
  advance,
  applyInput,
  newDetectorState,
  type Emission,
  type Input,
  type OutageRecord,
  type RulesContext,
} from '../src/rules.js';
import { Topology } from '../src/topology.js';

export const T0 = Date.UTC(2026, 10, 28, 3, 7, 0); // 10:07 WIB, between read boundaries
export const MIN = 60_000;

export interface GarduSpec {
  id: string;
  meters: number;
  feeder?: string;
  amr?: number;
  /** KDPM by meter index, where not PLC (`L`, the default) or AMR (`amr`). */
  kdpm?: Record<number, Kdpm>;
}

/** Gardu `id` has meters `${id}-M000`...; the first `amr` of them are AMR (kdpm A). */
export function meterId(gardu: string, i: number): string {
  return `${gardu}-M${String(i).padStart(3, '0')}`;
}

export function buildTopology(gardus: GarduSpec[]): Topology {
  const topo = new Topology();
  for (const g of gardus) {
    for (let i = 0; i < g.meters; i++) {
      const kdpm: Kdpm = i < (g.amr ?? 0) ? 'A' : (g.kdpm?.[i] ?? 'L');
      const profile: MeterProfile = {
        meter_id: meterId(g.id, i),
        idpel: String(500000000000 + i),
        kdpm,
        phases: 1,
        tariff: 'R-1',
        daya_va: 1300,
        gardu_id: g.id,
        feeder_id: g.feeder ?? 'F1',
        ulp: 'ULP-DENPASAR',
        region: 'BALI',
        timezone: 'Asia/Makassar',
        installed_at: 0,
      };
      topo.apply(profile.meter_id, profile);
    }
  }
  return topo;
}

let seq = 0;

export function event(
  meter: string,
  type: MeterEventType,
  at: number,
  extra: Partial<MeterEvent> = {},
): Input {
  const gardu = meter.split('-M')[0]!;
  const relay: RelayState = type === 'RELAY_OPENED' || type === 'RECONNECT_ENABLED' ? 'OPEN' : 'CLOSED';
  const cause: EventCause = 'NONE';
  return {
    kind: 'event',
    value: {
      event_id: `e${++seq}`,
      meter_id: meter,
      gardu_id: gardu,
      occurred_at: at,
      type,
      relay,
      cause,
      power_limit_va: null,
      ...extra,
    },
  };
}

export function read(meter: string, at: number, relay: RelayState = 'CLOSED'): Input {
  const gardu = meter.split('-M')[0]!;
  return {
    kind: 'read',
    value: {
      meter_id: meter,
      gardu_id: gardu,
      read_at: at,
      interval_s: 900,
      energy_import_wh: 1000,
      demand_w: 100,
      voltage_v: 220,
      relay,
      power_limit_va: 1300,
      kind: 'INTERVAL',
    },
  };
}

/** The rules with a topology, fed in event-time order like the edge does. */
export class World {
  readonly ctx: RulesContext;
  readonly st = newDetectorState();
  readonly out: Emission[] = [];

  constructor(gardus: GarduSpec[], cfg: Partial<RulesConfig> = {}) {
    this.ctx = { cfg: { ...defaultDetectorConfig, ...cfg }, topo: buildTopology(gardus) };
  }

  feed(inputs: Input[]): this {
    const sorted = [...inputs].sort((a, b) => time(a) - time(b));
    for (const i of sorted) applyInput(this.ctx, this.st, i, this.out);
    return this;
  }

  until(t: number): this {
    advance(this.ctx, this.st, t, this.out);
    return this;
  }

  outages(): OutageRecord[] {
    return this.out.flatMap((e) => (e.to === 'outages' ? [e.record] : []));
  }

  momentaries(): OutageRecord[] {
    return this.out.flatMap((e) => (e.to === 'momentary' ? [e.record] : []));
  }

  statuses(): MeterStatus[] {
    return this.out.flatMap((e) => (e.to === 'status' ? [e.record] : []));
  }

  /** Latest record per outage id. */
  latest(): Map<string, OutageRecord> {
    return new Map(this.outages().map((r) => [r.outage_id, r]));
  }

  statusOf(meter: string): MeterStatus | undefined {
    return this.statuses()
      .filter((s) => s.meter_id === meter)
      .at(-1);
  }
}

function time(i: Input): number {
  return i.kind === 'event' ? i.value.occurred_at : i.value.read_at;
}

/** Last gasps from the listed meter indexes of a gardu, `spreadMs` apart. */
export function gasps(gardu: string, idx: number[], at: number, spreadMs = 100): Input[] {
  return idx.map((i, k) => event(meterId(gardu, i), 'LAST_GASP', at + k * spreadMs));
}

export function restores(gardu: string, idx: number[], at: number, spreadMs = 100): Input[] {
  return idx.map((i, k) => event(meterId(gardu, i), 'POWER_RESTORE', at + k * spreadMs));
}

/** Interval reads at boundary `at` from the listed meters. */
export function reads(gardu: string, idx: number[], at: number): Input[] {
  return idx.map((i) => read(meterId(gardu, i), at));
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, k) => from + k);
}

/** Every 40th... keep `share` of the indexes, deterministic spread. */
export function sample(idx: number[], share: number): number[] {
  return idx.filter((_, k) => Math.floor((k + 1) * share) > Math.floor(k * share));
}
