import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ident,
  isPendingSuspicion,
  sql,
  type Outage,
  type SuspectedOutage,
  type SuspicionStatus,
} from '@ami/lib';
import type { Fleet } from '@ami/simulator/fleet';
import { truthReliability } from '@ami/simulator/reliabilityTruth';
import {
  checkOutages,
  checkReads,
  checkReliability,
  DEFAULT_TOLERANCE,
  latestOutages,
  reliabilityRows,
  type Tolerance,
} from './correctness.js';
import type { ReplayStats } from './replay.js';
import type { Drain } from './replayAndDrain.js';
import type { LoadTestSummary, ProcessFigures } from './report.js';
import type { RunContext } from './runContext.js';
import { deadLetters, type OutageSeen } from './sampler.js';

/**
 * The judging phases: the run's figures from the samples (CPU and memory per process, latencies)
 * and the correctness check against ClickHouse and the simulator's ground truth.
 */

/** A paced replay's clock: delivery time `at` is due at wall `wall0 + (at - at0) / factor`. */
export interface ReplayClock {
  wall0: number;
  at0: number;
  factor: number;
}

/**
 * Wall time at which the replay had produced everything up to event time `t` (the last chunk whose
 * deliveries are all at or before `t` was acknowledged) and, when paced, its clock had reached `t`:
 * from then on a live detector could know that `t` had passed. Not the first chunk at or after `t`:
 * when `t` falls between deliveries that is the next delivery, up to a read interval later, and
 * outages out before it would count as 0.
 */
export function confirmingEvidenceAt(
  t: number,
  timeline: readonly { at: number; wall: number }[],
  clock?: ReplayClock,
): number | undefined {
  let lo = 0;
  let hi = timeline.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (timeline[mid]!.at <= t) lo = mid + 1;
    else hi = mid;
  }
  // Before the first chunk, or the replay ended before reaching t.
  if (lo === 0 || timeline[timeline.length - 1]!.at < t) return undefined;
  const produced = timeline[lo - 1]!.wall;
  return clock ? Math.max(produced, clock.wall0 + (t - clock.at0) / clock.factor) : produced;
}

/** Gardu of an outage's scope (its feeder's gardu for FEEDER scope). */
export function garduOf(o: Outage, fleet: Fleet | undefined): string[] {
  if (o.scope !== 'FEEDER') return o.gardu_id ? [o.gardu_id] : [];
  const f = fleet?.feeders.find((x) => x.id === o.feeder_id);
  return f ? f.gardu.map((g) => fleet!.garduIds[g]!) : [];
}

/**
 * Latency of each outage's first record: from its first last gasp's produce (`gasp`); that minus the
 * confirmation delay in wall time, when the replay is paced (`minusDelay`: the issue's "beyond the
 * confirmation delay"); and from when its confirming evidence was produced (`beyond`).
 */
export function outageLatencies(
  seen: readonly OutageSeen[],
  stats: ReplayStats,
  fleet: Fleet | undefined,
  confirmDelayMs: number,
  clock?: ReplayClock,
): { gasp: number[]; minusDelay: number[]; beyond: number[] } {
  const first = new Map<string, OutageSeen>();
  for (const s of seen)
    if (!first.has(s.outage.outage_id) && s.outage.scope !== 'METER') first.set(s.outage.outage_id, s);
  const gasp: number[] = [];
  const minusDelay: number[] = [];
  const beyond: number[] = [];
  for (const { outage, receivedAt } of first.values()) {
    let firstSent = Number.POSITIVE_INFINITY;
    for (const g of garduOf(outage, fleet)) {
      for (const r of stats.gasps.get(g) ?? []) {
        if (r.occurredAt >= outage.started_at - 5 * 60_000 && r.occurredAt <= outage.confirmed_at)
          firstSent = Math.min(firstSent, r.sentAt);
      }
    }
    if (Number.isFinite(firstSent)) {
      gasp.push(receivedAt - firstSent);
      if (clock) minusDelay.push(Math.max(0, receivedAt - firstSent - confirmDelayMs / clock.factor));
    }
    const evidence = confirmingEvidenceAt(outage.confirmed_at, stats.timeline, clock);
    if (evidence !== undefined) beyond.push(Math.max(0, receivedAt - evidence));
  }
  return { gasp, minusDelay, beyond };
}

