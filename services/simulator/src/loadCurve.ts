import type { LoadClass } from './fleet.js';

/**
 * Daily load curves by load class: the share of a customer's peak demand in
 * each local hour (0..23), linearly interpolated between hours. Residential
 * peaks in the evening (lights, cooking, TV), business by day into the
 * evening, public offices in office hours, street lighting dusk to dawn.
 */
export const LOAD_CURVES: Readonly<Record<LoadClass, readonly number[]>> = {
  //            0     1     2     3     4     5     6     7     8     9    10    11    12    13    14    15    16    17    18    19    20    21    22    23
  RESIDENTIAL: [
    0.35, 0.3, 0.28, 0.28, 0.32, 0.45, 0.55, 0.5, 0.4, 0.36, 0.36, 0.4, 0.45, 0.42, 0.4, 0.42, 0.5, 0.7, 0.95,
    1.0, 0.95, 0.85, 0.65, 0.45,
  ],
  BUSINESS: [
    0.2, 0.18, 0.18, 0.18, 0.2, 0.25, 0.35, 0.55, 0.8, 0.9, 0.95, 1.0, 0.95, 0.95, 1.0, 0.95, 0.9, 0.85, 0.85,
    0.8, 0.7, 0.5, 0.3, 0.22,
  ],
  PUBLIC: [
    0.15, 0.15, 0.15, 0.15, 0.15, 0.2, 0.3, 0.7, 0.95, 1.0, 1.0, 0.95, 0.8, 0.95, 0.9, 0.7, 0.4, 0.25, 0.2,
    0.2, 0.18, 0.15, 0.15, 0.15,
  ],
  SOCIAL: [
    0.25, 0.25, 0.25, 0.3, 0.6, 0.5, 0.45, 0.6, 0.7, 0.7, 0.65, 0.75, 0.9, 0.7, 0.6, 0.75, 0.6, 0.65, 0.9,
    1.0, 0.8, 0.5, 0.35, 0.3,
  ],
  STREET_LIGHT: [
    1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.8, 1.0, 1.0,
    1.0, 1.0, 1.0,
  ],
};

/** Curve value at a fractional local hour in [0, 24). */
export function curveAt(loadClass: LoadClass, localHour: number): number {
  const curve = LOAD_CURVES[loadClass];
  const h = ((localHour % 24) + 24) % 24;
  const i = Math.floor(h);
  const f = h - i;
  return curve[i]! * (1 - f) + curve[(i + 1) % 24]! * f;
}

/** Fractional local hour of an instant for a fixed UTC offset. */
export function localHourOf(epochMs: number, utcOffsetH: number): number {
  const h = (epochMs / 3_600_000 + utcOffsetH) % 24;
  return h < 0 ? h + 24 : h;
}

/** Mean of a class's curve over a day (used to estimate a register from elapsed time). */
export function meanOfCurve(loadClass: LoadClass): number {
  const c = LOAD_CURVES[loadClass];
  return c.reduce((s, v) => s + v, 0) / c.length;
}
