import { execFileSync } from 'node:child_process';
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

  async stop(): Promise<void> {
    await stopDaemon(this.pidFile, this.stopGraceMs);
  }
}
