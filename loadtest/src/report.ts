import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { barChart, formatNumber, lineChart, type ChartSeries } from '@ami/lib';
import type { Baseline } from './baseline.js';
import type { OutageCheck, ReadsCheck, ReliabilityCheck } from './correctness.js';
import type { SuspicionCheck } from './judge.js';
import type { ProfileSummary } from './profile.js';
import type { Sample } from './sampler.js';

/**
 * The report: `report.md` (figures, ratios to the baseline, correctness),
 * SVG plots next to it, `summary.json` (everything, for tooling) and
 * `samples.csv` (the time series).
 */

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

export function percentiles(values: readonly number[]): Percentiles | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { count: s.length, p50: q(0.5), p90: q(0.9), p95: q(0.95), p99: q(0.99), max: s[s.length - 1]! };
}

export interface ProcessFigures {
  /** CPU seconds from the first send until the pipeline drained. */
  cpuSeconds: number;
  /** Mean cores over that window. */
  meanCores: number;
  peakRssMb: number;
  /** CPU microseconds per replayed read (records of every kind are included in the cost). */
  cpuUsPerRead: number;
}

export interface LoadTestSummary {
  startedAt: string;
  command: string;
  machine: { cores: number; memoryGb: number; node: string; loadAvgBefore: number[]; cpuModel: string };
  setup: {
    scenario: string;
    meters: number | undefined;
    hours: number;
    regions: string[] | undefined;
    speed: string;
    prefix: string;
    db: string;
    recording: string;
    recordingBytes: number;
    recordingReused: boolean;
    recordMs?: number;
    partitions: number;
    confirmDelayMs: number;
    detector: boolean;
    loader: boolean;
  };
  replay: {
    reads: number;
    events: number;
    lastGasps: number;
    distinctReads: number;
    meanReadBytes: number;
    seconds: number;
    readsPerSec: number;
    recordsPerSec: number;
    mbPerSec: number;
    sendWaitShare: number;
    /** Producer used by the replay (absent in older summaries). */
    client?: 'wire' | 'kafkajs';
    stoppedEarly?: string;
    profiles: number;
    profilesSeconds: number;
  };
  endToEnd: {
    /** From the first send to the last replayed read visible in ClickHouse. */
    seconds?: number;
    readsPerSec?: number;
    drained: boolean;
    drainSeconds: number;
  };
  baseline: Baseline;
  latency: {
    readToClickHouse?: Percentiles;
    markersMissing: number;
    markerPollMs: number;
    gaspToOutage?: Percentiles;
    /** Paced replays: the confirmation delay in wall time (delay / factor), and gaspToOutage minus it. */
    confirmDelayWallMs?: number;
    gaspToOutageMinusDelay?: Percentiles;
    gaspToOutageBeyondConfirm?: Percentiles;
    outagesTimed: number;
    /**
     * Suspected outages: emitted_at - evidence_logged_at of each suspicion's first SUSPECTED record
     * (the last gasp that crossed the threshold in Kafka → the suspicion sent). Absent in older summaries.
     */
    suspectedDetection?: Percentiles;
  };
  processes: Record<string, ProcessFigures>;
  machineBusyCores: number;
  otherBusyCores: number;
  deadLetters?: { total: number; byReason: Record<string, number> };
  profiles?: ProfileSummary[];
  correctness: {
    reads?: ReadsCheck;
    outages?: OutageCheck;
    reliability?: ReliabilityCheck;
    /** Suspected outages: by final status, none pending after the drain, CONFIRMED ones confirmed. */
    suspicions?: SuspicionCheck;
    outagesInClickHouse?: number;
    ok: boolean;
    skipped: string[];
  };
  notes: string[];
}

const fmt = (v: number | undefined, digits = 0) =>
  v === undefined || !Number.isFinite(v)
    ? '–'
    : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !(b > 0) ? '–' : `${((a / b) * 100).toFixed(0)} %`;
const ms = (v: number | undefined) =>
  v === undefined ? '–' : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;

function pctRow(name: string, p: Percentiles | undefined): string {
  if (!p) return `| ${name} | – | – | – | – | – | 0 |`;
  return `| ${name} | ${ms(p.p50)} | ${ms(p.p90)} | ${ms(p.p95)} | ${ms(p.p99)} | ${ms(p.max)} | ${p.count} |`;
}