/** The latest record of each suspicion (per outage_id, records in the order sent): its state. */
export function latestSuspicions(records: readonly SuspectedOutage[]): Map<string, SuspectedOutage> {
  return new Map(records.map((r) => [r.outage_id, r]));
}

/** CONFIRMED and CANCELLED end a suspicion. */
export function isSettled(s: SuspectedOutage): boolean {
  return !isPendingSuspicion(s);
}

/** Suspicions whose latest record is not settled. */
export function pendingSuspicions(records: readonly SuspectedOutage[]): SuspectedOutage[] {
  return [...latestSuspicions(records).values()].filter((s) => !isSettled(s));
}

/**
 * Detection latency of each suspicion: `emitted_at - evidence_logged_at` (detector's wall clock
 * minus the Kafka timestamp of the record that crossed the threshold) of its first SUSPECTED record.
 */
export function suspicionLatencies(records: readonly SuspectedOutage[]): number[] {
  const first = new Map<string, SuspectedOutage>();
  for (const r of records) if (r.status === 'SUSPECTED' && !first.has(r.outage_id)) first.set(r.outage_id, r);
  return [...first.values()].map((r) => r.emitted_at - r.evidence_logged_at);
}

export interface SuspicionCheck {
  ok: boolean;
  /** Distinct outage_ids suspected. */
  suspicions: number;
  /** Suspicions by their final status. */
  byStatus: Record<SuspicionStatus, number>;
  /** Left SUSPECTED or VERIFIED after the drain. */
  pending: number;
  /** CONFIRMED whose outage (confirmed_outage_id, else outage_id) never came out on `<prefix>.outages`. */
  unconfirmed: number;
  /** The first of those, one line each. */
  problems: string[];
}

const MAX_PROBLEMS = 20;

/**
 * Every suspicion ended CONFIRMED or CANCELLED, and each CONFIRMED one names an outage that was
 * confirmed (`confirmedOutageIds`: the outage_ids seen on `<prefix>.outages`).
 */
export function checkSuspicions(
  records: readonly SuspectedOutage[],
  confirmedOutageIds: ReadonlySet<string>,
): SuspicionCheck {
  const byStatus: Record<SuspicionStatus, number> = { SUSPECTED: 0, VERIFIED: 0, CONFIRMED: 0, CANCELLED: 0 };
  const problems: string[] = [];
  let pending = 0;
  let unconfirmed = 0;
  const latest = latestSuspicions(records);
  for (const s of latest.values()) {
    byStatus[s.status]++;
    const place = `${s.scope} suspicion ${s.outage_id}`;
    if (!isSettled(s)) {
      pending++;
      if (problems.length < MAX_PROBLEMS)
        problems.push(`${place} left ${s.status} (last record sent ${new Date(s.emitted_at).toISOString()})`);
    } else if (s.status === 'CONFIRMED') {
      const outageId = s.confirmed_outage_id ?? s.outage_id;
      if (confirmedOutageIds.has(outageId)) continue;
      unconfirmed++;
      if (problems.length < MAX_PROBLEMS)
        problems.push(`${place} CONFIRMED as ${outageId}, which never came out on the outages topic`);
    }
  }
  return {
    ok: pending === 0 && unconfirmed === 0,
    suspicions: latest.size,
    byStatus,
    pending,
    unconfirmed,
    problems,
  };
}

export interface Figures {
  processes: Record<string, ProcessFigures>;
  machineBusyCores: number;
  otherBusyCores: number;
  /** Read produced to visible in ClickHouse, per marker seen. */
  readLat: number[];
  /** The paced replay's clock (factor paces only). */
  clock: ReplayClock | undefined;
  gasp: number[];
  minusDelay: number[];
  beyond: number[];
  /** Suspected outages: evidence in Kafka → suspicion sent, per suspicion. */
  suspected: number[];
  /** From the first send to the last distinct read visible in ClickHouse. */
  e2eSeconds: number | undefined;
}

