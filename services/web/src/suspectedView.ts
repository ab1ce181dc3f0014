import {
  formatZoned,
  isPendingSuspicion,
  zoneOfRegion,
  type MeterProfile,
  type SuspectedOutage,
  type SuspicionStatus,
} from '@ami/lib';
import { LOCALE, t, type Lang } from './catalogue.js';

/**
 * Suspected outages as people see them: predicted on arrival of the evidence, before
 * the event-time rule confirms them (topic `<prefix>.suspected-outages`, the latest
 * record per outage_id is the state). Only SUSPECTED and VERIFIED ones are shown, apart
 * from confirmed outages: a CONFIRMED one is in the confirmed list under the same
 * outage_id, a CANCELLED one is gone. They never count as customers without supply.
 * Pure functions over plain data.
 */

export type { SuspicionStatus };

/** The statuses still to show: not yet confirmed nor cancelled. */
export const isPending = isPendingSuspicion;

/** A suspicion as the dashboard shows it: the record without its detector-side fields, with the pings still waiting. */
export type SuspectedRow = Omit<SuspectedOutage, 'evidence_logged_at' | 'confirmed_outage_id'> & {
  /** Pings sent that neither answered nor timed out yet. */
  pings_waiting: number;
};

export interface SuspectedView {
  rows: SuspectedRow[];
  totals: { suspected: number; verified: number; customers_total: number };
}

export function toSuspectedRow(s: SuspectedOutage): SuspectedRow {
  return {
    outage_id: s.outage_id,
    scope: s.scope,
    status: s.status,
    region: s.region,
    ulp: s.ulp,
    feeder_id: s.feeder_id,
    gardu_id: s.gardu_id,
    meter_ids: s.meter_ids,
    started_at: s.started_at,
    last_gasps: s.last_gasps,
    customers_total: s.customers_total,
    pings_sent: s.pings_sent,
    pings_answered: s.pings_answered,
    pings_silent: s.pings_silent,
    pings_waiting: Math.max(0, s.pings_sent - s.pings_answered - s.pings_silent),
    reason: s.reason,
    emitted_at: s.emitted_at,
  };
}

/**
 * The suspected outages still pending, of one region or all, in region > ULP > start order.
 * One whose confirmed outage is already known (same outage_id in `confirmedIds`, which may
 * arrive before the CONFIRMED suspicion record) is left out: it is shown once, as confirmed.
 */
export function buildSuspectedView(
  suspected: Iterable<SuspectedOutage>,
  confirmedIds: ReadonlySet<string>,
  region: string | null,
): SuspectedView {
  const rows = [...suspected]
    .filter((s) => isPending(s) && !confirmedIds.has(s.outage_id) && (!region || s.region === region))
    .map(toSuspectedRow)
    .sort(
      (a, b) =>
        a.region.localeCompare(b.region) ||
        a.ulp.localeCompare(b.ulp) ||
        a.started_at - b.started_at ||
        a.outage_id.localeCompare(b.outage_id),
    );
  return {
    rows,
    totals: {
      suspected: rows.filter((r) => r.status === 'SUSPECTED').length,
      verified: rows.filter((r) => r.status === 'VERIFIED').length,
      customers_total: rows.reduce((n, r) => n + r.customers_total, 0),
    },
  };
}

/** Where the suspicion is, in words: `gardu X`, `penyulang Y`, `meter ini` (this meter). */
export function whereText(s: Pick<SuspectedOutage, 'scope' | 'gardu_id' | 'feeder_id'>, lang: Lang): string {
  return t(lang, `outage.where.${s.scope}`, {
    id: s.scope === 'FEEDER' ? s.feeder_id : (s.gardu_id ?? s.feeder_id),
  });
}

/** How it is being verified: the pings sent, answered, silent and still waiting, or none yet. */
export function verificationText(
  r: Pick<SuspectedRow, 'pings_sent' | 'pings_answered' | 'pings_silent' | 'pings_waiting'>,
  lang: Lang,
): string {
  if (r.pings_sent === 0) return t(lang, 'susp.no_pings');
  return t(lang, 'susp.pings', {
    sent: r.pings_sent,
    answered: r.pings_answered,
    silent: r.pings_silent,
    waiting: r.pings_waiting,
  });
}

export type LocalSuspectedRow = SuspectedRow & {
  started_text: string;
  status_text: string;
  where_text: string;
  verification_text: string;
};

/** The rows with what a person reads: local start time with its zone label, status, verification. */
export function localSuspected(rows: readonly SuspectedRow[], lang: Lang): LocalSuspectedRow[] {
  return rows.map((r) => ({
    ...r,
    started_text: formatZoned(r.started_at, zoneOfRegion(r.region), LOCALE[lang]),
    status_text: t(lang, `susp.status.${r.status}`),
    where_text: whereText(r, lang),
    verification_text: verificationText(r, lang),
  }));
}

/**
 * The pending suspicion covering a meter, if any: its own (METER scope), its gardu's or its
 * feeder's. The narrowest wins (meter, then gardu, then feeder), then the earliest.
 */
export function suspicionOf(
  p: Pick<MeterProfile, 'meter_id' | 'gardu_id' | 'feeder_id'>,
  suspected: Iterable<SuspectedOutage>,
): SuspectedOutage | undefined {
  const rank = { METER: 0, GARDU: 1, FEEDER: 2 } as const;
  const covers = (s: SuspectedOutage) =>
    s.scope === 'METER'
      ? s.meter_ids.includes(p.meter_id)
      : s.scope === 'GARDU'
        ? s.gardu_id === p.gardu_id
        : s.feeder_id === p.feeder_id;
  let best: SuspectedOutage | undefined;
  for (const s of suspected) {
    if (!isPending(s) || !covers(s)) continue;
    if (
      !best ||
      rank[s.scope] < rank[best.scope] ||
      (rank[s.scope] === rank[best.scope] && s.started_at < best.started_at)
    )
      best = s;
  }
  return best;
}
