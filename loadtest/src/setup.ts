import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { DeadlineError, ProcessError, type AvroCodec, type MeterRead } from '@ami/lib';
import { loadStackSettings, stackUp } from '@ami/stack';
import { runAmi, startAmi } from '@ami/cli/children';
import { subjectOf } from '@ami/simulator/schemas';
import { clickhouseInserts, kafkaBaseline, type Baseline } from './baseline.js';
import { profileNodeArgs } from './profile.js';
import { Replayer } from './replay.js';
import { deleteTopics, type RunContext } from './runContext.js';
import { Sampler } from './sampler.js';
import { firstReads } from './traffic.js';

/**
 * The phases before the replay: the stack and the run's database, the baseline of what this
 * machine can do, the fleet's topology in Kafka, and the services running as child processes.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The stack up (a health check when it is up, install and start when not) and the database migrated. */
export async function prepareStack(ctx: RunContext): Promise<void> {
  await stackUp(loadStackSettings(), (line) => ctx.logger.info(line));
  const tMigrate = Date.now();
  await runAmi(['db', 'migrate'], {
    env: ctx.childEnv,
    logFile: join(ctx.reportDir, 'migrate.log'),
    timeoutMs: 120_000,
  });
  ctx.logger.info({ db: ctx.db, ms: Date.now() - tMigrate }, 'database migrated');
}

/** Kafka's perf tools and clickhouse-client inserts on this machine now, to divide the run's figures by. */
export async function measureBaseline(ctx: RunContext): Promise<Baseline> {
  const { o, bar, cfg, prefix } = ctx;
  const { recording } = ctx.traffic;
  const manifest = recording.manifest;
  const baseline: Baseline = { inserts: [] };
  const level = o.baseline ?? 'full';
  if (level === 'none') return baseline;
  bar?.start(3, 0, { phase: 'baseline', info: 'clickhouse-client inserts' });
  const rows = Math.min(manifest.reads, level === 'full' ? 1_000_000 : 50_000);
  const sampleReads = await firstReads(recording.path, rows);
  const settings = loadStackSettings();
  const tcpPort = Number(ctx.env.CLICKHOUSE_TCP_PORT ?? settings.CLICKHOUSE_TCP_PORT);
  baseline.inserts = await clickhouseInserts({
    ch: ctx.ch,
    cfg,
    db: ctx.db,
    tcpPort,
    reads: sampleReads,
    timeoutMs: 180_000,
  }).catch((err: Error) => {
    ctx.notes.push(`ClickHouse baseline failed: ${err.message}`);
    return [];
  });
  bar?.update(1, { info: 'Kafka ProducerPerformance / ConsumerPerformance' });
  const meanReadBytes = await meanEncodedRead(sampleReads.slice(0, 2000), ctx.codec, prefix);
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
  await deleteTopics(ctx.kafka, [topic]).catch(() => undefined);
  bar?.update(3);
  bar?.stop();
  return baseline;
}

/** Mean bytes of key + framed value of our encoded reads (sizes the Kafka baseline's records). */
async function meanEncodedRead(reads: MeterRead[], codec: AvroCodec, prefix: string): Promise<number> {
  if (reads.length === 0) return 75;
  const enc = codec.encoder('MeterRead', await codec.register('MeterRead', subjectOf(prefix, 'MeterRead')));
  return reads.reduce((s, r) => s + enc(r).length + Buffer.byteLength(r.gardu_id), 0) / reads.length;
}

export interface FleetPublished {
  /** MeterProfile records published. */
  profiles: number;
  profilesSeconds: number;
}

