import { z } from 'zod';
import { BadRecordError, type MeterProfile } from '@ami/lib';

/**
 * The simulated physical world: which parts of the network the simulation has
 * without supply, and when. The simulator publishes one SupplyChange per
 * interruption it starts to `<prefix>.sim.supply` (see SUPPLY_TOPIC_SUFFIX);
 * the head-end follows it as a table so that a dark meter never answers a
 * ping. NOT part of the contract: no pipeline service may read it (the
 * detector must infer outages from what meters send, as in the field).
 * Plain JSON, key `<interruption_id>@<dark_from>`.
 */

export const SUPPLY_TOPIC_SUFFIX = 'sim.supply';

export function supplyTopic(prefix: string): string {
  return `${prefix}.${SUPPLY_TOPIC_SUFFIX}`;
}

const supplyChangeSchema = z.object({
  /** The simulation's interruption (ground truth `id`). */
  interruption_id: z.string().min(1),
  scope: z.enum(['METER', 'GARDU', 'FEEDER', 'REGION']),
  /** Meter id, gardu id, feeder id or region code, by scope. */
  unit_id: z.string().min(1),
  /** Event time (epoch ms) the unit loses supply. */
  dark_from: z.number().int(),
  /** Event time (epoch ms) supply returns, as the scenario scripts it (it may lie after the simulated range). */
  back_at: z.number().int(),
});

export type SupplyChange = z.infer<typeof supplyChangeSchema>;
export type SupplyScope = SupplyChange['scope'];

export function supplyKey(c: SupplyChange): string {
  return `${c.interruption_id}@${c.dark_from}`;
}

export function encodeSupplyChange(c: SupplyChange): Buffer {
  return Buffer.from(JSON.stringify(c));
}

/** Parses a supply record; BadRecordError (not retriable) when it is not one. */
export function decodeSupplyChange(value: Buffer): SupplyChange {
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (err) {
    throw new BadRecordError('bad-json', `supply record is not JSON: ${(err as Error).message}`);
  }
  const r = supplyChangeSchema.safeParse(json);
  if (!r.success)
    throw new BadRecordError(
      'bad-supply-change',
      `supply record invalid: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return r.data;
}

/** The unit keys a meter lies under: itself, its gardu, feeder and region. */
function unitsOf(p: Pick<MeterProfile, 'meter_id' | 'gardu_id' | 'feeder_id' | 'region'>): string[] {
  return [`METER:${p.meter_id}`, `GARDU:${p.gardu_id}`, `FEEDER:${p.feeder_id}`, `REGION:${p.region}`];
}

/**
 * Supply changes as a table (latest value per key), indexed by unit so that
 * "is this meter dark at t" costs four map look-ups.
 */
export class SupplyTable {
  private readonly byKey = new Map<string, SupplyChange>();
  private readonly byUnit = new Map<string, Map<string, SupplyChange>>();

  get size(): number {
    return this.byKey.size;
  }

  set(key: string, c: SupplyChange): void {
    this.delete(key);
    this.byKey.set(key, c);
    const unit = `${c.scope}:${c.unit_id}`;
    let list = this.byUnit.get(unit);
    if (!list) this.byUnit.set(unit, (list = new Map()));
    list.set(key, c);
  }

  delete(key: string): void {
    const old = this.byKey.get(key);
    if (!old) return;
    this.byKey.delete(key);
    const unit = `${old.scope}:${old.unit_id}`;
    const list = this.byUnit.get(unit);
    list?.delete(key);
    if (list?.size === 0) this.byUnit.delete(unit);
  }

  /** The interruption that has the meter without supply at `t`, if any. */
  darkAt(
    p: Pick<MeterProfile, 'meter_id' | 'gardu_id' | 'feeder_id' | 'region'>,
    t: number,
  ): SupplyChange | undefined {
    for (const unit of unitsOf(p)) {
      const list = this.byUnit.get(unit);
      if (!list) continue;
      for (const c of list.values()) if (c.dark_from <= t && t < c.back_at) return c;
    }
    return undefined;
  }

  /** Forgets interruptions over before `t` (memory stays bounded on a long run); returns how many. */
  prune(t: number): number {
    let n = 0;
    for (const [key, c] of this.byKey)
      if (c.back_at < t) {
        this.delete(key);
        n++;
      }
    return n;
  }
}
