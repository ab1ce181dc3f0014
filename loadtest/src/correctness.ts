import type { ClickHouseClient } from '@clickhouse/client';
import { ident, sql, type Outage } from '@ami/lib';
import type { Fleet } from '@ami/simulator/fleet';
import type { InterruptionTruth, TruthLine } from '@ami/simulator/groundTruth';
import {
  byPlaceAndMonth,
  type ReliabilityCell,
  type ReliabilityFigures,
} from '@ami/simulator/reliabilityTruth';

/**
 * The end-of-run checks. Pure functions over plain data plus one ClickHouse
 * query, so the matching rules are unit-testable.
 */

// ------------------------------------------------------------------ reads

export interface ReadsExpected {
  produced: number;
  distinct: number;
  /** Sums over distinct reads of (read_at seconds mod P) and (energy mod P), P = 1,000,003. */
  sumReadAt: number;
  sumEnergy: number;
}

export interface ReadsCheck {
  expected: ReadsExpected;
  /** Raw rows (before ReplacingMergeTree merges), rows after FINAL, distinct (meter_id, read_at). */
  rawRows: number;
  finalRows: number;
  distinct: number;
  sumReadAt: number;
  sumEnergy: number;
  ok: boolean;
  problems: string[];
}

export const CHECKSUM_MOD = 1_000_003;

export async function checkReads(
  ch: ClickHouseClient,
  db: string,
  expected: ReadsExpected,
): Promise<ReadsCheck> {
  const q = async (query: string) =>
    ((await (await ch.query({ query, format: 'JSONEachRow' })).json()) as Record<string, number>[])[0]!;
  const table = sql`${ident(db)}.${ident('reads')}`;
  const raw = await q(`SELECT count() AS n FROM ${table}`);
  const fin = await q(
    `SELECT count() AS n, uniqExact(meter_id, read_at) AS u, sum(toUInt64(read_at) % ${CHECKSUM_MOD}) AS s1, sum(toUInt64(energy_import_wh) % ${CHECKSUM_MOD}) AS s2 FROM ${table} FINAL`,
  );
  const r: ReadsCheck = {
    expected,
    rawRows: Number(raw.n),
    finalRows: Number(fin.n),
    distinct: Number(fin.u),
    sumReadAt: Number(fin.s1),
    sumEnergy: Number(fin.s2),
    ok: true,
    problems: [],
  };
  if (r.distinct < expected.distinct)
    r.problems.push(`${expected.distinct - r.distinct} replayed reads are missing from ClickHouse`);
  if (r.distinct > expected.distinct)
    r.problems.push(`${r.distinct - expected.distinct} reads in ClickHouse were never replayed`);
  if (r.finalRows !== r.distinct)
    r.problems.push(`FINAL has ${r.finalRows} rows for ${r.distinct} distinct (meter_id, read_at)`);
  if (
    r.distinct === expected.distinct &&
    (r.sumReadAt !== expected.sumReadAt || r.sumEnergy !== expected.sumEnergy)
  )
    r.problems.push(
      'counts match but the checksums of read_at / energy differ: some reads are not the replayed ones',
    );
  r.ok = r.problems.length === 0;
  return r;
}

// ---------------------------------------------------------------- outages

export interface Tolerance {
  /** |started_at − true start| allowed (last-gasp delay, clock skew). */
  startMs: number;
  /** |restored_at − true end| allowed (restores may be known only from the next read). */
  endMs: number;
  /** Feeders with fewer gardu than this are expected as GARDU outages, not FEEDER (detector's FEEDER_MIN_GARDU). */
  feederMinGardu: number;
}

export const DEFAULT_TOLERANCE: Tolerance = { startMs: 3 * 60_000, endMs: 20 * 60_000, feederMinGardu: 3 };

export interface ExpectedOutage {
  truthId: string;
  scope: 'GARDU' | 'FEEDER';
  gardu_id: string | null;
  feeder_id: string;
  start: number;
  end: number;
  /** Restored before the end of the replayed range. */
  restoredInRange: boolean;
}

export interface OutageMatch {
  expected: ExpectedOutage;
  found?: Outage;
  /** Covered by an outage of another scope (e.g. a gardu inside a FEEDER outage). */
  coveredBy?: Outage;
  problems: string[];
}