/** CPU and memory per process over the measured window, and the latencies of reads and outages. */
export function measureFigures(ctx: RunContext, stats: ReplayStats, drain: Drain): Figures {
  const sampler = ctx.sampler!;
  const samples = sampler.samples;
  const processes: Record<string, ProcessFigures> = {};
  // The measured window: from the first send until the pipeline drained (or gave up).
  const windowEnd = stats.endedAt + drain.drainSeconds * 1000;
  const window = samples.filter((x) => x.t > stats.startedAt && x.t <= windowEnd + 1000);
  const windowS = Math.max(0.001, (windowEnd - stats.startedAt) / 1000);
  const cpuIn = (name: string, list: typeof samples) =>
    list.reduce((s, x) => {
      const i = samples.indexOf(x);
      return s + (i > 0 ? (x.cpu[name] ?? 0) * ((x.t - samples[i - 1]!.t) / 1000) : 0);
    }, 0);
  for (const name of Object.keys(samples[0]?.cpu ?? {})) {
    const cpuSeconds = cpuIn(name, window);
    const peakRssMb = Math.max(0, ...samples.map((x) => (x.rss[name] ?? 0) / 1e6));
    processes[name] = {
      cpuSeconds,
      meanCores: cpuSeconds / windowS,
      peakRssMb,
      cpuUsPerRead: stats.reads > 0 ? (cpuSeconds * 1e6) / stats.reads : 0,
    };
  }
  const mean = (f: (x: (typeof samples)[number]) => number) =>
    window.length ? window.reduce((s, x) => s + f(x), 0) / window.length : 0;
  const readLat = sampler.markers
    .filter((m) => m.visibleAt !== undefined)
    .map((m) => m.visibleAt! - m.sentAt);
  // The pacer's own origin: the recording's start is up to an interval before its first delivery.
  const pace = ctx.pace;
  const clock =
    pace.mode === 'factor' && stats.paceOrigin
      ? { wall0: stats.paceOrigin.wall, at0: stats.paceOrigin.at, factor: pace.factor }
      : undefined;
  const { gasp, minusDelay, beyond } = outageLatencies(
    sampler.outages,
    stats,
    ctx.traffic.simFleet,
    ctx.confirmDelayMs,
    clock,
  );
  const e2eSeconds =
    drain.lastVisibleAt !== undefined ? (drain.lastVisibleAt - stats.startedAt) / 1000 : undefined;
  return {
    processes,
    machineBusyCores: mean((x) => x.machineBusy),
    otherBusyCores: mean((x) => x.otherBusy),
    readLat,
    clock,
    gasp,
    minusDelay,
    beyond,
    suspected: suspicionLatencies(sampler.suspicions.map((x) => x.suspicion)),
    e2eSeconds,
  };
}

export interface Verdict {
  correctness: LoadTestSummary['correctness'];
  deadLetters: LoadTestSummary['deadLetters'];
}

/**
 * Every read in ClickHouse exactly once, the outages and reliability indices as in the ground
 * truth, nothing dead-lettered; the outages seen go to `outages.jsonl`. Not ok when not drained.
 */
