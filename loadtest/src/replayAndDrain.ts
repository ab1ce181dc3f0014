import { pendingSuspicions } from './judge.js';
import { summarizeProfiles, profileSelf, type ProfileSummary } from './profile.js';
import type { ReplayStats } from './replay.js';
import { stopService, type RunContext } from './runContext.js';
import { exitedServices } from './setup.js';

/**
 * The phases that run the pipeline: the replay into Kafka, the wait until the services have
 * caught up (or stopped moving), and their stop.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Replays the recording at the run's pace; stops early when a service exits. */
export async function replayTraffic(ctx: RunContext): Promise<ReplayStats> {
  const { bar, traffic } = ctx;
  const sampler = ctx.sampler!;
  const replayer = ctx.replayer!;
  const total = traffic.recording.manifest.reads + traffic.recording.manifest.events;
  const selfProfile = ctx.o.profile ? await profileSelf(ctx.profileDir, 'replay') : undefined;
  bar?.start(total, 0, { phase: 'replay', info: '' });
  let lastBar = 0;
  const stats = await replayer.replay({
    onSent: (s) => {
      ctx.live = s;
      const now = Date.now();
      if (bar && now - lastBar > 500) {
        lastBar = now;
        const secs = (now - s.startedAt) / 1000;
        const smp = sampler.latest();
        const lag = smp
          ? Object.entries(smp.lag)
              .map(([k, v]) => `${k} lag ${v}`)
              .join(', ')
          : '';
        bar.update(s.reads + s.events, {
          info: `${Math.round(s.reads / Math.max(0.001, secs))} reads/s | CH ${smp?.chRows ?? 0} | ${lag}`,
        });
      }
      for (const dead of exitedServices(ctx)) replayer.stop(`${dead} exited`);
    },
  });
  ctx.live = stats;
  await selfProfile?.stop();
  bar?.update(stats.reads + stats.events);
  bar?.stop();
  return stats;
}

export interface Drain {
  /** Every distinct read in ClickHouse (with a loader) and every consumer lag 0. */
  drained: boolean;
  /** From the end of the replay to the end of the wait. */
  drainSeconds: number;
  /** When the last distinct read became visible in ClickHouse. */
  lastVisibleAt: number | undefined;
}

/**
 * Waits until the pipeline has caught up with the replay: a backlog still shrinking is waited for
 * (up to the deadline), a pipeline that stopped moving is not. Then the sampler's markers and, with
 * a detector, until the outage and suspected-outage streams are quiet and no suspicion is pending.
 */
export async function drainPipeline(ctx: RunContext, stats: ReplayStats): Promise<Drain> {
  const { o, bar, notes, useLoader } = ctx;
  const sampler = ctx.sampler!;
  const drainDeadline = Date.now() + (o.drainTimeoutS ?? 600) * 1000;
  bar?.start(Math.max(1, stats.distinctReads), 0, { phase: 'drain', info: '' });
  let drained = false;
  let lastVisibleAt: number | undefined;
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
    const exited = exitedServices(ctx);
    if (exited.length > 0) {
      notes.push(`a service exited during the drain: ${exited.join(', ')}`);
      break;
    }
    await sleep(500);
  }
  bar?.stop();
  const drainSeconds = (Date.now() - stats.endedAt) / 1000;
  await sampler.drainMarkers(Math.min(drainDeadline, Date.now() + 30_000));
  // The detector's idle watermark advance closes what is open and confirms or cancels every suspicion:
  // one deadline for both streams; a suspicion still pending at it fails the judge.
  if (ctx.useDetector)
    await quiet(
      () => sampler.outages.length + sampler.suspicions.length,
      10_000,
      Math.min(drainDeadline + 60_000, Date.now() + 120_000),
      () => pendingSuspicions(sampler.suspicions.map((x) => x.suspicion)).length === 0,
    );
  return { drained, drainSeconds, lastVisibleAt };
}

/** Waits until `count()` has not changed for `quietMs` and `settled()` holds, or the deadline. */
async function quiet(
  count: () => number,
  quietMs: number,
  deadline: number,
  settled: () => boolean = () => true,
): Promise<void> {
  let last = count();
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(500);
    const n = count();
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (Date.now() - since >= quietMs && settled()) return;
  }
}

/** Sampler and services stopped; notes of any service that had exited; their CPU profiles. */
export async function stopServices(ctx: RunContext): Promise<ProfileSummary[]> {
  const { children, notes } = ctx;
  await ctx.sampler!.stop();
  const exitCodes: Record<string, number | null> = {};
  for (const c of children) exitCodes[c.name] = c.process.exitCode;
  for (const c of children) await stopService(c);
  for (const [name, code] of Object.entries(exitCodes))
    if (code !== null)
      notes.push(`${name} had exited with code ${code} before the end of the run (see ${name}.log)`);
  const cpuProfiles = ctx.o.profile ? summarizeProfiles(ctx.profileDir) : [];
  if (ctx.o.profile && cpuProfiles.length < 1 + children.length)
    notes.push(
      `only ${cpuProfiles.length} CPU profiles were written (a service killed without a clean exit writes none)`,
    );
  return cpuProfiles;
}