export interface OutageCheck {
  expected: number;
  matched: number;
  /** Expected at the exact scope (GARDU / FEEDER) and within the time tolerances. */
  exact: number;
  missing: OutageMatch[];
  wrong: OutageMatch[];
  /** Detected GARDU/FEEDER outages that match no true interruption. */
  unexpected: Outage[];
  /** Interruptions not scored (momentary, METER scope, nobody newly affected). */
  ignored: number;
  /** Two outages of one scope for one gardu or feeder open at the same event time (one physical outage, two records). */
  overlapping: OverlappingOutages[];
  tolerance: Tolerance;
  ok: boolean;
}

export interface OverlappingOutages {
  scope: 'GARDU' | 'FEEDER';
  /** The gardu or feeder id. */
  place: string;
  first: Outage;
  second: Outage;
}

/** Pairs of GARDU outages of one gardu, or FEEDER outages of one feeder, whose event times overlap. */
export function overlappingOutages(latest: readonly Outage[]): OverlappingOutages[] {
  const byPlace = new Map<string, Outage[]>();
  for (const o of latest) {
    if (o.scope === 'METER') continue;
    const place = o.scope === 'GARDU' ? (o.gardu_id ?? '') : o.feeder_id;
    const key = `${o.scope}\u0000${place}`;
    const list = byPlace.get(key);
    if (list) list.push(o);
    else byPlace.set(key, [o]);
  }
  const out: OverlappingOutages[] = [];
  for (const list of byPlace.values()) {
    list.sort((a, b) => a.started_at - b.started_at);
    for (let i = 0; i < list.length; i++)
      for (let j = i + 1; j < list.length && list[j]!.started_at < endOf(list[i]!); j++) {
        const first = list[i]!;
        const place = first.scope === 'GARDU' ? (first.gardu_id ?? '') : first.feeder_id;
        out.push({ scope: first.scope as 'GARDU' | 'FEEDER', place, first, second: list[j]! });
      }
  }
  return out;
}

const endOf = (o: Outage) => o.restored_at ?? Number.POSITIVE_INFINITY;

/**
 * What the detector should report for each sustained interruption of the
 * truth: GARDU → that gardu; FEEDER and REGION → one FEEDER outage per feeder
 * (a feeder with fewer than `feederMinGardu` gardu: one GARDU outage each).
 */
export function expectedOutages(
  truth: readonly TruthLine[],
  fleet: Fleet,
  rangeEnd: number,
  tol: Tolerance,
): { expected: ExpectedOutage[]; ignored: number } {
  const expected: ExpectedOutage[] = [];
  let ignored = 0;
  const feederById = new Map(fleet.feeders.map((f) => [f.id, f]));
  for (const line of truth) {
    if (line.kind !== 'interruption') continue;
    const t = line as InterruptionTruth;
    if (t.momentary || t.scope === 'METER' || t.meters_affected === 0) {
      ignored++;
      continue;
    }
    const base = { truthId: t.id, start: t.start, end: t.end, restoredInRange: t.end < rangeEnd };
    const feeders =
      t.scope === 'GARDU'
        ? []
        : t.scope === 'FEEDER'
          ? [feederById.get(t.feeder_id!)!]
          : fleet.feeders.filter((f) => f.ulp.region.code === t.region);
    if (t.scope === 'GARDU') {
      const g = fleet.garduIndex(t.gardu_id!)!;
      expected.push({ ...base, scope: 'GARDU', gardu_id: t.gardu_id, feeder_id: fleet.feederOfGardu(g).id });
      continue;
    }
    for (const f of feeders) {
      if (f.gardu.length >= tol.feederMinGardu)
        expected.push({ ...base, scope: 'FEEDER', gardu_id: null, feeder_id: f.id });
      else
        for (const g of f.gardu)
          expected.push({ ...base, scope: 'GARDU', gardu_id: fleet.garduIds[g]!, feeder_id: f.id });
    }
  }
  return { expected, ignored };
}

function timesOk(e: ExpectedOutage, o: Outage, tol: Tolerance, problems: string[]): boolean {
  let ok = true;
  if (Math.abs(o.started_at - e.start) > tol.startMs) {
    problems.push(`started_at off by ${Math.round((o.started_at - e.start) / 1000)} s`);
    ok = false;
  }
  if (e.restoredInRange) {
    if (o.restored_at === null) {
      problems.push('never restored');
      ok = false;
    } else if (Math.abs(o.restored_at - e.end) > tol.endMs) {
      problems.push(`restored_at off by ${Math.round((o.restored_at - e.end) / 1000)} s`);
      ok = false;
    }
  }
  return ok;
}

