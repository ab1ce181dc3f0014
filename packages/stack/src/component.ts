/** One service of the local stack. Every step is idempotent. */
export interface StackComponent {
  readonly name: string;
  readonly logFile: string;
  /** Fetch or install what is missing (jars, Debian packages, Python packages). */
  install(): Promise<void>;
  /** Start the process if it is not running already. */
  start(): Promise<void>;
  healthy(): Promise<boolean>;
  running(): boolean;
  stop(): Promise<void>;
  /** Where clients reach it. */
  readonly address: string;
}
