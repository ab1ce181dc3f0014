import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { DeadlineError, ProcessError } from './errors.js';

/**
 * The one way this code base runs a child process it waits for (the `ami` services of the demo,
 * the load test and the integration tests): spawned in its own process group, its output appended
 * to a log file and handed over line by line, waited for (a line that says it is ready, or its
 * exit) with a deadline, and stopped with its whole group (SIGTERM, then SIGKILL after a grace),
 * so that a wrapper (`npx`, `tsx`) cannot leave the real service running. Long-lived stack daemons
 * that outlive this process are @ami/stack's `spawnDaemon`.
 */

export interface ChildSpec {
  /** For messages and logs. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here as they come (the folder is created). */
  logFile?: string;
  /** Each whole line of output, as it comes. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** `pipe`: write its input through `process.stdin` (default: none). */
  stdin?: 'ignore' | 'pipe';
  /** How long stop() waits after its signal before SIGKILL (default 15 s). */
  stopGraceMs?: number;
}

export interface RunningChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly logFile: string | undefined;
  /** Resolves with the exit code (null when a signal ended it) once it has exited. */
  readonly exited: Promise<number | null>;
  /** Still running (not exited, not ended by a signal). */
  readonly alive: boolean;
  /** The last lines of output (at most 200), for error messages. */
  tail(): string[];
  /** Resolves with the first line (from now or already seen) that matches; rejects when it exits first or at the deadline. */
  waitForLine(match: RegExp, timeoutMs: number): Promise<string>;
  /** Resolves with the exit code; rejects when it could not start, and at the deadline (stopping it). */
  waitForExit(timeoutMs: number): Promise<number | null>;
  /** Signal the whole group, wait for the exit, SIGKILL the group after the grace. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

const TAIL_LINES = 200;
/** Groups still running: a terminal's Ctrl-C goes to our group only, so it is passed on to theirs. */
const running = new Set<number>();
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function forwardSignal(signal: NodeJS.Signals): void {
  for (const pgid of running) signalGroup(pgid, signal);
  // Nobody else handles it: end as the signal would have without us.
  if (process.listenerCount(signal) === 1) {
    for (const s of FORWARDED) process.removeListener(s, forwardSignal);
    process.kill(process.pid, signal);
  }
}

function track(pgid: number): void {
  if (running.size === 0) for (const s of FORWARDED) process.on(s, forwardSignal);
  running.add(pgid);
}

function untrack(pgid: number): void {
  running.delete(pgid);
  if (running.size === 0) for (const s of FORWARDED) process.removeListener(s, forwardSignal);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

export function startChild(spec: ChildSpec): RunningChild {
  const log = spec.logFile ? openLog(spec.logFile) : undefined;
  const child = spawn(spec.command, spec.args, {
    env: spec.env ?? process.env,
    cwd: spec.cwd,
    // Its own process group (the child's pid is the group's id): stop() ends everything it started.
    detached: true,
    stdio: [spec.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  const pgid = child.pid;
  if (pgid !== undefined) track(pgid);
  const lines: string[] = [];
  const watchers = new Set<(line: string) => void>();
  const onLine = (line: string, stream: 'stdout' | 'stderr') => {
    // Whole lines into the log: stdout and stderr never cut into each other's lines.
    log?.write(`${line}\n`);
    lines.push(line);
    if (lines.length > TAIL_LINES) lines.shift();
    spec.onLine?.(line, stream);
    for (const w of watchers) w(line);
  };
  const outputRead = Promise.all(
    (['stdout', 'stderr'] as const).map((stream) => {
      const reader = createInterface({ input: child[stream]!, crlfDelay: Infinity });
      reader.on('line', (l) => onLine(l, stream));
      return new Promise<void>((resolve) => reader.once('close', resolve));
    }),
  );
  let spawnError: Error | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      if (pgid !== undefined) untrack(pgid);
      // The last lines and the log written before anyone reads them; a grandchild still holding
      // the pipes is not waited for beyond a second.
      const flushed = outputRead.then(() => new Promise<void>((done) => (log ? log.end(done) : done())));
      void Promise.race([flushed, new Promise((r) => setTimeout(r, 1000))]).then(() => resolve(code));
    });
    // Could not start (no such command): no 'exit' follows; waitForExit says why.
    child.on('error', (err) => {
      if (child.pid !== undefined) return; // a failed kill(): the process runs on
      spawnError = err;
      resolve(null);
    });
  });
  const isAlive = () => child.exitCode === null && child.signalCode === null && pgid !== undefined;

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = spec.stopGraceMs ?? 15_000) => {
    if (pgid === undefined) return exited;
    // A group whose leader exited can still hold its children: signal the group in any case.
    signalGroup(pgid, signal);
    const timer = setTimeout(() => signalGroup(pgid, 'SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };

  return {
    name: spec.name,
    process: child,
    logFile: spec.logFile,
    exited,
    get alive() {
      return isAlive();
    },
    tail: () => [...lines],
    waitForLine(match, timeoutMs) {
      const seen = lines.find((l) => match.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const done = (f: () => void) => {
          clearTimeout(timer);
          watchers.delete(watch);
          f();
        };
        const watch = (l: string) => {
          if (match.test(l)) done(() => resolve(l));
        };
        const timer = setTimeout(
          () =>
            done(() => reject(new DeadlineError(`${spec.name}: no line like ${match} in ${timeoutMs} ms`))),
          timeoutMs,
        );
        watchers.add(watch);
        void exited.then((code) =>
          done(() => reject(new ProcessError(`${spec.name}: exited (${code}) before a line like ${match}`))),
        );
      });
    },
    async waitForExit(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'late'>(
        (resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)),
      );
      const first = await Promise.race([exited, deadline]);
      clearTimeout(timer);
      if (spawnError)
        throw new ProcessError(`${spec.name}: could not start ${spec.command}`, { cause: spawnError });
      if (first !== 'late') return first;
      await stop();
      throw new DeadlineError(`${spec.name}: still running after ${timeoutMs} ms (stopped it)`);
    },
    stop,
  };
}

function openLog(file: string) {
  mkdirSync(dirname(file), { recursive: true });
  return createWriteStream(file, { flags: 'a' });
}
