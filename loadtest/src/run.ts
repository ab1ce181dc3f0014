import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import {
  AvroCodec,
  createClickHouse,
  createKafka,
  createLogger,
  createRegistry,
  ident,
  loadCommonConfig,
  sql,
  topicNames,
  type CommonConfig,
  type Logger,
  type MeterRead,
  type Outage,
} from '@ami/lib';
import { loadStackSettings, stackUp } from '@ami/stack';
import { Fleet } from '../../services/simulator/src/fleet.js';
import { parseTruth } from '../../services/simulator/src/groundTruth.js';
import { fleetFor, startFor } from '../../services/simulator/src/run.js';
import { loadScenario } from '../../services/simulator/src/scenario.js';
import { clickhouseInserts, kafkaBaseline, type Baseline } from './baseline.js';
import {
  checkOutages,
  checkReads,
  checkReliability,
  DEFAULT_TOLERANCE,
  latestOutages,
  reliabilityRows,
  type Tolerance,
} from './correctness.js';
import { truthReliability } from '../../services/simulator/src/reliabilityTruth.js';
import { describePace, parsePace, type Pace } from './pace.js';
import { profileNodeArgs, profileSelf, summarizeProfiles } from './profile.js';
import {
  readManifest,
  readRecording,
  recordingExists,
  recordSimulation,
  type Manifest,
} from './recording.js';
import { Replayer, type ReplayStats } from './replay.js';
import { percentiles, writeReport, type LoadTestSummary, type ProcessFigures } from './report.js';
import { deadLetters, Sampler, type OutageSeen } from './sampler.js';

/**
 * One load test, start to finish: record (or reuse) the scenario's traffic,
 * measure the baseline, replay into Kafka while the detector and the loader
 * run as child processes, sample everything, drain, check correctness, write
 * the report. Everything is bounded in time; all traffic goes to the stack
 * addresses of the config (127.0.0.1 by default).
 */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const AMI_CLI = join(REPO_ROOT, 'packages/cli/src/ami.ts');
const LOADTEST_SCENARIOS = join(REPO_ROOT, 'loadtest/scenarios');

/** A simulator scenario by name or path, or one of loadtest/scenarios/<name>.yaml. */
export function resolveScenario(name: string): string {
  const own = join(LOADTEST_SCENARIOS, `${name}.yaml`);
  return existsSync(own) ? own : name;
}

export interface LoadTestOptions {
  scenario: string;
  meters?: number;
  hours?: number;
  seed?: string;
  regions?: string[];
  start?: string;
  speed: string;
  /** Use this recording instead of generating one (its manifest says what it holds). */
  recording?: string;
  /** Where generated recordings are cached (default .ami/loadtest/recordings). */
  recordingsDir?: string;
  out?: string;
  prefix?: string;
  db?: string;
  detector?: boolean;
  loader?: boolean;
  /** full: 2 M Kafka records / 1 M rows (at most the recording's size); quick: 200 k / 100 k; none. */
  baseline?: 'full' | 'quick' | 'none';
  partitions?: number;
  chunk?: number;
  /** Replay producer: `wire` (default; kafkajs when SASL is configured) or `kafkajs`. */
  client?: 'wire' | 'kafkajs';
  /** Wall-clock bounds. */
  maxReplayS?: number;
  drainTimeoutS?: number;
  /** Give up the drain sooner when neither the rows in ClickHouse nor the consumer lags moved for this long. */
  drainStallS?: number;
  /** Keep topics and database afterwards (default: delete them). */
  keep?: boolean;
  progress?: boolean;
  /** CPU-profile the replayer, loader and detector; the report lists where the time goes. */
  profile?: boolean;
  tolerance?: Partial<Tolerance>;
  env?: NodeJS.ProcessEnv;
  command?: string;
  logger?: Logger;
}

export interface LoadTestResult {
  ok: boolean;
  reportDir: string;
  reportFile: string;
  summary: LoadTestSummary;
}

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
}

function startChild(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
  nodeArgs: string[] = [],
): Child {
  const log = createWriteStream(logFile, { flags: 'a' });
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', AMI_CLI, ...args], {
    env,
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.pipe(log);
  proc.stderr!.pipe(log);
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { name, proc, exited };
}

