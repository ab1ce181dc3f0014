import type { Fleet } from './fleet.js';
import { curveAt, meanOfCurve } from './loadCurve.js';
import { gauss, unit } from './prng.js';

/**
 * What a meter measures, as pure functions of (fleet, meter, time): no state,
 * so any meter's read can be computed in any order. The simulation keeps the
 * state (register, relay, power limit) and calls these.
 */

const NOMINAL_VOLTAGE = 220;
const DEMAND_NOISE = 0.15;

/** Share of the contracted power a customer draws at the top of its curve (0.3-0.8). */
export function peakShare(fleet: Fleet, m: number): number {
  return 0.3 + 0.5 * unit(fleet.seed, m, 21);
}

/** Demand the customer's appliances ask for (W) at a local hour, before any limit. */
export function naturalDemandW(fleet: Fleet, m: number, localHour: number, tick: number): number {
  const p = fleet.productOf(m);
  const base = p.dayaVa * peakShare(fleet, m) * curveAt(p.loadClass, localHour);
  const noisy = base * (1 + DEMAND_NOISE * gauss(fleet.seed, m, tick, 22));
  return Math.max(0, Math.round(noisy));
}

/** Demand the meter lets through: never above the contracted power nor the power limit. */
export function servedDemandW(natural: number, dayaVa: number, powerLimitVa: number): number {
  return Math.min(natural, dayaVa, powerLimitVa);
}

/** Phase voltage at the meter, ~220 V with noise, one decimal. */
export function voltageV(fleet: Fleet, m: number, tick: number): number {
  return Math.round((NOMINAL_VOLTAGE + 3.5 * gauss(fleet.seed, m, tick, 23)) * 10) / 10;
}

/**
 * The register (Wh) a meter shows at `atMs`, estimated from its mean load since
 * installation: the simulation's starting register, and the head-end's answer
 * to READ_NOW. Non-decreasing in time; 0 before installation.
 */
export function estimatedRegisterWh(fleet: Fleet, m: number, atMs: number): number {
  const hours = (atMs - fleet.installedAt(m)) / 3_600_000;
  if (hours <= 0) return 0;
  const p = fleet.productOf(m);
  return Math.floor(hours * p.dayaVa * peakShare(fleet, m) * meanOfCurve(p.loadClass));
}

/** Energy (Wh, fractional) of `demandW` over `seconds`. */
export function energyWh(demandW: number, seconds: number): number {
  return (demandW * seconds) / 3600;
}