/** Scores the detector's outages (latest record per outage_id) against the truth. */
export function checkOutages(
  truth: readonly TruthLine[],
  fleet: Fleet,
  latest: readonly Outage[],
  rangeEnd: number,
  tol: Tolerance = DEFAULT_TOLERANCE,
): OutageCheck {
  const { expected, ignored } = expectedOutages(truth, fleet, rangeEnd, tol);
  const used = new Set<Outage>();
  const overlaps = (e: ExpectedOutage, o: Outage) =>
    o.started_at <= e.end + tol.endMs && (o.restored_at ?? Number.POSITIVE_INFINITY) >= e.start - tol.startMs;
  const out: OutageCheck = {
    expected: expected.length,
    matched: 0,
    exact: 0,
    missing: [],
    wrong: [],
    unexpected: [],
    ignored,
    overlapping: overlappingOutages(latest),
    tolerance: tol,
    ok: false,
  };
  for (const e of expected) {
    const m: OutageMatch = { expected: e, problems: [] };
    const sameScope = latest.filter(
      (o) =>
        o.scope === e.scope &&
        (e.scope === 'GARDU' ? o.gardu_id === e.gardu_id : o.feeder_id === e.feeder_id) &&
        overlaps(e, o),
    );
    sameScope.sort((a, b) => Math.abs(a.started_at - e.start) - Math.abs(b.started_at - e.start));
    m.found = sameScope[0];
    if (m.found) {
      used.add(m.found);
      out.matched++;
      if (timesOk(e, m.found, tol, m.problems)) out.exact++;
      else out.wrong.push(m);
      continue;
    }
    // Another scope covering it: a FEEDER outage over a gardu, or all gardu of a feeder reported one by one.
    const cover =
      e.scope === 'GARDU'
        ? latest.find((o) => o.scope === 'FEEDER' && o.feeder_id === e.feeder_id && overlaps(e, o))
        : latest.find((o) => o.scope === 'GARDU' && o.feeder_id === e.feeder_id && overlaps(e, o));
    if (cover) {
      m.coveredBy = cover;
      m.problems.push(
        `reported as ${cover.scope} ${cover.scope === 'GARDU' ? cover.gardu_id : cover.feeder_id}, expected ${e.scope}`,
      );
      out.matched++;
      out.wrong.push(m);
      for (const o of latest) if (o.feeder_id === e.feeder_id && overlaps(e, o)) used.add(o);
    } else {
      m.problems.push('not detected');
      out.missing.push(m);
    }
  }
  for (const o of latest) {
    if (used.has(o) || o.scope === 'METER') continue;
    // A child GARDU outage under a matched FEEDER outage is fine.
    if (o.parent_outage_id && latest.some((p) => p.outage_id === o.parent_outage_id && used.has(p))) continue;
    const explained = expected.some((e) => e.feeder_id === o.feeder_id && overlaps(e, o));
    if (!explained) out.unexpected.push(o);
  }
  out.ok =
    out.missing.length === 0 &&
    out.wrong.length === 0 &&
    out.unexpected.length === 0 &&
    out.overlapping.length === 0;
  return out;
}

/** The latest record per outage_id (highest emitted_at, then arrival order). */
export function latestOutages(records: readonly Outage[]): Outage[] {
  const byId = new Map<string, Outage>();
  for (const o of records) {
    const prev = byId.get(o.outage_id);
    if (!prev || o.emitted_at >= prev.emitted_at) byId.set(o.outage_id, o);
  }
  return [...byId.values()];
}

// ------------------------------------------------------------ reliability

/** A row of `reliability_monthly` (numbers as numbers). */
export interface ReliabilityViewRow extends ReliabilityFigures {
  /** Root events (parent_outage_id null), not customers. */
  sustained_interruptions: number;
  momentary_interruptions: number;
}

const VIEW_NUMBERS = [
  'customers_served',
  'sustained_interruptions',
  'momentary_interruptions',
  'customers_interrupted',
  'customer_minutes',
  'customer_momentary',
  'saidi_minutes',
  'saifi',
  'caidi_minutes',
  'maifi',
] as const;

/** Every row of `<db>.reliability_monthly` (ClickHouse sends UInt64 as strings). */
export async function reliabilityRows(ch: ClickHouseClient, db: string): Promise<ReliabilityViewRow[]> {
  const rs = await ch.query({
    query: sql`SELECT * FROM ${ident(db)}.${ident('reliability_monthly')} ORDER BY region, ulp, month`,
    format: 'JSONEachRow',
  });
  const rows = (await rs.json()) as Record<string, unknown>[];
  return rows.map((r) => {
    const row = {
      region: String(r.region),
      ulp: String(r.ulp),
      month: String(r.month),
    } as ReliabilityViewRow;
    for (const k of VIEW_NUMBERS) row[k] = Number(r[k]);
    return row;
  });
}