async function stopChild(c: Child, timeoutMs = 20_000): Promise<number | null> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return c.proc.exitCode;
  c.proc.kill('SIGTERM');
  const timer = setTimeout(() => c.proc.kill('SIGKILL'), timeoutMs);
  const code = await c.exited;
  clearTimeout(timer);
  return code;
}

async function runAmi(
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
  timeoutMs: number,
): Promise<void> {
  const c = startChild(args.join('-'), args, env, logFile);
  const timer = setTimeout(() => c.proc.kill('SIGTERM'), timeoutMs);
  const code = await c.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`ami ${args.join(' ')} failed (exit ${code}); see ${logFile}`);
}

function pidFile(name: string): number | undefined {
  try {
    const file = join(loadStackSettings().AMI_HOME, 'run', `${name}.pid`);
    return Number(readFileSync(file, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
}

/**
 * The detector's idle advance for a replay: quiet spells between deliveries pass as fast as the
 * replay runs them, up to 10x. Capped because a replay that stalls (GC, Kafka backpressure) looks
 * like a quiet fleet: at rate r a stall longer than IDLE_ADVANCE_MS + ALLOWED_LATENESS_MS / r turns
 * the next records late (2 s + 6 s at 10x; at 360x it would be 2.2 s).
 */
export function idleAdvanceRateFor(pace: Pace): number {
  return pace.mode === 'factor' ? Math.min(pace.factor, 10) : 1;
}

/**
 * The fleet a simulator recording was made with: rebuilt from the options in its manifest, so
 * replaying `--recording` publishes the recorded meters' topology, not the default scenario's.
 */
function recordedFleet(manifest: Manifest, requested: Fleet, log: Logger): Fleet {
  if (manifest.fleet) return new Fleet(manifest.fleet);
  if (manifest.meters === requested.size && manifest.seed === requested.seed) return requested;
  log.warn(
    {
      recorded: { meters: manifest.meters, seed: manifest.seed },
      using: { meters: requested.size, seed: requested.seed },
    },
    'the recording has no fleet options (made before they were kept) and differs from the fleet asked for: its topology may not match',
  );
  return requested;
}

/** The recording for (scenario, meters, hours, seed, regions, start): cached, made on first use. */
async function ensureRecording(
  o: LoadTestOptions,
  fleet: Fleet,
  startMs: number,
  durationMs: number,
  bar: cliProgress.SingleBar | undefined,
): Promise<{ path: string; manifest: Manifest; reused: boolean }> {
  if (o.recording) {
    if (!recordingExists(o.recording))
      throw new Error(`no recording at ${o.recording} (or its .json manifest)`);
    return { path: o.recording, manifest: readManifest(o.recording), reused: true };
  }
  const dir = o.recordingsDir ?? join(loadStackSettings().AMI_HOME, 'loadtest', 'recordings');
  mkdirSync(dir, { recursive: true });
  const regions = [...new Set(fleet.ulps.map((u) => u.region.code))].join('+');
  const name = `${o.scenario.replace(/[^A-Za-z0-9_-]/g, '_')}-${fleet.size}m-${durationMs / 3_600_000}h-s${fleet.seed}-${regions}-${startMs}.avro`;
  const path = join(dir, name);
  if (recordingExists(path)) return { path, manifest: readManifest(path), reused: true };
  const scenario = loadScenario(resolveScenario(o.scenario));
  const expectedReads = fleet.size * (durationMs / (15 * 60_000));
  bar?.start(expectedReads, 0, { phase: 'record', info: '' });
  const manifest = await recordSimulation({
    path,
    fleet,
    scenario,
    startMs,
    durationMs,
    onProgress: (_, counts) =>
      bar?.update(counts.reads, { phase: 'record', info: `${counts.events} events` }),
  });
  bar?.update(manifest.reads);
  bar?.stop();
  return { path, manifest, reused: false };
}

async function firstReads(path: string, n: number): Promise<MeterRead[]> {
  const out: MeterRead[] = [];
  for await (const d of readRecording(path)) {
    for (const r of d.reads) {
      out.push(r);
      if (out.length >= n) return out;
    }
  }
  return out;
}

/** Gardu of an outage's scope (its feeder's gardu for FEEDER scope). */
function garduOf(o: Outage, fleet: Fleet | undefined): string[] {
  if (o.scope !== 'FEEDER') return o.gardu_id ? [o.gardu_id] : [];
  const f = fleet?.feeders.find((x) => x.id === o.feeder_id);
  return f ? f.gardu.map((g) => fleet!.garduIds[g]!) : [];
}

/**
 * Latency of each outage's first record: from its first last gasp's produce (`gasp`); that minus the
 * confirmation delay in wall time, when the replay is paced (`minusDelay`: the issue's "beyond the
 * confirmation delay"); and from when its confirming evidence was produced (`beyond`).
 */
function outageLatencies(
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

export async function runLoadTest(o: LoadTestOptions): Promise<LoadTestResult> {
  const startedAt = new Date();
  const loadAvgBefore = loadavg();
  const env = { ...(o.env ?? process.env) };
  const suffix = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const prefix = o.prefix ?? `lt-${suffix}`;
  const db = o.db ?? `loadtest_${suffix}`;
  const cfg: CommonConfig = loadCommonConfig({ ...env, AMI_TOPIC_PREFIX: prefix, CLICKHOUSE_DB: db });
  const logger = o.logger ?? createLogger('loadtest', env.LOG_LEVEL ?? 'warn');
  const reportDir = resolve(o.out ?? join(REPO_ROOT, 'reports', `loadtest-${timestamp()}`));
  mkdirSync(reportDir, { recursive: true });
  const pace = parsePace(o.speed);
  const notes: string[] = [];
  const useDetector = o.detector ?? true;
  const useLoader = o.loader ?? true;
  const progress = o.progress ?? Boolean(process.stderr.isTTY);
  const bar = progress
    ? new cliProgress.SingleBar(
        {
          format: '{phase} [{bar}] {percentage}% | {value}/{total} | {info}',
          hideCursor: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;

  // ---------------------------------------------------------------- traffic
  const scenario = loadScenario(resolveScenario(o.scenario));
  const fleet = fleetFor(scenario, { meters: o.meters, seed: o.seed, regions: o.regions });
  const startMs = startFor(scenario, o.start);
  const durationMs = (o.hours ?? 24) * 3_600_000;
  const rec = await ensureRecording(o, fleet, startMs, durationMs, bar);
  const manifest = rec.manifest;
  const simFleet = manifest.source === 'simulator' ? recordedFleet(manifest, fleet, logger) : undefined;
  const truth =
    manifest.truthFile && existsSync(manifest.truthFile)
      ? parseTruth(readFileSync(manifest.truthFile, 'utf8'))
      : undefined;
  logger.info(
    { recording: rec.path, reads: manifest.reads, events: manifest.events, reused: rec.reused },
    'recording ready',
  );

  const kafka = createKafka(cfg, logger, 'ami-loadtest');
  const codec = new AvroCodec(createRegistry(cfg));
  // The correctness check reads a day's reads with FINAL (114 M rows: minutes on 2 cores).
  const ch = createClickHouse(cfg, undefined, 30 * 60_000);
  const childEnv: NodeJS.ProcessEnv = {
    ...env,
    AMI_TOPIC_PREFIX: prefix,
    CLICKHOUSE_DB: db,
    LOADER_GROUP_ID: `${prefix}-loader`,
    DETECTOR_GROUP_ID: `${prefix}-detector`,
    DETECTOR_INSTANCE_ID: `${prefix}-detector-0`,
    LOG_LEVEL: env.LOADTEST_SERVICE_LOG_LEVEL ?? 'warn',
    KAFKA_BROKERS: cfg.KAFKA_BROKERS,
    SCHEMA_REGISTRY_URL: cfg.SCHEMA_REGISTRY_URL,
    CLICKHOUSE_URL: cfg.CLICKHOUSE_URL,
    IDLE_ADVANCE_RATE: env.IDLE_ADVANCE_RATE ?? String(idleAdvanceRateFor(pace)),
  };
  const confirmDelayMs = Number(childEnv.CONFIRM_DELAY_MS ?? 300_000);
  const profileDir = join(reportDir, 'profiles');
  // --cpu-prof is refused in NODE_OPTIONS: it goes on the child's command line.
  const nodeArgsFor = (name: string): string[] => (o.profile ? profileNodeArgs(join(profileDir, name)) : []);
  const children: Child[] = [];
  let sampler: Sampler | undefined;
  let replayer: Replayer | undefined;
  const summaryBase = {
    startedAt: startedAt.toISOString(),
    command:
      o.command ??
      `loadtest --scenario ${o.scenario} --meters ${fleet.size} --hours ${durationMs / 3_600_000} --speed ${o.speed}`,
    machine: {
      cores: cpus().length,
      memoryGb: totalmem() / 2 ** 30,
      node: process.version,
      loadAvgBefore,
      cpuModel: cpus()[0]?.model ?? 'unknown',
    },
    setup: {
      scenario: manifest.scenario ?? o.scenario,
      meters: manifest.meters,
      hours: (manifest.endMs - manifest.startMs) / 3_600_000,
      regions: manifest.regions,
      speed: describePace(pace),
      prefix,
      db,
      recording: rec.path,
      recordingBytes: statSync(rec.path).size,
      recordingReused: rec.reused,
      recordMs: rec.reused ? undefined : manifest.recordedInMs,
      partitions: o.partitions ?? 6,
      confirmDelayMs,
      detector: useDetector,
      loader: useLoader,
    },
  };

  try {
    // ------------------------------------------------------------ stack
    // Idempotent: a health check when the stack is up, install and start when it is not.
    await stackUp(loadStackSettings(), (line) => logger.info(line));

    // ------------------------------------------------------------ database
    const tMigrate = Date.now();
    await runAmi(['db', 'migrate'], childEnv, join(reportDir, 'migrate.log'), 120_000);
    logger.info({ db, ms: Date.now() - tMigrate }, 'database migrated');

    // ------------------------------------------------------------ baseline
    const baseline: Baseline = { inserts: [] };
    const level = o.baseline ?? 'full';
    if (level !== 'none') {
      bar?.start(3, 0, { phase: 'baseline', info: 'clickhouse-client inserts' });
      const rows = Math.min(manifest.reads, level === 'full' ? 1_000_000 : 50_000);
      const sampleReads = await firstReads(rec.path, rows);
      const settings = loadStackSettings();
      const tcpPort = Number(env.CLICKHOUSE_TCP_PORT ?? settings.CLICKHOUSE_TCP_PORT);
      baseline.inserts = await clickhouseInserts({
        ch,
        cfg,
        db,
        tcpPort,
        reads: sampleReads,
        timeoutMs: 180_000,
      }).catch((err: Error) => {
        notes.push(`ClickHouse baseline failed: ${err.message}`);
        return [];
      });
      bar?.update(1, { info: 'Kafka ProducerPerformance / ConsumerPerformance' });
      const meanReadBytes = await meanEncodedRead(sampleReads.slice(0, 2000), codec, prefix);
      const records = Math.min(manifest.reads + manifest.events, level === 'full' ? 2_000_000 : 100_000);
      const topic = `${prefix}.baseline`;
      Object.assign(
        baseline,
        await kafkaBaseline({
          brokers: cfg.KAFKA_BROKERS,
          topic,
          records: Math.max(1000, records),
          recordSize: Math.round(meanReadBytes),
          timeoutMs: 300_000,
        }),
      );
      await deleteTopics(kafka, [topic]).catch(() => undefined);
      bar?.update(3);
      bar?.stop();
    }

    // ------------------------------------------------------------ topology and services
    replayer = new Replayer({
      kafka,
      cfg,
      codec,
      prefix,
      recording: rec.path,
      manifest,
      pace,
      chunk: o.chunk,
      client: o.client,
      partitions: o.partitions ?? 6,
      deadline: o.maxReplayS ? Date.now() + o.maxReplayS * 1000 : undefined,
      logger,
      onMarker: (m) => sampler?.addMarker(m),
    });
    await replayer.start();
    const tProfiles = Date.now();
    const profiles = simFleet ? await replayer.publishProfiles(simFleet.profiles()) : 0;
    const profilesSeconds = (Date.now() - tProfiles) / 1000;
    if (!simFleet)
      notes.push(
        'Recording from Kafka: no fleet to publish; the detector needs `<prefix>.meters` from elsewhere.',
      );

    if (useLoader)
      children.push(
        startChild(
          'loader',
          ['loader', 'run'],
          childEnv,
          join(reportDir, 'loader.log'),
          nodeArgsFor('loader'),
        ),
      );
    if (useDetector)
      children.push(
        startChild(
          'detector',
          ['detector', 'run'],
          childEnv,
          join(reportDir, 'detector.log'),
          nodeArgsFor('detector'),
        ),
      );
    const groups: Record<string, string> = {};
    if (useLoader) groups.loader = childEnv.LOADER_GROUP_ID!;
    if (useDetector) groups.detector = childEnv.DETECTOR_GROUP_ID!;
    let live: ReplayStats | undefined;
    const procNames = (): Record<string, number | undefined> => {
      const out: Record<string, number | undefined> = { replay: process.pid };
      for (const c of children) out[c.name] = c.proc.pid;
      out.kafka = pidFile('kafka');
      out.clickhouse = pidFile('clickhouse');
      out.registry = pidFile('schema-registry');
      return out;
    };
    sampler = new Sampler(
      {
        kafka,
        codec,
        ch,
        db,
        prefix,
        groups,
        processes: procNames,
        produced: () => ({ reads: live?.reads ?? 0, events: live?.events ?? 0 }),
        logger,
      },
      cpus().length,
    );
    await sampler.start();
    await waitForGroups(kafka, Object.values(groups), children, 90_000);

    // ------------------------------------------------------------ replay
    const total = manifest.reads + manifest.events;
    const selfProfile = o.profile ? await profileSelf(profileDir, 'replay') : undefined;
    bar?.start(total, 0, { phase: 'replay', info: '' });
    let lastBar = 0;
    const stats = await replayer.replay({
      onSent: (s) => {
        live = s;
        const now = Date.now();
        if (bar && now - lastBar > 500) {
          lastBar = now;
          const secs = (now - s.startedAt) / 1000;
          const smp = sampler!.latest();
          const lag = smp
            ? Object.entries(smp.lag)
                .map(([k, v]) => `${k} lag ${v}`)
                .join(', ')
            : '';
          bar.update(s.reads + s.events, {
            info: `${Math.round(s.reads / Math.max(0.001, secs))} reads/s | CH ${smp?.chRows ?? 0} | ${lag}`,
          });
        }
        for (const c of children)
          if (c.proc.exitCode !== null) replayer!.stop(`${c.name} exited with ${c.proc.exitCode}`);
      },
    });
    live = stats;
    await selfProfile?.stop();
    bar?.update(stats.reads + stats.events);
    bar?.stop();
    const replaySeconds = (stats.endedAt - stats.startedAt) / 1000;

    // ------------------------------------------------------------ drain
    const drainDeadline = Date.now() + (o.drainTimeoutS ?? 600) * 1000;
    bar?.start(Math.max(1, stats.distinctReads), 0, { phase: 'drain', info: '' });
    let drained = false;
    let lastVisibleAt: number | undefined;
    // A backlog still shrinking is waited for (up to the deadline); a pipeline that stopped moving is not.
    const stallMs = (o.drainStallS ?? 120) * 1000;
    let progress = { rows: -1, lag: Number.POSITIVE_INFINITY, at: Date.now() };
    while (Date.now() < drainDeadline) {
      const rows = useLoader ? await sampler.chRows().catch(() => 0) : 0;
      const lags = await sampler.lags().catch(() => ({}) as Record<string, number>);
      const lag = Object.values(lags).reduce((sum, v) => sum + v, 0);
      if (rows > progress.rows || lag < progress.lag) progress = { rows, lag, at: Date.now() };
      else if (Date.now() - progress.at > stallMs) {
        notes.push(`the drain stopped moving for ${stallMs / 1000} s (rows ${rows}, lag ${lag})`);
        break;
      }
      bar?.update(Math.min(rows, stats.distinctReads), {
        info: Object.entries(lags)
          .map(([k, v]) => `${k} lag ${v}`)
          .join(', '),
      });
      const lagZero = Object.values(lags).every((v) => v === 0);
      if (useLoader && rows >= stats.distinctReads && lastVisibleAt === undefined) lastVisibleAt = Date.now();
      if ((!useLoader || rows >= stats.distinctReads) && lagZero) {
        drained = true;
        break;
      }
      if (children.some((c) => c.proc.exitCode !== null)) {
        notes.push(
          `a service exited during the drain: ${children
            .filter((c) => c.proc.exitCode !== null)
            .map((c) => `${c.name} (${c.proc.exitCode})`)
            .join(', ')}`,
        );
        break;
      }
      await sleep(500);
    }
    bar?.stop();
    const drainSeconds = (Date.now() - stats.endedAt) / 1000;
    await sampler.drainMarkers(Math.min(drainDeadline, Date.now() + 30_000));
    // Outages: the detector's idle watermark advance closes what is open; wait until the outage stream is quiet.
    if (useDetector)
      await quiet(
        () => sampler!.outages.length,
        10_000,
        Math.min(drainDeadline + 60_000, Date.now() + 120_000),
      );
    await sampler.stop();
    const exitCodes: Record<string, number | null> = {};
    for (const c of children) exitCodes[c.name] = c.proc.exitCode;
    for (const c of children) await stopChild(c);
    for (const [name, code] of Object.entries(exitCodes))
      if (code !== null)
        notes.push(`${name} had exited with code ${code} before the end of the run (see ${name}.log)`);

    const cpuProfiles = o.profile ? summarizeProfiles(profileDir) : [];
    if (o.profile && cpuProfiles.length < 1 + children.length)
      notes.push(
        `only ${cpuProfiles.length} CPU profiles were written (a service killed without a clean exit writes none)`,
      );

    // ------------------------------------------------------------ figures
    const samples = sampler.samples;
    const processes: Record<string, ProcessFigures> = {};
    // The measured window: from the first send until the pipeline drained (or gave up).
    const windowEnd = stats.endedAt + drainSeconds * 1000;
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
    const clock =
      pace.mode === 'factor' && stats.paceOrigin
        ? { wall0: stats.paceOrigin.wall, at0: stats.paceOrigin.at, factor: pace.factor }
        : undefined;
    const { gasp, minusDelay, beyond } = outageLatencies(
      sampler.outages,
      stats,
      simFleet,
      confirmDelayMs,
      clock,
    );
    const e2eSeconds = lastVisibleAt !== undefined ? (lastVisibleAt - stats.startedAt) / 1000 : undefined;

    // ------------------------------------------------------------ correctness
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
        feederMinGardu: Number(childEnv.FEEDER_MIN_GARDU ?? DEFAULT_TOLERANCE.feederMinGardu),
        ...o.tolerance,
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
    } else
      skipped.push(useDetector ? 'outages (no ground truth for this recording)' : 'outages (no detector)');
    const dlq = await deadLetters(kafka, prefix).catch((err: Error) => {
      notes.push(`could not read the DLQ: ${err.message}`);
      return undefined;
    });
    if (dlq && dlq.total > 0)
      notes.push(
        `${dlq.total} records were dead-lettered by the services: ${Object.entries(dlq.byReason)
          .map(([k, v]) => `${k}: ${v}`)
          .join('; ')}`,
      );
    writeFileSync(
      join(reportDir, 'outages.jsonl'),
      sampler.outages.map((x) => JSON.stringify({ ...x.outage, received_at: x.receivedAt })).join('\n') +
        '\n',
    );
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
      drained;
    if (sampler.errors > 0)
      notes.push(`${sampler.errors} sampler errors (a sample or poll failed; see the log at debug level)`);

    const summary: LoadTestSummary = {
      ...summaryBase,
      replay: {
        reads: stats.reads,
        events: stats.events,
        lastGasps: stats.lastGasps,
        distinctReads: stats.distinctReads,
        meanReadBytes: stats.meanReadBytes,
        seconds: replaySeconds,
        readsPerSec: stats.reads / replaySeconds,
        recordsPerSec: (stats.reads + stats.events) / replaySeconds,
        mbPerSec: stats.bytes / 1e6 / replaySeconds,
        sendWaitShare: stats.sendWaitMs / 1000 / replaySeconds,
        client: stats.client,
        stoppedEarly: stats.stoppedEarly,
        profiles,
        profilesSeconds,
      },
      endToEnd: {
        seconds: e2eSeconds,
        readsPerSec: e2eSeconds ? stats.distinctReads / e2eSeconds : undefined,
        drained,
        drainSeconds,
      },
      baseline,
      latency: {
        readToClickHouse: percentiles(readLat),
        markersMissing: sampler.markers.length - readLat.length,
        markerPollMs: 250,
        gaspToOutage: percentiles(gasp),
        confirmDelayWallMs: clock ? confirmDelayMs / clock.factor : undefined,
        gaspToOutageMinusDelay: clock ? percentiles(minusDelay) : undefined,
        gaspToOutageBeyondConfirm: percentiles(beyond),
        outagesTimed: gasp.length,
      },
      processes,
      machineBusyCores: mean((x) => x.machineBusy),
      otherBusyCores: mean((x) => x.otherBusy),
      correctness,
      deadLetters: dlq,
      profiles: cpuProfiles,
      notes,
    };
    if (summary.otherBusyCores > 0.25)
      notes.push(
        `other processes used ${summary.otherBusyCores.toFixed(2)} cores on average during the run: the machine was shared, absolute figures are low; ratios to the baseline hold better`,
      );
    const reportFile = writeReport(reportDir, summary, samples, {
      read: readLat,
      gasp,
      gaspMinusDelay: minusDelay,
      gaspBeyond: beyond,
    });
    return { ok: correctness.ok, reportDir, reportFile, summary };
  } finally {
    bar?.stop();
    await sampler?.stop().catch(() => undefined);
    for (const c of children) await stopChild(c).catch(() => undefined);
    await replayer?.close().catch(() => undefined);
    if (!o.keep) {
      const t = topicNames(prefix);
      await deleteTopics(kafka, Object.values(t)).catch((err: Error) =>
        logger.warn({ err }, 'could not delete topics'),
      );
      await ch
        .command({ query: sql`DROP DATABASE IF EXISTS ${ident(db)}` })
        .catch((err: Error) => logger.warn({ err }, 'could not drop the database'));
    }
    await ch.close().catch(() => undefined);
  }
}

async function deleteTopics(kafka: ReturnType<typeof createKafka>, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const mine = topics.filter((t) => existing.has(t));
    if (mine.length) await admin.deleteTopics({ topics: mine, timeout: 30_000 });
  } finally {
    await admin.disconnect();
  }
}

/** Mean bytes of key + framed value of our encoded reads (sizes the Kafka baseline's records). */
async function meanEncodedRead(reads: MeterRead[], codec: AvroCodec, prefix: string): Promise<number> {
  if (reads.length === 0) return 75;
  const { subjectOf } = await import('../../services/simulator/src/schemas.js');
  const enc = codec.encoder('MeterRead', await codec.register('MeterRead', subjectOf(prefix, 'MeterRead')));
  return reads.reduce((s, r) => s + enc(r).length + Buffer.byteLength(r.gardu_id), 0) / reads.length;
}

/** Waits until the consumer groups have members (the services are up), or a service exits, or the deadline. */
async function waitForGroups(
  kafka: ReturnType<typeof createKafka>,
  groupIds: string[],
  children: Child[],
  timeoutMs: number,
): Promise<void> {
  if (groupIds.length === 0) return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const d = await admin.describeGroups(groupIds).catch(() => undefined);
      if (d && d.groups.every((g) => g.state === 'Stable' && g.members.length > 0)) return;
      const dead = children.find((c) => c.proc.exitCode !== null);
      if (dead) throw new Error(`${dead.name} exited with code ${dead.proc.exitCode} while starting`);
      await sleep(500);
    }
    throw new Error(`consumer groups ${groupIds.join(', ')} not stable after ${timeoutMs} ms`);
  } finally {
    await admin.disconnect();
  }
}

/** Waits until `count()` stops changing for `quietMs`, or the deadline. */
async function quiet(count: () => number, quietMs: number, deadline: number): Promise<void> {
  let last = count();
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(500);
    const n = count();
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
  }
}

export const __test = { outageLatencies, garduOf, dirname };
