import { ValidationError } from '@ami/lib';
import type { Fleet } from './fleet.js';
import type { InterruptionScope } from './groundTruth.js';
import { hash32, unit } from './prng.js';
import type { Target } from './scenario.js';

/**
 * Resolving scenario targets against a fleet. Every scope is one contiguous
 * range of meters and of gardu (the fleet numbers them region by region, ULP
 * by ULP, feeder by feeder), which keeps outages cheap at any fleet size.
 */

export interface ScopeRange {
  scope: InterruptionScope;
  meterFirst: number;
  meterEnd: number;
  garduFirst: number;
  garduEnd: number;
  region: string;
  ulp: string | null;
  feederId: string | null;
  garduId: string | null;
}

function garduMatches(fleet: Fleet, g: number, t: Target): boolean {
  const feeder = fleet.feederOfGardu(g);
  return (
    (!t.region || feeder.ulp.region.code === t.region.toUpperCase()) &&
    (!t.ulp || feeder.ulp.name === t.ulp.toUpperCase()) &&
    (!t.feeder_id || feeder.id === t.feeder_id) &&
    (!t.gardu_id || fleet.garduIds[g] === t.gardu_id)
  );
}

/** Gardu indices matching a target's filters. */
export function matchingGardu(fleet: Fleet, t: Target): number[] {
  const out: number[] = [];
  for (let g = 0; g < fleet.garduTotal; g++) if (garduMatches(fleet, g, t)) out.push(g);
  return out;
}

/** The `pick`-th item of a seeded shuffle of `items` (stable for a seed and salt). */
function pickOne<T>(items: readonly T[], pick: number, seed: number, salt: number, what: string): T {
  if (items.length === 0) throw new ValidationError(`no ${what} matches the target`);
  const ordered = items.map((item, i) => ({ item, k: hash32(seed, i, salt, 51) })).sort((a, b) => a.k - b.k);
  return ordered[pick % ordered.length]!.item;
}

function meterMatches(fleet: Fleet, m: number, t: Target): boolean {
  return t.meter_id === undefined || fleet.meterId(m) === t.meter_id;
}

/** Resolve the unit an interruption hits. */
export function resolveScope(fleet: Fleet, scope: InterruptionScope, t: Target, salt: number): ScopeRange {
  const gardu = matchingGardu(fleet, t);
  if (gardu.length === 0) throw new ValidationError(`no gardu matches target ${JSON.stringify(t)}`);
  if (scope === 'GARDU') return garduRange(fleet, pickOne(gardu, t.pick, fleet.seed, salt, 'gardu'), 'GARDU');
  if (scope === 'FEEDER') {
    const feeders = [...new Set(gardu.map((g) => fleet.garduFeeder[g]!))];
    const f = fleet.feeders[pickOne(feeders, t.pick, fleet.seed, salt, 'feeder')]!;
    return spanRange(fleet, f.gardu[0]!, f.gardu.at(-1)!, 'FEEDER');
  }
  if (scope === 'REGION') {
    const regions = [...new Set(gardu.map((g) => fleet.feederOfGardu(g).ulp.region.code))];
    const code = pickOne(regions, t.pick, fleet.seed, salt, 'region');
    const all = matchingGardu(fleet, { region: code, pick: 0 });
    return spanRange(fleet, all[0]!, all.at(-1)!, 'REGION');
  }
  return meterRange(fleet, t, gardu, salt);
}

function meterRange(fleet: Fleet, t: Target, gardu: number[], salt: number): ScopeRange {
  let m: number | undefined;
  if (t.meter_id !== undefined) {
    m = fleet.meterIndex(t.meter_id);
    if (m === undefined) throw new ValidationError(`unknown meter ${t.meter_id}`);
  } else {
    const g = pickOne(gardu, t.pick, fleet.seed, salt, 'gardu');
    const { first, end } = fleet.metersOfGardu(g);
    const start = first + (hash32(fleet.seed, g, salt, 52) % (end - first));
    for (let k = 0; k < end - first && m === undefined; k++) {
      const c = first + ((start - first + k) % (end - first));
      if (fleet.isAmi(c) && meterMatches(fleet, c, t)) m = c;
    }
    if (m === undefined) throw new ValidationError(`gardu ${fleet.garduIds[g]} has no AMI meter`);
  }
  const g = fleet.meterGardu[m]!;
  return { ...garduRange(fleet, g, 'METER'), meterFirst: m, meterEnd: m + 1 };
}

function garduRange(fleet: Fleet, g: number, scope: InterruptionScope): ScopeRange {
  return { ...spanRange(fleet, g, g, scope), garduId: fleet.garduIds[g]! };
}

function spanRange(fleet: Fleet, gFirst: number, gLast: number, scope: InterruptionScope): ScopeRange {
  const feeder = fleet.feederOfGardu(gFirst);
  const sameFeeder = fleet.garduFeeder[gFirst] === fleet.garduFeeder[gLast];
  const sameUlp = feeder.ulp === fleet.feederOfGardu(gLast).ulp;
  return {
    scope,
    meterFirst: fleet.garduFirst[gFirst]!,
    meterEnd: fleet.metersOfGardu(gLast).end,
    garduFirst: gFirst,
    garduEnd: gLast + 1,
    region: feeder.ulp.region.code,
    ulp: sameUlp ? feeder.ulp.name : null,
    feederId: sameFeeder ? feeder.id : null,
    garduId: null,
  };
}

/**
 * Meters an action applies to: explicit ids, or a seeded share of the AMI
 * meters matching the target (AMR meters cannot be switched remotely).
 */
export function resolveMeters(
  fleet: Fleet,
  t: Target,
  meterIds: string[] | undefined,
  share: number | undefined,
  salt: number,
): number[] {
  if (meterIds) {
    return meterIds.map((id) => {
      const m = fleet.meterIndex(id);
      if (m === undefined) throw new ValidationError(`unknown meter ${id}`);
      return m;
    });
  }
  if (share === undefined) {
    if (t.meter_id === undefined) throw new ValidationError('give meter_ids, share, or target.meter_id');
    return [meterRange(fleet, t, matchingGardu(fleet, t), salt).meterFirst];
  }
  const out: number[] = [];
  for (const g of matchingGardu(fleet, t)) {
    const { first, end } = fleet.metersOfGardu(g);
    for (let m = first; m < end; m++) {
      if (fleet.isAmi(m) && meterMatches(fleet, m, t) && unit(fleet.seed, m, salt, 53) < share) out.push(m);
    }
  }
  return out;
}