export function renderMarkdown(s: LoadTestSummary): string {
  const b = s.baseline;
  const nativeInsert = b.inserts.find((i) => i.path === 'clickhouse-client Native' && !i.error);
  const best = Math.max(0, ...b.inserts.filter((i) => !i.error).map((i) => i.rowsPerSec));
  const L: string[] = [];
  const c = s.correctness;
  L.push(`# Load test ${s.startedAt}`);
  L.push('');
  L.push(`\`${s.command}\``);
  L.push('');
  L.push(
    `Scenario **${s.setup.scenario}**, ${fmt(s.setup.meters)} meters${s.setup.regions ? ` (${s.setup.regions.join(', ')})` : ''}, ${s.setup.hours} h of traffic, speed **${s.setup.speed}**. ` +
      `Machine: ${s.machine.cores} cores (${s.machine.cpuModel}), ${s.machine.memoryGb.toFixed(0)} GB, Node ${s.machine.node}, load average before the run ${s.machine.loadAvgBefore.map((x) => x.toFixed(1)).join(' / ')}.`,
  );
  L.push('');
  L.push(
    `**Correctness: ${c.ok ? 'PASS' : 'FAIL'}**${c.skipped.length ? ` (not checked: ${c.skipped.join('; ')})` : ''}`,
  );
  L.push('');
  L.push('## Throughput, and the ratio to what this machine can do');
  L.push('');
  L.push('| figure | pipeline | baseline (same run) | ratio |');
  L.push('| --- | --- | --- | --- |');
  L.push(
    `| produce (replay → Kafka), records/s | ${fmt(s.replay.recordsPerSec)} | ${fmt(b.producer?.recordsPerSec)} (ProducerPerformance, ${b.producer?.recordSize ?? '–'} B records) | ${ratio(s.replay.recordsPerSec, b.producer?.recordsPerSec)} |`,
  );
  L.push(
    `| produce, MB/s | ${fmt(s.replay.mbPerSec, 1)} | ${fmt(b.producer?.mbPerSec, 1)} | ${ratio(s.replay.mbPerSec, b.producer?.mbPerSec)} |`,
  );
  L.push(
    `| end to end (first send → last read visible in ClickHouse), reads/s | ${fmt(s.endToEnd.readsPerSec)} | ${fmt(nativeInsert?.rowsPerSec)} (clickhouse-client Native insert) | ${ratio(s.endToEnd.readsPerSec, nativeInsert?.rowsPerSec)} |`,
  );
  L.push(
    `| end to end vs Kafka's consumer, records/s | ${fmt(s.endToEnd.readsPerSec)} | ${fmt(b.consumer?.recordsPerSec)} (ConsumerPerformance) | ${ratio(s.endToEnd.readsPerSec, b.consumer?.recordsPerSec)} |`,
  );
  L.push(
    `| end to end vs the slowest baseline stage | ${fmt(s.endToEnd.readsPerSec)} | ${fmt(Math.min(b.producer?.recordsPerSec ?? Infinity, b.consumer?.recordsPerSec ?? Infinity, nativeInsert?.rowsPerSec ?? Infinity))} | ${ratio(s.endToEnd.readsPerSec, Math.min(b.producer?.recordsPerSec ?? Infinity, b.consumer?.recordsPerSec ?? Infinity, nativeInsert?.rowsPerSec ?? Infinity))} |`,
  );
  L.push('');
  L.push(
    `Replayed ${fmt(s.replay.reads)} reads (${fmt(s.replay.distinctReads)} distinct) and ${fmt(s.replay.events)} events (${fmt(s.replay.lastGasps)} last gasps) in ${fmt(s.replay.seconds, 1)} s; ` +
      `mean read ${fmt(s.replay.meanReadBytes, 1)} B (key + framed Avro)${s.replay.client ? `, producer: ${s.replay.client === 'wire' ? "the simulator's WireProducer" : 'kafkajs'}` : ''}. The replayer waited for Kafka acknowledgements ${(s.replay.sendWaitShare * 100).toFixed(0)} % of the time. ` +
      `Topology: ${fmt(s.replay.profiles)} profiles in ${fmt(s.replay.profilesSeconds, 1)} s. ` +
      (s.endToEnd.drained
        ? `Drained ${fmt(s.endToEnd.drainSeconds, 1)} s after the last send.`
        : `**Not drained** within ${fmt(s.endToEnd.drainSeconds, 0)} s after the last send.`) +
      (s.replay.stoppedEarly ? ` Replay stopped early: ${s.replay.stoppedEarly}.` : ''),
  );
  L.push('');
  L.push('Baseline detail:');
  L.push('');
  L.push('| baseline | records or rows | rate | MB/s | note |');
  L.push('| --- | --- | --- | --- | --- |');
  for (const k of [b.producer, b.consumer]) {
    if (!k) continue;
    L.push(
      `| Kafka ${k.tool} | ${fmt(k.records)} | ${fmt(k.recordsPerSec)} /s | ${fmt(k.mbPerSec, 1)} | ${k.error ?? (k.p99LatencyMs !== undefined ? `p99 latency ${k.p99LatencyMs} ms` : '')} \`${k.command}\` |`,
    );
  }
  for (const i of b.inserts)
    L.push(
      `| ${i.path} (bare copy of \`reads\`) | ${fmt(i.rows)} | ${fmt(i.rowsPerSec)} rows/s | ${fmt(i.bytes / 1e6 / Math.max(0.001, i.ms / 1000), 1)} | ${i.error ?? ''} |`,
    );
  if (best > 0) L.push('');
  L.push('');
  L.push('![throughput](throughput.svg)');
  L.push('');
  L.push('## Latency');
  L.push('');
  L.push('| path | p50 | p90 | p95 | p99 | max | samples |');
  L.push('| --- | --- | --- | --- | --- | --- | --- |');
  L.push(pctRow('read produced → row visible in ClickHouse', s.latency.readToClickHouse));
  L.push(pctRow('first last gasp produced → outage record consumed', s.latency.gaspToOutage));
  if (s.latency.gaspToOutageMinusDelay && s.latency.confirmDelayWallMs !== undefined)
    L.push(
      pctRow(
        `… minus the confirmation delay (${s.setup.confirmDelayMs / 1000} s event time = ${fmt(s.latency.confirmDelayWallMs / 1000, 1)} s of wall time)`,
        s.latency.gaspToOutageMinusDelay,
      ),
    );
  L.push(
    pctRow(
      '… from when the replay had produced traffic up to `confirmed_at`',
      s.latency.gaspToOutageBeyondConfirm,
    ),
  );
  L.push(
    pctRow(
      'last gasp crossing the threshold in Kafka → suspected outage sent (`emitted_at − evidence_logged_at`)',
      s.latency.suspectedDetection,
    ),
  );
  L.push('');
  L.push(
    `Read latency: marker reads (one per ${'second'} of replay), ClickHouse polled every ${s.latency.markerPollMs} ms (resolution); ${s.latency.markersMissing} markers never became visible. ` +
      'Last gasp latency: per outage, from the produce time of the first last gasp of its gardu (any gardu of its feeder) to the outage record arriving on the outages topic. ' +
      '"Minus the confirmation delay" (paced replays) is that latency less the delay in wall time at the replay\'s speed: the issue\'s "beyond the confirmation delay", replay lag included. ' +
      "The last row starts instead when the replay had produced (and Kafka acknowledged) traffic up to the outage's `confirmed_at` (event time): the time the detector took once it had the evidence; it reads 0 when the outage was out before that, e.g. while the replay was still producing a whole fleet's quarter-hour reads. " +
      "Suspected outages: per suspicion, its first SUSPECTED record's `emitted_at` (the detector's clock when it sent it) minus `evidence_logged_at` (the Kafka timestamp of the last gasp that crossed the rule's threshold); no confirmation delay or watermark in it, and the same at any replay speed.",
  );
  L.push('');
  L.push('![latency](latency.svg)');
  L.push('');
  L.push('## Consumer lag');
  L.push('');
  L.push('![lag](lag.svg)');
  L.push('');
  L.push('## Where the time goes (CPU and memory per process)');
  L.push('');
  L.push(
    "From the first send until the pipeline drained. CPU per read: the cost of one read (and its share of events) in each process; 1 / (sum of the column) is what this many cores could sustain if nothing else ran. Kafka, ClickHouse and the registry are shared with everything else on the machine, so their figures include other users' load.",
  );
  L.push('');
  L.push('| process | CPU seconds | mean cores | CPU µs per read | peak RSS |');
  L.push('| --- | --- | --- | --- | --- |');
  for (const [name, p] of Object.entries(s.processes))
    L.push(
      `| ${name} | ${fmt(p.cpuSeconds, 1)} | ${fmt(p.meanCores, 2)} | ${fmt(p.cpuUsPerRead, 1)} | ${fmt(p.peakRssMb)} MB |`,
    );
  const perRead = Object.values(s.processes).reduce((t, p) => t + p.cpuUsPerRead, 0);
  L.push(
    `| **all of the above** | | | **${fmt(perRead, 1)}** (≈ ${fmt(perRead > 0 ? (s.machine.cores * 1e6) / perRead : undefined)} reads/s on ${s.machine.cores} idle cores) | |`,
  );
  L.push(`| (whole machine busy) | | ${fmt(s.machineBusyCores, 2)} of ${s.machine.cores} | | |`);
  L.push(`| (other processes on the machine) | | ${fmt(s.otherBusyCores, 2)} | | |`);
  L.push('');
  L.push('![cpu](cpu.svg)');
  L.push('');
  for (const p of s.profiles ?? []) {
    L.push(
      `CPU profile of **${p.process}** (${fmt(p.totalMs / 1000, 1)} s sampled, busy ${(p.busyShare * 100).toFixed(0)} %), self time by module and by function:`,
    );
    L.push('');
    L.push('| module | self | share | | function | self | share |');
    L.push('| --- | --- | --- | --- | --- | --- | --- |');
    for (let i = 0; i < Math.max(p.topModules.length, p.topFunctions.length); i++) {
      const m = p.topModules[i];
      const f = p.topFunctions[i];
      L.push(
        `| ${m ? `\`${m.name}\`` : ''} | ${m ? ms(m.selfMs) : ''} | ${m ? `${(m.share * 100).toFixed(1)} %` : ''} | | ${f ? `\`${f.name}\`` : ''} | ${f ? ms(f.selfMs) : ''} | ${f ? `${(f.share * 100).toFixed(1)} %` : ''} |`,
      );
    }
    L.push('');
  }
  L.push('## Correctness');
  L.push('');
  if (c.reads) {
    const r = c.reads;
    L.push(
      `Reads: **${r.ok ? 'PASS' : 'FAIL'}**. Replayed ${fmt(r.expected.produced)} reads, ${fmt(r.expected.distinct)} distinct (meter_id, read_at). ClickHouse: ${fmt(r.rawRows)} rows before merges, ${fmt(r.finalRows)} with FINAL, ${fmt(r.distinct)} distinct; checksums ${r.sumReadAt === r.expected.sumReadAt && r.sumEnergy === r.expected.sumEnergy ? 'match' : 'differ'}.`,
    );
    for (const p of r.problems) L.push(`- ${p}`);
    L.push('');
  }
  if (c.outages) {
    const o = c.outages;
    L.push(
      `Outages: **${o.ok ? 'PASS' : 'FAIL'}**. ${o.expected} expected (GARDU and FEEDER scope from the ground truth), ${o.matched} found, ${o.exact} at the right scope within the tolerances ` +
        `(start ±${o.tolerance.startMs / 1000} s, restore ±${o.tolerance.endMs / 1000} s); ${o.missing.length} missing, ${o.wrong.length} wrong, ${o.unexpected.length} unexpected; ${o.ignored} interruptions not scored (momentary, METER scope, nobody affected).` +
        (c.outagesInClickHouse !== undefined
          ? ` ${c.outagesInClickHouse} outages in ClickHouse (outages_latest).`
          : ''),
    );
    for (const m of [...o.missing, ...o.wrong].slice(0, 20))
      L.push(
        `- ${m.expected.scope} ${m.expected.gardu_id ?? m.expected.feeder_id} (truth ${m.expected.truthId}, ${new Date(m.expected.start).toISOString()}): ${m.problems.join('; ')}`,
      );
    for (const u of o.unexpected.slice(0, 10))
      L.push(
        `- unexpected ${u.scope} ${u.gardu_id ?? u.feeder_id} from ${new Date(u.started_at).toISOString()} (${u.outage_id})`,
      );
    for (const d of o.overlapping.slice(0, 10))
      L.push(
        `- two ${d.scope} outages of ${d.place} at once: ${d.first.outage_id} from ${new Date(d.first.started_at).toISOString()} and ${d.second.outage_id} from ${new Date(d.second.started_at).toISOString()}`,
      );
    L.push('');
  }
  if (c.suspicions) L.push(...suspicionSection(c.suspicions));
  if (c.reliability) L.push(...reliabilitySection(c.reliability));
  if (s.notes.length) {
    L.push('## Notes');
    L.push('');
    for (const n of s.notes) L.push(`- ${n}`);
    L.push('');
  }
  L.push(
    'Files: `summary.json` (all figures), `samples.csv` (time series), `outages.jsonl` (every outage record seen), `suspected-outages.jsonl` (every suspected-outage record seen), `loader.log`, `detector.log`.',
  );
  L.push('');
  return L.join('\n');
}

/** Suspected outages by final status; pending after the drain or confirmed as an outage never seen fail. */
export function suspicionSection(c: SuspicionCheck): string[] {
  const b = c.byStatus;
  const L = [
    `Suspected outages: **${c.ok ? 'PASS' : 'FAIL'}**. ${fmt(c.suspicions)} suspicions, by final status: ${fmt(b.CONFIRMED)} CONFIRMED, ${fmt(b.CANCELLED)} CANCELLED, ${fmt(b.SUSPECTED)} SUSPECTED, ${fmt(b.VERIFIED)} VERIFIED; ` +
      `${fmt(c.pending)} left pending after the drain; ${fmt(c.unconfirmed)} CONFIRMED as an outage that never came out on the outages topic.`,
  ];
  for (const p of c.problems) L.push(`- ${p}`);
  L.push('');
  return L;
}

const MAX_INDEX_ROWS = 40;

/** The indices beside the truth's, one row per region, ULP and month (truth / view in each cell). */
export function reliabilitySection(r: ReliabilityCheck): string[] {
  const L: string[] = [];
  const bad = r.cells.filter((c) => c.problems.length > 0).length;
  L.push(
    `Reliability indices: **${r.ok ? 'PASS' : 'FAIL'}**. \`reliability_monthly\` against the ground truth (each customer's merged dark intervals, IEEE 1366, sustained > 300 s): ` +
      `customers interrupted exact, customer-minutes within ±${(r.tolerance.startMs + r.tolerance.endMs) / 60_000} min a customer; ${r.cells.length} region/ULP/month cells, ${bad} off` +
      (r.stillDark > 0
        ? `; ${r.stillDark} customers still dark at the end of the range (counted by neither)`
        : '') +
      (r.unseen > 0
        ? `; ${r.unseen} interruptions of lone meters whose last gasp was lost (no evidence to count them by: counted by neither).`
        : '.'),
  );
  L.push('');
  if (r.cells.length === 0) return L;
  L.push('Each cell: truth / `reliability_monthly`.');
  L.push('');
  L.push(
    '| region | ULP | month | N_T | CI | CMI (min) | SAIDI (min) | SAIFI | CAIDI (min) | MAIFI | check |',
  );
  L.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const pair = (t: number | undefined, v: number | undefined, digits: number) =>
    `${fmt(t, digits)} / ${fmt(v, digits)}`;
  for (const c of r.cells.slice(0, MAX_INDEX_ROWS)) {
    const t = c.truth;
    const v = c.view;
    L.push(
      `| ${c.region} | ${c.ulp} | ${c.month} | ${pair(t?.customers_served, v?.customers_served, 0)} | ${pair(t?.customers_interrupted, v?.customers_interrupted, 0)} | ${pair(t?.customer_minutes, v?.customer_minutes, 1)} | ` +
        `${pair(t?.saidi_minutes, v?.saidi_minutes, 2)} | ${pair(t?.saifi, v?.saifi, 3)} | ${pair(t?.caidi_minutes, v?.caidi_minutes, 1)} | ${pair(t?.maifi, v?.maifi, 3)} | ${c.problems.length ? c.problems.join('; ') : 'ok'} |`,
    );
  }
  if (r.cells.length > MAX_INDEX_ROWS)
    L.push(`| … ${r.cells.length - MAX_INDEX_ROWS} more in summary.json | | | | | | | | | | |`);
  L.push('');
  return L;
}

/** Per-second rate series from a cumulative counter. */
function rate(samples: readonly Sample[], t0: number, get: (s: Sample) => number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    const dt = (b.t - a.t) / 1000;
    if (dt > 0) out.push([(b.t - t0) / 1000, Math.max(0, (get(b) - get(a)) / dt)]);
  }
  return smooth(out, 3);
}