/** The truth's indices and the view's for one region, ULP and month. */
export interface IndexComparison {
  region: string;
  ulp: string;
  month: string;
  truth?: ReliabilityCell;
  view?: ReliabilityViewRow;
  /** |view − truth| customer-minutes allowed: (start + restore tolerance) × customers, plus pending minutes. */
  minutesAllowed: number;
  problems: string[];
}

export interface ReliabilityCheck {
  cells: IndexComparison[];
  /** Customers still dark at the end of the range: not counted by either side. */
  stillDark: number;
  /** Interruptions of lone meters whose last gasp was lost: nothing to count them by (`unseenInterruptions`). */
  unseen: number;
  tolerance: Tolerance;
  ok: boolean;
}

/**
 * Compares `reliability_monthly` with the truth's indices, cell by cell. Customers interrupted
 * (sustained CI and momentary CMO) must be exact, except customers restored so close to the
 * range end that a restore may not be out yet (`pending_customers`: the view may miss them).
 * Customer-minutes must be within (start + restore tolerance) per interrupted customer.
 * More customers than the truth, or more minutes beyond the tolerance, means a customer was
 * counted twice.
 */
export function compareReliability(
  truth: readonly ReliabilityCell[],
  view: readonly ReliabilityViewRow[],
  tol: Tolerance = DEFAULT_TOLERANCE,
): IndexComparison[] {
  const key = (c: { region: string; ulp: string; month: string }) =>
    `${c.region}\u0000${c.ulp}\u0000${c.month}`;
  const cells = new Map<string, IndexComparison>();
  const cellOf = (c: { region: string; ulp: string; month: string }) => {
    let x = cells.get(key(c));
    if (!x) {
      x = { region: c.region, ulp: c.ulp, month: c.month, minutesAllowed: 0, problems: [] };
      cells.set(key(c), x);
    }
    return x;
  };
  for (const t of truth) cellOf(t).truth = t;
  for (const v of view) cellOf(v).view = v;
  const perCustomerMin = (tol.startMs + tol.endMs) / 60_000;
  for (const c of cells.values()) {
    const t = c.truth;
    const v = c.view;
    c.minutesAllowed = t ? perCustomerMin * t.customers_interrupted + t.pending_minutes : 0;
    if (!v) {
      if (t && t.customers_interrupted + t.customer_momentary > t.pending_customers)
        c.problems.push('no row in reliability_monthly');
      continue;
    }
    const pending = t?.pending_customers ?? 0;
    const counted = (what: string, got: number, want: number) => {
      if (got > want) c.problems.push(`${what}: ${got}, truth ${want} (a customer counted twice)`);
      else if (got < want - pending)
        c.problems.push(`${what}: ${got}, truth ${want} (${want - got} missing)`);
    };
    counted('customers interrupted', v.customers_interrupted, t?.customers_interrupted ?? 0);
    counted('momentary customer interruptions', v.customer_momentary, t?.customer_momentary ?? 0);
    const minutes = t?.customer_minutes ?? 0;
    const diff = v.customer_minutes - minutes;
    if (Math.abs(diff) > c.minutesAllowed + 1e-9)
      c.problems.push(
        `customer-minutes ${v.customer_minutes.toFixed(1)}, truth ${minutes.toFixed(1)} (off by ${diff.toFixed(1)}, allowed ±${c.minutesAllowed.toFixed(1)}${diff > 0 ? ': a customer counted twice for the same minutes' : ''})`,
      );
    if (t && v.customers_served !== t.customers_served)
      c.problems.push(`customers served ${v.customers_served}, truth ${t.customers_served}`);
  }
  return [...cells.values()].sort(byPlaceAndMonth);
}

export function checkReliability(
  truth: { cells: readonly ReliabilityCell[]; stillDark: number; unseen?: number },
  view: readonly ReliabilityViewRow[],
  tol: Tolerance = DEFAULT_TOLERANCE,
): ReliabilityCheck {
  const cells = compareReliability(truth.cells, view, tol);
  return {
    cells,
    stillDark: truth.stillDark,
    unseen: truth.unseen ?? 0,
    tolerance: tol,
    ok: cells.every((c) => c.problems.length === 0),
  };
}
