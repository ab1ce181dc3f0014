import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
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
  type RunningChild,
} from '@ami/lib';
import { REPO_ROOT } from '@ami/cli/children';
import type { Tolerance } from './correctness.js';
import { parsePace, type Pace } from './pace.js';
import type { Replayer, ReplayStats } from './replay.js';
import type { Sampler } from './sampler.js';
import { loadTraffic, type Traffic } from './traffic.js';

/**
 * What every phase of one load test works on: the options, the run's names (topic prefix,
 * database, report folder), the recorded traffic, the clients, the services' environment, and
 * what the phases start (services, sampler, replayer), which `closeRun` stops whatever happened.
 */

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
  /** The broker's JVM, when it is not the stack's (the secured broker of `--security`). */
  kafkaPid?: number;
  env?: NodeJS.ProcessEnv;
  command?: string;
  logger?: Logger;
}

export interface RunContext {
  readonly o: LoadTestOptions;
  readonly startedAt: Date;
  readonly loadAvgBefore: number[];
  readonly env: NodeJS.ProcessEnv;
  readonly prefix: string;
  readonly db: string;
  readonly cfg: CommonConfig;
  readonly logger: Logger;
  readonly reportDir: string;
  readonly profileDir: string;
  readonly pace: Pace;
  readonly useDetector: boolean;
  readonly useLoader: boolean;
  readonly bar: cliProgress.SingleBar | undefined;
  readonly traffic: Traffic;
  readonly kafka: ReturnType<typeof createKafka>;
  readonly codec: AvroCodec;
  readonly ch: ReturnType<typeof createClickHouse>;
  /** The services' environment: the run's topics, database and consumer groups. */
  readonly childEnv: NodeJS.ProcessEnv;
  readonly confirmDelayMs: number;
  /** What the report says besides the figures, in the order things happened. */
  readonly notes: string[];
  /** Started by the phases; stopped by closeRun. */
  readonly children: RunningChild[];
  sampler?: Sampler;
  replayer?: Replayer;
  /** The replay's counts so far (the sampler's "produced"). */
  live?: ReplayStats;
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

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
}

/** The run's names, its traffic (recorded on first use) and its clients. */
export async function openRun(o: LoadTestOptions): Promise<RunContext> {
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

  const traffic = await loadTraffic(o, bar, logger);

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
  return {
    o,
    startedAt,
    loadAvgBefore,
    env,
    prefix,
    db,
    cfg,
    logger,
    reportDir,
    profileDir: join(reportDir, 'profiles'),
    pace,
    useDetector: o.detector ?? true,
    useLoader: o.loader ?? true,
    bar,
    traffic,
    kafka: createKafka(cfg, logger, 'ami-loadtest'),
    codec: new AvroCodec(createRegistry(cfg)),
    // The correctness check reads a day's reads with FINAL (114 M rows: minutes on 2 cores).
    ch: createClickHouse(cfg, undefined, 30 * 60_000),
    childEnv,
    confirmDelayMs: Number(childEnv.CONFIRM_DELAY_MS ?? 300_000),
    notes: [],
    children: [],
  };
}

/** Stops what the phases started and, unless `keep`, deletes the run's topics and database. */
export async function closeRun(ctx: RunContext): Promise<void> {
  ctx.bar?.stop();
  await ctx.sampler?.stop().catch(() => undefined);
  for (const c of ctx.children) await stopService(c).catch(() => undefined);
  await ctx.replayer?.close().catch(() => undefined);
  if (!ctx.o.keep) {
    const t = topicNames(ctx.prefix);
    await deleteTopics(ctx.kafka, Object.values(t)).catch((err: Error) =>
      ctx.logger.warn({ err }, 'could not delete topics'),
    );
    await ctx.ch
      .command({ query: sql`DROP DATABASE IF EXISTS ${ident(ctx.db)}` })
      .catch((err: Error) => ctx.logger.warn({ err }, 'could not drop the database'));
  }
  await ctx.ch.close().catch(() => undefined);
}

/** Stops a service (SIGTERM, SIGKILL after 20 s); its exit code, null when a signal ended it. */
export function stopService(c: RunningChild): Promise<number | null> {
  return c.stop('SIGTERM', 20_000);
}

export async function deleteTopics(kafka: ReturnType<typeof createKafka>, topics: string[]): Promise<void> {
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