export async function checkCorrectness(
  ctx: RunContext,
  stats: ReplayStats,
  drained: boolean,
): Promise<Verdict> {
  const { ch, db, notes, useLoader, useDetector } = ctx;
  const { truth, simFleet, recording } = ctx.traffic;
  const sampler = ctx.sampler!;
  const manifest = recording.manifest;
  const skipped: string[] = [];
  const correctness: LoadTestSummary['correctness'] = { ok: true, skipped };
  if (useLoader) {
    correctness.reads = await checkReads(ch, db, {
      produced: stats.reads,
      distinct: stats.distinctReads,
      sumReadAt: stats.sumReadAt,
      sumEnergy: stats.sumEnergy,
    });
    const res = await ch.query({
      query: sql`SELECT count() AS n FROM ${ident(db)}.${ident('outages_latest')}`,
      format: 'JSONEachRow',
    });
    correctness.outagesInClickHouse = Number(((await res.json()) as { n: number }[])[0]?.n ?? 0);
  } else skipped.push('reads (no loader)');
  if (useDetector && truth && simFleet) {
    const rangeEnd = stats.stoppedEarly
      ? (stats.timeline[stats.timeline.length - 1]?.at ?? manifest.endMs)
      : manifest.endMs;
    const scoredTruth = stats.stoppedEarly
      ? truth.filter((l) => l.kind !== 'interruption' || l.start < rangeEnd)
      : truth;
    const tolerance: Tolerance = {
      ...DEFAULT_TOLERANCE,
      feederMinGardu: Number(ctx.childEnv.FEEDER_MIN_GARDU ?? DEFAULT_TOLERANCE.feederMinGardu),
      ...ctx.o.tolerance,
    };
    correctness.outages = checkOutages(
      scoredTruth,
      simFleet,
      latestOutages(sampler.outages.map((s) => s.outage)),
      rangeEnd,
      tolerance,
    );
    // The indices: the truth's per customer against reliability_monthly.
    if (
      !scoredTruth.some((l) => l.kind === 'customer_dark') &&
      scoredTruth.some((l) => l.kind === 'interruption')
    )
      skipped.push(
        "reliability indices (the recording's ground truth predates customer_dark lines: record again)",
      );
    else if (useLoader)
      correctness.reliability = checkReliability(
        truthReliability(scoredTruth, simFleet, { until: rangeEnd, pendingWithinMs: tolerance.endMs }),
        await reliabilityRows(ch, db),
        tolerance,
      );
    else skipped.push('reliability indices (no loader)');
  } else skipped.push(useDetector ? 'outages (no ground truth for this recording)' : 'outages (no detector)');
  if (useDetector)
    correctness.suspicions = checkSuspicions(
      sampler.suspicions.map((x) => x.suspicion),
      new Set(sampler.outages.map((x) => x.outage.outage_id)),
    );
  else skipped.push('suspected outages (no detector)');
  const dlq = await deadLetters(ctx.kafka, ctx.prefix).catch((err: Error) => {
    notes.push(`could not read the DLQ: ${err.message}`);
    return undefined;
  });
  if (dlq && dlq.total > 0)
    notes.push(
      `${dlq.total} records were dead-lettered by the services: ${Object.entries(dlq.byReason)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ')}`,
    );
  writeJsonl(join(ctx.reportDir, 'outages.jsonl'), sampler.outages, (x) => x.outage);
  writeJsonl(join(ctx.reportDir, 'suspected-outages.jsonl'), sampler.suspicions, (x) => x.suspicion);
  if (stats.stoppedEarly)
    notes.push(`replay stopped early (${stats.stoppedEarly}); correctness covers what was replayed`);
  if (!drained)
    notes.push(
      'the pipeline did not drain (deadline or stall, above): figures and correctness cover what arrived',
    );
  correctness.ok =
    (correctness.reads?.ok ?? true) &&
    (correctness.outages?.ok ?? true) &&
    (correctness.reliability?.ok ?? true) &&
    (correctness.suspicions?.ok ?? true) &&
    drained;
  if (sampler.errors > 0)
    notes.push(`${sampler.errors} sampler errors (a sample or poll failed; see the log at debug level)`);
  return { correctness, deadLetters: dlq };
}

/** One record a line, with the wall time the sampler received it. */
function writeJsonl<T extends { receivedAt: number }>(
  file: string,
  seen: readonly T[],
  record: (x: T) => object,
): void {
  writeFileSync(
    file,
    seen.map((x) => JSON.stringify({ ...record(x), received_at: x.receivedAt })).join('\n') + '\n',
  );
}
