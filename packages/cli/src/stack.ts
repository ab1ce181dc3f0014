import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import {
  CLUSTER_USERS,
  clickhouseClusterEnv,
  kafkaPasswordName,
  loadStackSettings,
  stackComponents,
  stackDown,
  stackStatus,
  stackUp,
  type StackSettings,
} from '@ami/stack';
import { ValidationError } from '@ami/lib';

const BROKERS_OPTION = [
  '--brokers <n>',
  'Kafka nodes: 1 plain (default), 3 a secured cluster (KAFKA_BROKERS_COUNT)',
] as const;

const CLUSTER_OPTION = [
  '--clickhouse-cluster',
  'also ZooKeeper and the ClickHouse cluster `ami`, 2 replicas (STACK_CLICKHOUSE_CLUSTER)',
] as const;

/** The stack's settings, with `--brokers` over KAFKA_BROKERS_COUNT and `--clickhouse-cluster` over STACK_CLICKHOUSE_CLUSTER. */
function settings(opts: { brokers?: string; clickhouseCluster?: boolean }): StackSettings {
  return loadStackSettings({
    ...process.env,
    ...(opts.brokers ? { KAFKA_BROKERS_COUNT: opts.brokers } : {}),
    ...(opts.clickhouseCluster ? { STACK_CLICKHOUSE_CLUSTER: 'true' } : {}),
  });
}

export function registerStackCommands(program: Command): void {
  const stack = program.command('stack').description('the local Kafka, schema registry and ClickHouse');

  stack
    .command('up')
    .description('install what is missing, start what is stopped, wait until healthy')
    .option(...BROKERS_OPTION)
    .option(...CLUSTER_OPTION)
    .action(async (opts: { brokers?: string; clickhouseCluster?: boolean }) => {
      const t0 = Date.now();
      const s = settings(opts);
      const env = await stackUp(s, (l) => console.log(l));
      console.log(`stack healthy in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      for (const [k, v] of Object.entries(env)) console.log(`${k}=${v}`);
      if (s.STACK_CLICKHOUSE_CLUSTER) {
        const cluster = Object.entries(clickhouseClusterEnv(s)).map(([k, v]) => `${k}=${v}`);
        console.log(`ClickHouse cluster (migrate and load with): ${cluster.join(' ')}`);
      }
      if (s.KAFKA_BROKERS_COUNT > 1) {
        const users = CLUSTER_USERS.filter((u) => u !== 'admin' && u !== 'registry').join(', ');
        console.log(
          `each service: KAFKA_SASL_USERNAME=<${users}> and KAFKA_SASL_PASSWORD=$${kafkaPasswordName('<user>')} from ${s.AMI_HOME}/secrets.env`,
        );
      }
    });

  stack
    .command('down')
    .description('stop every service of the local stack, the ClickHouse cluster too (data is kept)')
    .option(...BROKERS_OPTION)
    .action(async (opts: { brokers?: string }) => stackDown(settings(opts), (l) => console.log(l)));

  stack
    .command('status')
    .description('which services run and answer')
    .option('--json', 'machine-readable output')
    .option(...BROKERS_OPTION)
    .option(...CLUSTER_OPTION)
    .action(async (opts: { json?: boolean; brokers?: string; clickhouseCluster?: boolean }) => {
      const rows = await stackStatus(settings(opts));
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      for (const r of rows) {
        const state = r.healthy ? 'healthy' : r.running ? 'running, not answering' : 'stopped';
        console.log(`${r.name.padEnd(15)} ${state.padEnd(24)} ${r.address.padEnd(28)} ${r.log}`);
      }
      if (rows.some((r) => !r.healthy)) process.exitCode = 3;
    });

  stack
    .command('logs')
    .argument(
      '[service]',
      'kafka, schema-registry, clickhouse (with --clickhouse-cluster: zookeeper, clickhouse-r1, -r2)',
    )
    .option('-n, --lines <n>', 'lines to show', '50')
    .option('-f, --follow', 'keep printing')
    .option(...BROKERS_OPTION)
    .option(...CLUSTER_OPTION)
    .description("show a service's log")
    .action(
      (
        service: string | undefined,
        opts: { lines: string; follow?: boolean; brokers?: string; clickhouseCluster?: boolean },
      ) => {
        const comps = stackComponents(settings(opts)).filter((c) => !service || c.name === service);
        if (comps.length === 0) throw new ValidationError(`unknown service ${service}`);
        const files = comps.flatMap((c) => ('logFiles' in c ? (c.logFiles as string[]) : [c.logFile]));
        const args = ['-n', opts.lines, ...(opts.follow ? ['-F'] : []), ...files];
        spawnSync('tail', args, { stdio: 'inherit' });
      },
    );
}
