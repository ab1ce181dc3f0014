import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU and memory of processes from /proc (Linux): utime + stime of a process
 * and all its descendants, VmRSS summed the same way, and the machine's busy
 * share from /proc/stat. Pure readers; the sampler turns them into rates.
 */

const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64

export interface ProcSample {
  /** CPU seconds (user + system) of the tree so far. */
  cpuS: number;
  rssBytes: number;
  pids: number;
  alive: boolean;
}

function statOf(pid: number): { ppid: number; cpuTicks: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: fields start after the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
    return { ppid: Number(rest[1]), cpuTicks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return undefined;
  }
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** pid → parent pid of every live process. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = statOf(Number(d));
    if (s) out.set(Number(d), s.ppid);
  }
  return out;
}

/** A process and its descendants, not descending into `exclude` (roots watched on their own). */
export function processTree(
  root: number,
  ppids: Map<number, number> = parents(),
  exclude: ReadonlySet<number> = new Set(),
): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of ppids) {
    let list = children.get(ppid);
    if (!list) children.set(ppid, (list = []));
    list.push(pid);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const p = stack.pop()!;
    out.push(p);
    for (const c of children.get(p) ?? []) if (!exclude.has(c)) stack.push(c);
  }
  return out;
}

/** Samples several named process trees at once (one /proc scan). */
export function sampleTrees(roots: Record<string, number | undefined>): Record<string, ProcSample> {
  const ppids = parents();
  const out: Record<string, ProcSample> = {};
  const rootSet = new Set(Object.values(roots).filter((r): r is number => r !== undefined));
  for (const [name, root] of Object.entries(roots)) {
    if (root === undefined || !ppids.has(root)) {
      out[name] = { cpuS: 0, rssBytes: 0, pids: 0, alive: false };
      continue;
    }
    let ticks = 0;
    let rss = 0;
    const tree = processTree(root, ppids, rootSet);
    for (const pid of tree) {
      ticks += statOf(pid)?.cpuTicks ?? 0;
      rss += rssOf(pid);
    }
    out[name] = { cpuS: ticks / CLK_TCK, rssBytes: rss, pids: tree.length, alive: true };
  }
  return out;
}

/** Machine-wide CPU seconds (busy, total) over all cores, from /proc/stat. */
export function machineCpu(): { busyS: number; totalS: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((s, x) => s + x, 0);
  return { busyS: (total - idle) / CLK_TCK, totalS: total / CLK_TCK };
}
