/**
 * How the bench's fleet delivers its last gasps and power restores in a blackout: as the simulator's
 * `powerEvent` does (services/simulator/src/simulation.ts), with its default comms per KDPM
 * (`resolveComms`) and its KDPM mix (`kdpmWeights`). Pure; the simulator's own run is the test's
 * reference (services/detector/test/blackoutDelivery.test.ts).
 */
import { KDPM_CODES, kdpmWeights } from '@ami/simulator/fleet';
import { pickWeighted, unit } from '@ami/simulator/prng';
import { commsSchema } from '@ami/simulator/scenario';
import { resolveComms } from '@ami/simulator/simulation';

const KDPM_MIX = kdpmWeights();
const DEFAULTS = commsSchema.parse({});
/** The simulator's default delivery per KDPM, indexed as KDPM_CODES (L, R, S, F; AMR has none). */
const COMMS = resolveComms(DEFAULTS);

/** Meter i's KDPM, an index into KDPM_CODES, drawn from the simulator's mix. */
export function kdpmIndexOf(seed: number, i: number): number {
  return pickWeighted(KDPM_MIX, unit(seed, i, 11));
}

export function kdpmOf(seed: number, i: number): (typeof KDPM_CODES)[number] {
  return KDPM_CODES[kdpmIndexOf(seed, i)]!;
}

/** A message of a blackout: meter i, its event time, and when it reaches the head-end. */
export interface Delivery {
  i: number;
  at: number;
  deliverAt: number;
}

/**
 * What meters 0..meters-1 send when supply goes (LAST_GASP) or comes back (POWER_RESTORE) at `t`,
 * every gardu dark at once: nothing from AMR meters; no last gasp from PLC meters when their gardu's
 * data concentrator dies with it (the simulator's default); else the KDPM's share gets through, each
 * message within 1 s of `t` and delayed by the KDPM's range. In delivery order.
 */
export function delivered(
  seed: number,
  meters: number,
  type: 'LAST_GASP' | 'POWER_RESTORE',
  t: number,
): Delivery[] {
  const gasp = type === 'LAST_GASP';
  const out: Delivery[] = [];
  for (let i = 0; i < meters; i++) {
    const k = kdpmIndexOf(seed, i);
    const row = COMMS[k];
    if (!row) continue; // AMR: no head-end link
    if (gasp && KDPM_CODES[k] === 'L' && DEFAULTS.plc_concentrator_dies_with_gardu) continue;
    if (unit(seed, i, t, gasp ? 65 : 66) >= (gasp ? row.lastGasp : row.restore)) continue;
    const at = t + Math.floor(unit(seed, i, t, 64) * 1000);
    const [min, max] = row.delay;
    out.push({ i, at, deliverAt: at + min + Math.floor(unit(seed, i, t, gasp ? 75 : 76) * (max - min)) });
  }
  return out.sort((a, b) => a.deliverAt - b.deliverAt);
}
