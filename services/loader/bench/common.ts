/** Set-up shared by the loader and billing benchmarks: one config, one ClickHouse client, formatting. */
import { createClickHouse, createLogger } from '@ami/lib';
import { loadLoaderConfig } from '../src/config.js';

export const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
export const logger = createLogger('bench', process.env.LOG_LEVEL ?? 'warn');
export const suffix = `${Date.now().toString(36)}`;
export const cfg = loadLoaderConfig({
  ...process.env,
  AMI_TOPIC_PREFIX: `bench_${suffix}`,
  CLICKHOUSE_DB: `bench_loader_${suffix}`,
  LOADER_GROUP_ID: `bench_${suffix}`,
  LOADER_BILLING_REFRESH_S: '0',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
});
export const ch = createClickHouse(cfg);
const chHost = new URL(cfg.CLICKHOUSE_URL).hostname;
/** Arguments for clickhouse-client to reach the same server as `ch`. */
export const clientArgs = [
  '--host',
  chHost,
  '--port',
  process.env.CLICKHOUSE_TCP_PORT ?? '9000',
  '--user',
  cfg.CLICKHOUSE_USER,
  ...(cfg.CLICKHOUSE_PASSWORD ? ['--password', cfg.CLICKHOUSE_PASSWORD] : []),
];

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
export const secs = (ms: number) => (ms / 1000).toFixed(2);
