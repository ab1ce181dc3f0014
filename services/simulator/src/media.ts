import type { Kdpm, MeterProfile } from '@ami/lib';
import { seedOf, unit } from './prng.js';

/**
 * How the head-end reaches a meter, by KDPM: latency, loss and time-out of an
 * on-demand exchange (a ping: READ_NOW), and whether it goes through the
 * gardu's PLC data concentrator. Pure.
 */

export interface Medium {
  kdpm: Exclude<Kdpm, 'A'>;
  /** How a sentence names it ("PLC through the data concentrator"). */
  name: string;
  /** Round trip of an answered ping, ms: drawn in [min, max], skewed towards min (most answers are quick). */
  latencyMs: readonly [number, number];
  /** Share of pings whose request or answer is lost (the meter is powered but never heard). */
  loss: number;
  /** How long the head-end waits for an answer before it gives up (NO_ANSWER). */
  timeoutMs: number;
  /** PLC: the exchange goes through the gardu's data concentrator, which serves a few at a time. */
  viaConcentrator: boolean;
}

/**
 * The media table. ASSUMPTIONS, not measurements of PLN's network: typical
 * figures for on-demand DLMS/COSEM reads quoted in vendors' and utilities'
 * AMI literature, rounded:
 * - L, narrowband PLC (PRIME / G3-PLC) through the gardu's data concentrator:
 *   the concentrator polls its meters over the low-voltage cable, repeating
 *   through other meters; an on-demand read takes seconds to tens of seconds
 *   and often needs a retry (first-attempt success around 90%).
 * - R, RF mesh (Wi-SUN style, a few hops to the collector): a few seconds.
 * - S, cellular (GPRS / LTE-M / NB-IoT modem in the meter): about 1-3 s once the
 *   modem is attached.
 * - F, fibre (meters on a fibre LAN, mostly large customers): about 1-2 s, the
 *   meter's own processing dominates.
 * Time-outs are what a head-end would wait before giving up; they are kept
 * under a minute so that a ping settles a suspected outage within a minute.
 */
export const MEDIA: Readonly<Record<Medium['kdpm'], Medium>> = {
  L: {
    kdpm: 'L',
    name: 'PLC through the data concentrator',
    latencyMs: [2_000, 30_000],
    loss: 0.08,
    timeoutMs: 40_000,
    viaConcentrator: true,
  },
  R: {
    kdpm: 'R',
    name: 'RF mesh',
    latencyMs: [1_000, 8_000],
    loss: 0.03,
    timeoutMs: 20_000,
    viaConcentrator: false,
  },
  S: {
    kdpm: 'S',
    name: 'cellular',
    latencyMs: [1_000, 3_000],
    loss: 0.02,
    timeoutMs: 10_000,
    viaConcentrator: false,
  },
  F: {
    kdpm: 'F',
    name: 'fibre',
    latencyMs: [1_000, 2_000],
    loss: 0.005,
    timeoutMs: 10_000,
    viaConcentrator: false,
  },
};

/** The medium of a meter; undefined for AMR (KDPM A: read by hand or walk-by, no head-end link). */
export function mediumOf(kdpm: Kdpm): Medium | undefined {
  return kdpm === 'A' ? undefined : MEDIA[kdpm];
}

/**
 * The data concentrator a PLC meter talks through: one per gardu (it sits in
 * the gardu and dies with it), so its id is derived from the gardu id and the
 * MeterProfile contract needs no new field. Undefined for other media.
 */
export function concentratorOf(p: Pick<MeterProfile, 'kdpm' | 'gardu_id'>): string | undefined {
  return mediumOf(p.kdpm)?.viaConcentrator ? `DCU-${p.gardu_id}` : undefined;
}

/** How one ping goes on its medium, before darkness is considered. */
export interface PingDraw {
  /** When the answer would come, ms after the request is sent. */
  latencyMs: number;
  /** When the head-end gives up, ms after the request is sent. */
  timeoutMs: number;
  /** The exchange is lost: no answer even from a powered meter. */
  lost: boolean;
}

/**
 * Latency and loss of one ping, drawn from the stateless hash of (seed,
 * command id): the same command on the same seed always draws the same, in
 * any order. `scale` multiplies latency and time-out alike (tests run the
 * media faster; 1 is the table).
 */
export function drawPing(medium: Medium, seed: number, commandId: string, scale: number): PingDraw {
  const key = seedOf(commandId);
  const u = unit(seed, key, 81);
  const [min, max] = medium.latencyMs;
  return {
    latencyMs: Math.round((min + (max - min) * u * u) * scale),
    timeoutMs: Math.round(medium.timeoutMs * scale),
    lost: unit(seed, key, 82) < medium.loss,
  };
}

/** "40 s" / "0.8 s": a time-out as a sentence says it. */
export function secondsText(ms: number): string {
  return ms >= 10_000 || ms % 1000 === 0 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}