function smooth(points: [number, number][], k: number): [number, number][] {
  return points.map(([x], i) => {
    const w = points.slice(Math.max(0, i - k + 1), i + 1);
    return [x, w.reduce((s, p) => s + p[1], 0) / w.length];
  });
}

export function writeReport(
  dir: string,
  s: LoadTestSummary,
  samples: readonly Sample[],
  latencies: {
    read: number[];
    gasp: number[];
    gaspMinusDelay: number[];
    gaspBeyond: number[];
    suspected: number[];
  },
): string {
  mkdirSync(dir, { recursive: true });
  const t0 = samples[0]?.t ?? 0;
  const b = s.baseline;
  const nativeInsert = b.inserts.find((i) => i.path === 'clickhouse-client Native' && !i.error);
  const hlines = [
    ...(b.producer?.recordsPerSec ? [{ y: b.producer.recordsPerSec, label: 'ProducerPerformance' }] : []),
    ...(nativeInsert ? [{ y: nativeInsert.rowsPerSec, label: 'clickhouse-client Native' }] : []),
  ];
  writeFileSync(
    join(dir, 'throughput.svg'),
    lineChart({
      title: 'Throughput',
      xLabel: 'seconds since start',
      yLabel: 'records/s',
      series: [
        { name: 'reads produced', points: rate(samples, t0, (x) => x.produced) },
        { name: 'reads in ClickHouse', points: rate(samples, t0, (x) => x.chRows) },
      ],
      hlines,
    }),
  );
  const groups = [...new Set(samples.flatMap((x) => Object.keys(x.lag)))];
  writeFileSync(
    join(dir, 'lag.svg'),
    lineChart({
      title: 'Consumer lag per group',
      xLabel: 'seconds since start',
      yLabel: 'messages behind',
      series: groups.map((g) => ({
        name: g,
        points: samples.map((x) => [(x.t - t0) / 1000, x.lag[g] ?? 0] as [number, number]),
      })),
    }),
  );
  const procs = [...new Set(samples.flatMap((x) => Object.keys(x.cpu)))];
  const cpuSeries: ChartSeries[] = procs.map((p) => ({
    name: p,
    points: smooth(
      samples.map((x) => [(x.t - t0) / 1000, x.cpu[p] ?? 0] as [number, number]),
      3,
    ),
  }));
  cpuSeries.push({
    name: 'other',
    points: smooth(
      samples.map((x) => [(x.t - t0) / 1000, x.otherBusy] as [number, number]),
      3,
    ),
  });
  writeFileSync(
    join(dir, 'cpu.svg'),
    lineChart({
      title: 'CPU per process (cores)',
      xLabel: 'seconds since start',
      yLabel: 'cores',
      series: cpuSeries,
      hlines: [{ y: s.machine.cores, label: `${s.machine.cores} cores` }],
    }),
  );
  const bars = (name: string, v: number[]) => {
    const p = percentiles(v);
    return {
      name: `${name} (n=${v.length})`,
      bars: p
        ? (['p50', 'p90', 'p95', 'p99', 'max'] as const).map((k) => ({ label: k, value: p[k] / 1000 }))
        : [],
    };
  };
  writeFileSync(
    join(dir, 'latency.svg'),
    barChart({
      title: 'Latency percentiles (seconds)',
      yLabel: 'seconds',
      groups: [
        bars('read → ClickHouse', latencies.read),
        bars('last gasp → outage', latencies.gasp),
        bars('… minus confirmation delay', latencies.gaspMinusDelay),
        bars('… from evidence produced', latencies.gaspBeyond),
        bars('evidence in Kafka → suspected outage', latencies.suspected),
      ],
    }),
  );
  const header = [
    't_s',
    'produced',
    'produced_events',
    'ch_rows',
    ...groups.map((g) => `lag_${g}`),
    ...procs.map((p) => `cpu_${p}`),
    ...procs.map((p) => `rss_mb_${p}`),
    'machine_busy',
    'other_busy',
  ];
  const rows = samples.map((x) =>
    [
      ((x.t - t0) / 1000).toFixed(1),
      x.produced,
      x.producedEvents,
      x.chRows,
      ...groups.map((g) => x.lag[g] ?? ''),
      ...procs.map((p) => (x.cpu[p] ?? 0).toFixed(3)),
      ...procs.map((p) => ((x.rss[p] ?? 0) / 1e6).toFixed(0)),
      x.machineBusy.toFixed(3),
      x.otherBusy.toFixed(3),
    ].join(','),
  );
  writeFileSync(join(dir, 'samples.csv'), `${header.join(',')}\n${rows.join('\n')}\n`);
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(s, null, 2)}\n`);
  const md = renderMarkdown(s);
  writeFileSync(join(dir, 'report.md'), md);
  return join(dir, 'report.md');
}

export { formatNumber };

/** One load test's figures that `--security both` compares. */
export interface SecurityRunFigures {
  security: 'plain' | 'SASL_SSL';
  reportFile: string;
  ok: boolean;
  summary: LoadTestSummary;
}

/** Replay and end-to-end rates of the plain and the SASL_SSL run, with secured / plain (goal ≥ 0.8). */
export function renderSecurityComparison(command: string, runs: SecurityRunFigures[]): string {
  const plain = runs.find((r) => r.security === 'plain');
  const secured = runs.find((r) => r.security === 'SASL_SSL');
  const ratioOf = (f: (s: LoadTestSummary) => number | undefined) => {
    const a = secured && f(secured.summary);
    const b = plain && f(plain.summary);
    return a === undefined || b === undefined || !(b > 0) ? '–' : (a / b).toFixed(2);
  };
  const cpu = (s: LoadTestSummary, name: string) => s.processes[name]?.cpuUsPerRead;
  const rows: Array<[string, (s: LoadTestSummary) => number | undefined, number]> = [
    ['replay, reads/s', (s) => s.replay.readsPerSec, 0],
    ['end to end, reads/s', (s) => s.endToEnd.readsPerSec, 0],
    ['replayer CPU µs per read', (s) => cpu(s, 'replay'), 2],
    ['detector CPU µs per read', (s) => cpu(s, 'detector'), 2],
    ['loader CPU µs per read', (s) => cpu(s, 'loader'), 2],
    ['broker CPU µs per read', (s) => cpu(s, 'kafka'), 2],
    ['pipeline CPU µs per read (the four above)', pipelineCpuPerRead, 2],
    ['cores used by other processes', (s) => s.otherBusyCores, 2],
  ];
  const L = [
    `# Load test, plain and SASL_SSL (${new Date().toISOString().slice(0, 10)})`,
    '',
    `\`${command}\`: the same recording replayed on the stack's plain broker, then on a secured broker`,
    '(SASL_SSL, SCRAM-SHA-512, certificate verified; single node, JVM defaults, warmed up) with the',
    'same registry and ClickHouse. Run one after the other on one machine: compare the ratios.',
    "The stack's broker also serves whatever else uses the stack: its CPU includes that; the secured",
    'broker serves this run alone.',
    '',
    `| | plain | SASL_SSL | SASL_SSL / plain |`,
    `| --- | ---: | ---: | ---: |`,
    ...rows.map(
      ([name, f, digits]) =>
        `| ${name} | ${fmt(plain && f(plain.summary), digits)} | ${fmt(secured && f(secured.summary), digits)} | ${ratioOf(f)} |`,
    ),
    `| rate when the cores are the limit (plain CPU / SASL_SSL CPU per read) | | | ${plain && secured ? cpuBoundRatio(plain.summary, secured.summary) : '–'} |`,
    `| correctness | ${plain ? (plain.ok ? 'PASS' : 'FAIL') : '–'} | ${secured ? (secured.ok ? 'PASS' : 'FAIL') : '–'} | |`,
    '',
    ...runs.map((r) => `- ${r.security}: ${r.reportFile}`),
    '',
  ];
  return L.join('\n');
}

/** CPU µs per read of the replayer, detector, loader and broker together (undefined when one is missing). */
export function pipelineCpuPerRead(s: LoadTestSummary): number | undefined {
  const parts = ['replay', 'detector', 'loader', 'kafka'].map((n) => s.processes[n]?.cpuUsPerRead);
  return parts.every((x) => x !== undefined && x > 0) ? parts.reduce((a, b) => a! + b!, 0) : undefined;
}

/**
 * SASL_SSL's rate over plain's if the machine's cores were the only limit: the pipeline's CPU per
 * read, plain over secured. Steadier than the rates on a shared machine, where other processes take
 * a different share of the cores in each run.
 */
export function cpuBoundRatio(plain: LoadTestSummary, secured: LoadTestSummary): string {
  const p = pipelineCpuPerRead(plain);
  const s = pipelineCpuPerRead(secured);
  return p && s ? (p / s).toFixed(2) : '–';
}
