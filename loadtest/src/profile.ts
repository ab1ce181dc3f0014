import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';

/**
 * CPU profiles of the run's Node processes (`--profile`): the services get
 * `--cpu-prof` on their command line (written when they exit), the replayer
 * profiles itself through the inspector. `summarizeProfile` folds a
 * .cpuprofile into self time per function and per module ("where the time
 * goes"), for the report.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  process: string;
  file: string;
  totalMs: number;
  /** Share of samples not idle. */
  busyShare: number;
  topFunctions: { name: string; selfMs: number; share: number }[];
  topModules: { name: string; selfMs: number; share: number }[];
}

/** Where a frame's code lives: an npm package, a folder of this repo, node itself, or the VM. */
export function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const repo = /\/(packages\/[^/]+|services\/[^/]+|loadtest)\/src\/([^/?]+)/.exec(url);
  if (repo) return `${repo[1]}/${repo[2]}`;
  return url.split('/').slice(-2).join('/');
}

export function summarizeProfile(processName: string, file: string, top = 12): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++)
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    total += us;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const m = moduleOf(url, functionName);
    const key = `${functionName || '(anonymous)'} ${m}${url ? `:${lineNumber + 1}` : ''}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    mod.set(m, (mod.get(m) ?? 0) + us);
  }
  const busy = Math.max(1, total - idle);
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: us / busy }));
  return {
    process: processName,
    file,
    totalMs: total / 1000,
    busyShare: busy / Math.max(1, total),
    topFunctions: rank(fn),
    topModules: rank(mod),
  };
}

/** Node flags that make a child write its CPU profile into `dir` on exit (not allowed in NODE_OPTIONS). */
export function profileNodeArgs(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

/** Profiles this process until `stop()`, then writes `<dir>/<name>.cpuprofile`. */
export async function profileSelf(dir: string, name: string): Promise<{ stop(): Promise<string> }> {
  mkdirSync(dir, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 1000 });
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = (await session.post('Profiler.stop')) as { profile: unknown };
      session.disconnect();
      const file = join(dir, `${name}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      return file;
    },
  };
}

/**
 * Summaries of every .cpuprofile under `dir/<process>/` and `dir/*.cpuprofile`.
 * A process writes one profile per thread (tsx's loader runs in a worker);
 * threads that were busy less than `minBusy` of the time are left out.
 */
export function summarizeProfiles(dir: string, minBusy = 0.05): ProfileSummary[] {
  return summarizeAll(dir).filter((p) => p.busyShare >= minBusy);
}

function summarizeAll(dir: string): ProfileSummary[] {
  if (!existsSync(dir)) return [];
  const out: ProfileSummary[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.cpuprofile'))
      out.push(summarizeProfile(entry.name.replace(/\.cpuprofile$/, ''), join(dir, entry.name)));
    if (entry.isDirectory()) {
      for (const f of readdirSync(join(dir, entry.name)).filter((x) => x.endsWith('.cpuprofile')))
        out.push(summarizeProfile(entry.name, join(dir, entry.name, f)));
    }
  }
  return out;
}
