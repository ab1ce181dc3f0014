import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, readPid, spawnDaemon, stopDaemon, type DaemonSpec } from './processes.js';
import { STACK_ASSETS, type StackSettings } from './settings.js';

/** One service of the local stack. Every step is idempotent. */
export interface StackComponent {
  readonly name: string;
  readonly logFile: string;
  /** Fetch or install what is missing (jars, Debian packages, Python packages). */
  install(): Promise<void>;
  /** Start the process if it is not running already. */
  start(): Promise<void>;
  healthy(): Promise<boolean>;
  /** What is left to do once healthy (e.g. the cluster's topics and ACLs); idempotent. */
  ready?(): Promise<void>;
  running(): boolean;
  stop(): Promise<void>;
  /** Where clients reach it. */
  readonly address: string;
}

/**
 * Jars fetched by `fetch` into `libs` unless `marker` (one of them) is there already. Fetched beside
 * and renamed into place: tests that install at the same time never see half a folder.
 */
export function installJarsOnce(
  libs: string,
  marker: string,
  fetch: (outputDirectory: string) => void,
): string {
  if (existsSync(join(libs, marker))) return libs;
  const partial = `${libs}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  fetch(partial);
  try {
    renameSync(partial, libs);
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    if (!existsSync(join(libs, marker))) throw err;
  }
  return libs;
}

/** A stack service run as one daemon process: home folder, log file and pid file under AMI_HOME. */
export abstract class DaemonComponent implements StackComponent {
  readonly logFile: string;
  protected readonly pidFile: string;
  protected readonly home: string;

  constructor(
    readonly name: string,
    protected readonly s: StackSettings,
    homeDir: string,
    private readonly stopGraceMs: number,
  ) {
    this.home = join(s.AMI_HOME, homeDir);
    this.logFile = join(s.AMI_HOME, 'logs', `${name}.log`);
    this.pidFile = join(s.AMI_HOME, 'run', `${name}.pid`);
  }

  abstract readonly address: string;
  abstract install(): Promise<void>;
  abstract start(): Promise<void>;
  abstract healthy(): Promise<boolean>;

  /** Run a Maven goal on one of the stack's POMs, with the project-local repository under AMI_HOME. */
  protected maven(pom: string, goal: string, properties: Record<string, string>): void {
    execFileSync(
      'mvn',
      [
        '-q',
        '-B',
        `-Dmaven.repo.local=${join(this.s.AMI_HOME, 'm2')}`,
        '-f',
        join(STACK_ASSETS, pom),
        goal,
        ...Object.entries(properties).map(([k, v]) => `-D${k}=${v}`),
      ],
      { stdio: 'inherit' },
    );
  }

  protected spawn(spec: Pick<DaemonSpec, 'command' | 'args' | 'cwd'>): void {
    spawnDaemon({ ...spec, name: this.name, logFile: this.logFile, pidFile: this.pidFile });
  }

  running(): boolean {
    return isAlive(readPid(this.pidFile));
  }

  /** `SIGKILL` first: a crash, as the cluster test stops a replica. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await stopDaemon(this.pidFile, this.stopGraceMs, signal);
  }
}
