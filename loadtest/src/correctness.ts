import type { ClickHouseClient } from '@clickhouse/client';
import { ident, sql, type Outage } from '@ami/lib';
import type { Fleet } from '../../services/simulator/src/fleet.js';
import type { InterruptionTruth, TruthLine } from '../../services/simulator/src/groundTruth.js';

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
  tolerance: Tolerance;
  ok: boolean;
}

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
  out.ok = out.missing.length === 0 && out.wrong.length === 0 && out.unexpected.length === 0;
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
