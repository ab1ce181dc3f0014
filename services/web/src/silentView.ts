import type { Kdpm } from '@ami/lib';
import { t, type Lang } from './catalogue.js';

/**
 * The control room's "meters that went silent" (no read for more than an hour), by gardu and
 * by concentrator, so communication faults stand apart from outages. PLC meters (KDPM L) of a
 * gardu talk through its data concentrator (DCU): when all of them are silent while the gardu's
 * RF, cellular or fibre meters (which talk direct to the head-end) still report, the
 * concentrator or its backhaul is down, not the supply. Pure functions over plain data.
 */

export type AmiKdpm = Exclude<Kdpm, 'A'>;
export const AMI_KDPM: readonly AmiKdpm[] = ['L', 'R', 'S', 'F'];

export interface Count {
  meters: number;
  silent: number;
}

/** One gardu's AMI meters and the silent ones, by medium (ClickHouse, store.ts). */
export interface SilentGarduCounts {
  region: string;
  ulp: string;
  feeder_id: string;
  gardu_id: string;
  by_kdpm: Record<AmiKdpm, Count>;
  /** A few silent meter ids. */
  examples: string[];
}

/**
 * OUTAGE: the gardu is in an active or suspected outage: silent for want of supply.
 * ALL_SILENT: every AMI meter of the gardu is silent, whatever its medium: the supply or the
 *   gardu as a whole (no outage known: look at it).
 * CONCENTRATOR: every PLC meter is silent, and meters talking direct still report.
 * METERS: some meters here and there: each meter's own communication.
 */
export type SilentDiagnosis = 'OUTAGE' | 'ALL_SILENT' | 'CONCENTRATOR' | 'METERS';

export interface SilentGarduRow {
  region: string;
  ulp: string;
  gardu_id: string;
  ami: Count;
  /** Through the gardu's concentrator (KDPM L). */
  plc: Count;
  /** Direct to the head-end (KDPM R, S, F). */
  direct: Count;
  diagnosis: SilentDiagnosis;
  diagnosis_text: string;
  examples: string[];
}

export interface SilentConcentratorRow {
  region: string;
  ulp: string;
  /** The gardu whose data concentrator it is (one per gardu). */
  gardu_id: string;
  concentrator_text: string;
  plc: Count;
  /** Every PLC meter behind it is silent. */
  all_silent: boolean;
  diagnosis_text: string;
}

export interface SilentView {
  by_gardu: SilentGarduRow[];
  by_concentrator: SilentConcentratorRow[];
  totals: { silent: number; gardus: number; concentrators_down: number };
}

const sum = (cs: readonly Count[]): Count => ({
  meters: cs.reduce((n, c) => n + c.meters, 0),
  silent: cs.reduce((n, c) => n + c.silent, 0),
});
const allSilent = (c: Count) => c.meters > 0 && c.silent === c.meters;

export function diagnose(plc: Count, direct: Count, inOutage: boolean): SilentDiagnosis {
  if (inOutage) return 'OUTAGE';
  const ami = sum([plc, direct]);
  if (allSilent(ami)) return 'ALL_SILENT';
  if (allSilent(plc) && direct.silent < direct.meters) return 'CONCENTRATOR';
  return 'METERS';
}

/** Where the supply is known (or suspected) to be out now: gardus and feeders. */
export interface OutageFootprint {
  gardus: ReadonlySet<string>;
  feeders: ReadonlySet<string>;
}

/** The silent meters by gardu (most silent first) and by concentrator (PLC meters only). */
export function buildSilentView(
  counts: readonly SilentGarduCounts[],
  outages: OutageFootprint,
  lang: Lang,
): SilentView {
  const withSilent = counts.filter((c) => AMI_KDPM.some((k) => c.by_kdpm[k].silent > 0));
  const by_gardu = withSilent
    .map((c) => {
      const plc = c.by_kdpm.L;
      const direct = sum([c.by_kdpm.R, c.by_kdpm.S, c.by_kdpm.F]);
      const inOutage = outages.gardus.has(c.gardu_id) || outages.feeders.has(c.feeder_id);
      const diagnosis = diagnose(plc, direct, inOutage);
      return {
        region: c.region,
        ulp: c.ulp,
        gardu_id: c.gardu_id,
        ami: sum([plc, direct]),
        plc,
        direct,
        diagnosis,
        diagnosis_text: t(lang, `silent.diag.${diagnosis}`, { gardu: c.gardu_id }),
        examples: c.examples,
      };
    })
    .sort(
      (a, b) =>
        b.ami.silent - a.ami.silent ||
        a.region.localeCompare(b.region) ||
        a.gardu_id.localeCompare(b.gardu_id),
    );
  const by_concentrator = by_gardu
    .filter((g) => g.plc.silent > 0)
    .map((g) => {
      const down = allSilent(g.plc);
      return {
        region: g.region,
        ulp: g.ulp,
        gardu_id: g.gardu_id,
        concentrator_text: t(lang, 'silent.concentrator', { gardu: g.gardu_id }),
        plc: g.plc,
        all_silent: down,
        diagnosis_text:
          g.diagnosis === 'OUTAGE'
            ? t(lang, 'silent.diag.OUTAGE', { gardu: g.gardu_id })
            : t(lang, down ? 'silent.dcu.down' : 'silent.dcu.some'),
      };
    })
    // Concentrators with nothing behind them reporting first: those are the comms faults.
    .sort(
      (a, b) =>
        Number(b.all_silent) - Number(a.all_silent) ||
        b.plc.silent - a.plc.silent ||
        a.gardu_id.localeCompare(b.gardu_id),
    );
  return {
    by_gardu,
    by_concentrator,
    totals: {
      silent: by_gardu.reduce((n, g) => n + g.ami.silent, 0),
      gardus: by_gardu.length,
      concentrators_down: by_gardu.filter((g) => g.diagnosis === 'CONCENTRATOR').length,
    },
  };
}
