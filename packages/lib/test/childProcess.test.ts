import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeadlineError, ProcessError, startChild } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'child-process-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A node child running `script`. */
const node = (name: string, script: string, logFile?: string) =>
  startChild({ name, command: process.execPath, args: ['-e', script], logFile, stopGraceMs: 2000 });

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Real processes on a shared machine: starting node (and tsx) can take seconds.
describe('startChild', { timeout: 60_000 }, () => {
  it('hands over whole lines however the output is cut, and appends it all to the log', async () => {
    const log = join(dir, 'lines.log');
    const c = node(
      'lines',
      `process.stdout.write('warming '); setTimeout(() => { process.stdout.write('up\\nrea'); process.stderr.write('a warning\\n'); }, 50);
       setTimeout(() => process.stdout.write('dy on 8080\\n'), 100); setTimeout(() => {}, 10_000);`,
      log,
    );
    expect(await c.waitForLine(/^ready on (\d+)$/, 10_000)).toBe('ready on 8080');
    expect(c.tail()).toEqual(expect.arrayContaining(['warming up', 'a warning', 'ready on 8080']));
    expect(await c.stop()).toBeNull(); // ended by SIGTERM
    expect(c.alive).toBe(false);
    // Whole lines from both streams, none cut into another (the order across the two streams is the OS's).
    expect(readFileSync(log, 'utf8').split('\n').sort()).toEqual([
      '',
      'a warning',
      'ready on 8080',
      'warming up',
    ]);
  });

  it('stops the whole process group: no grandchild outlives stop()', async () => {
    // A wrapper (as npx or tsx would be) whose real work is a grandchild that ignores SIGTERM.
    const c = node(
      'wrapper',
      `const { spawn } = require('node:child_process');
       const g = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: 'ignore' });
       console.log('grandchild ' + g.pid); setInterval(() => {}, 1000);`,
    );
    const line = await c.waitForLine(/^grandchild \d+$/, 10_000);
    const grandchild = Number(line.split(' ')[1]);
    expect(alive(grandchild)).toBe(true);
    await c.stop();
    // SIGKILL after the grace reached the grandchild too; poll briefly for the kernel to reap it.
    const deadline = Date.now() + 5000;
    while (alive(grandchild) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive(grandchild)).toBe(false);
  });

  it("passes a Ctrl-C on to the children's groups and still ends as the signal would", async () => {
    // A parent (as `ami demo` or the load test) running a service; the terminal signals the parent's group only.
    const lib = new URL('../src/childProcess.ts', import.meta.url).pathname;
    const parent = startChild({
      name: 'parent',
      command: process.execPath,
      args: [
        '--import',
        'tsx',
        '-e',
        `import { startChild } from '${lib}';
         const c = startChild({ name: 'service', command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] });
         console.log('service ' + c.process.pid); setInterval(() => {}, 1000);`,
      ],
      stopGraceMs: 2000,
    });
    const service = Number((await parent.waitForLine(/^service \d+$/, 20_000)).split(' ')[1]);
    expect(alive(service)).toBe(true);
    parent.process.kill('SIGINT');
    await parent.exited;
    expect(parent.process.signalCode).toBe('SIGINT');
    const deadline = Date.now() + 5000;
    while (alive(service) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive(service)).toBe(false);
  });

  it('fails a wait for readiness when the child exits first, and one for the exit at its deadline', async () => {
    const quitter = node('quitter', `console.log('starting'); process.exit(3)`);
    const failed = await quitter.waitForLine(/ready/, 10_000).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(ProcessError);
    expect(await quitter.exited).toBe(3);

    const sleeper = node('sleeper', 'setInterval(() => {}, 1000)');
    const late = await sleeper.waitForExit(200).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(DeadlineError);
    expect(sleeper.alive).toBe(false); // stopped, not left behind
    expect(await node('done', 'process.exit(0)').waitForExit(10_000)).toBe(0);
    const missing = startChild({ name: 'missing', command: join(dir, 'no-such-tool'), args: [] });
    await expect(missing.waitForExit(10_000)).rejects.toThrow(/could not start/);
  });
});
