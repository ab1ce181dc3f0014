import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { loadStackSettings, stackComponents, stackDown, stackStatus, stackUp } from '@ami/stack';

export function registerStackCommands(program: Command): void {
  const stack = program.command('stack').description('the local Kafka, schema registry and ClickHouse');

  stack
    .command('up')
    .description('install what is missing, start what is stopped, wait until healthy')
    .action(async () => {
      const t0 = Date.now();
      const env = await stackUp(loadStackSettings(), (l) => console.log(l));
      console.log(`stack healthy in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      for (const [k, v] of Object.entries(env)) console.log(`${k}=${v}`);
    });

  stack
    .command('down')
    .description('stop every service of the local stack (data is kept)')
    .action(async () => stackDown(loadStackSettings(), (l) => console.log(l)));

  stack
    .command('status')
    .description('which services run and answer')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const rows = await stackStatus();
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      for (const r of rows) {
        const state = r.healthy ? 'healthy' : r.running ? 'running, not answering' : 'stopped';
        console.log(`${r.name.padEnd(15)} ${state.padEnd(24)} ${r.address.padEnd(28)} ${r.log}`);
      }
      if (rows.some((r) => !r.healthy)) process.exitCode = 3;
    });

  stack
    .command('logs')
    .argument('[service]', 'kafka, schema-registry or clickhouse')
    .option('-n, --lines <n>', 'lines to show', '50')
    .option('-f, --follow', 'keep printing')
    .description("show a service's log")
    .action((service: string | undefined, opts: { lines: string; follow?: boolean }) => {
      const comps = stackComponents().filter((c) => !service || c.name === service);
      if (comps.length === 0) throw new Error(`unknown service ${service}`);
      const args = ['-n', opts.lines, ...(opts.follow ? ['-F'] : []), ...comps.map((c) => c.logFile)];
      spawnSync('tail', args, { stdio: 'inherit' });
    });
}
