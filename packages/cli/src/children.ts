import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProcessError, startChild, type ChildSpec, type RunningChild } from '@ami/lib';

/** The repository root: `ami` runs from here, whatever the caller's working directory. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const AMI = join(REPO_ROOT, 'packages/cli/src/ami.ts');

export interface AmiChildOptions {
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here. */
  logFile?: string;
  /** Node options before the script (`--cpu-prof` is refused in NODE_OPTIONS). */
  nodeArgs?: string[];
  onLine?: ChildSpec['onLine'];
  stopGraceMs?: number;
}

/**
 * `ami <args>` as a child process: one node process with tsx as its loader (not a tsx wrapper
 * process), so its pid is the service's own: SIGKILL kills the service, its CPU is the service's.
 */
export function startAmi(name: string, args: string[], o: AmiChildOptions = {}): RunningChild {
  return startChild({
    name,
    command: process.execPath,
    args: [...(o.nodeArgs ?? []), '--import', 'tsx', AMI, ...args],
    cwd: REPO_ROOT,
    env: o.env,
    logFile: o.logFile,
    onLine: o.onLine,
    stopGraceMs: o.stopGraceMs,
  });
}

/** `ami <args>` to its end; fails unless it exits with 0 within `timeoutMs`. */
export async function runAmi(args: string[], o: AmiChildOptions & { timeoutMs: number }): Promise<void> {
  const name = `ami ${args.join(' ')}`;
  const code = await startAmi(name, args, o).waitForExit(o.timeoutMs);
  if (code !== 0)
    throw new ProcessError(`${name} failed (exit ${code})${o.logFile ? `; see ${o.logFile}` : ''}`);
}