/** The replayer's topics and the fleet's MeterProfiles in `<prefix>.meters`. */
export async function publishFleet(ctx: RunContext): Promise<FleetPublished> {
  const { o, traffic } = ctx;
  const replayer = new Replayer({
    kafka: ctx.kafka,
    cfg: ctx.cfg,
    codec: ctx.codec,
    prefix: ctx.prefix,
    recording: traffic.recording.path,
    manifest: traffic.recording.manifest,
    pace: ctx.pace,
    chunk: o.chunk,
    client: o.client,
    partitions: o.partitions ?? 6,
    deadline: o.maxReplayS ? Date.now() + o.maxReplayS * 1000 : undefined,
    logger: ctx.logger,
    onMarker: (m) => ctx.sampler?.addMarker(m),
  });
  ctx.replayer = replayer;
  await replayer.start();
  const tProfiles = Date.now();
  const profiles = traffic.simFleet ? await replayer.publishProfiles(traffic.simFleet.profiles()) : 0;
  const profilesSeconds = (Date.now() - tProfiles) / 1000;
  if (!traffic.simFleet)
    ctx.notes.push(
      'Recording from Kafka: no fleet to publish; the detector needs `<prefix>.meters` from elsewhere.',
    );
  return { profiles, profilesSeconds };
}

/** Loader and detector as child processes, the sampler on; returns once their consumer groups are stable. */
export async function startServices(ctx: RunContext): Promise<void> {
  const { o, childEnv, children } = ctx;
  // --cpu-prof is refused in NODE_OPTIONS: it goes on the child's command line.
  const start = (name: string) =>
    startAmi(name, [name, 'run'], {
      env: childEnv,
      logFile: join(ctx.reportDir, `${name}.log`),
      nodeArgs: o.profile ? profileNodeArgs(join(ctx.profileDir, name)) : [],
    });
  if (ctx.useLoader) children.push(start('loader'));
  if (ctx.useDetector) children.push(start('detector'));
  const groups: Record<string, string> = {};
  if (ctx.useLoader) groups.loader = childEnv.LOADER_GROUP_ID!;
  if (ctx.useDetector) groups.detector = childEnv.DETECTOR_GROUP_ID!;
  const procNames = (): Record<string, number | undefined> => {
    const out: Record<string, number | undefined> = { replay: process.pid };
    for (const c of children) out[c.name] = c.process.pid;
    out.kafka = o.kafkaPid ?? pidFile('kafka');
    out.clickhouse = pidFile('clickhouse');
    out.registry = pidFile('schema-registry');
    return out;
  };
  ctx.sampler = new Sampler(
    {
      kafka: ctx.kafka,
      codec: ctx.codec,
      ch: ctx.ch,
      db: ctx.db,
      prefix: ctx.prefix,
      groups,
      processes: procNames,
      produced: () => ({ reads: ctx.live?.reads ?? 0, events: ctx.live?.events ?? 0 }),
      logger: ctx.logger,
    },
    cpus().length,
  );
  await ctx.sampler.start();
  await waitForGroups(ctx, Object.values(groups), 90_000);
}

function pidFile(name: string): number | undefined {
  try {
    const file = join(loadStackSettings().AMI_HOME, 'run', `${name}.pid`);
    return Number(readFileSync(file, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** The services no longer running, each as "name (exit code, or the signal that ended it)". */
export function exitedServices(ctx: RunContext): string[] {
  return ctx.children
    .filter((c) => !c.alive)
    .map((c) => `${c.name} (${c.process.exitCode ?? c.process.signalCode})`);
}

/** Waits until the consumer groups have members (the services are up), or a service exits, or the deadline. */
async function waitForGroups(ctx: RunContext, groupIds: string[], timeoutMs: number): Promise<void> {
  if (groupIds.length === 0) return;
  const admin = ctx.kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const d = await admin.describeGroups(groupIds).catch(() => undefined);
      if (d && d.groups.every((g) => g.state === 'Stable' && g.members.length > 0)) return;
      const dead = exitedServices(ctx);
      if (dead.length > 0) throw new ProcessError(`${dead.join(', ')} exited while starting`);
      await sleep(500);
    }
    throw new DeadlineError(`consumer groups ${groupIds.join(', ')} not stable after ${timeoutMs} ms`);
  } finally {
    await admin.disconnect();
  }
}
