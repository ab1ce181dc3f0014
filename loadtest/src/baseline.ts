import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import {
  DeadlineError,
  ident,
  sql,
  startChild,
  type CommonConfig,
  type Logger,
  type MeterRead,
} from '@ami/lib';
import { KafkaComponent, loadStackSettings } from '@ami/stack';
import { encodeNative, encodeTsv, type Column } from './native.js';

/**
 * What this machine can do, measured in the same run as the pipeline, so every
 * pipeline figure is also a ratio:
 * - Kafka's own ProducerPerformance and ConsumerPerformance (kafka-tools, from
 *   the same jars as the broker), records as large as our mean encoded read;
 * - `clickhouse-client` inserts of the same reads, Native and TSV, plus an
 *   HTTP POST of the same Native block, into a bare copy of `reads`.
 */

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/** Runs a command to its end with a deadline (then stops its process group); its output and wall time. */
export async function runCommand(
  cmd: string,
  args: string[],
  opts: { stdinFile?: string; timeoutMs: number; env?: NodeJS.ProcessEnv },
): Promise<CommandResult> {
  const t0 = Date.now();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const child = startChild({
    name: cmd,
    command: cmd,
    args,
    env: opts.env,
    stdin: opts.stdinFile ? 'pipe' : 'ignore',
    onLine: (line, stream) => {
      if (stream === 'stdout') stdout.push(line);
      // Its end says why it failed.
      else if (stderr.push(line) > 200) stderr.shift();
    },
    stopGraceMs: 5000,
  });
  if (opts.stdinFile && child.process.stdin) {
    const stdin = child.process.stdin;
    stdin.on('error', () => undefined);
    createReadStream(opts.stdinFile, { highWaterMark: 1 << 20 }).pipe(stdin);
  }
  let timedOut = false;
  const code = await child.waitForExit(opts.timeoutMs).catch(async (err: unknown) => {
    if (!(err instanceof DeadlineError)) throw err;
    timedOut = true;
    return child.exited;
  });
  return {
    code,
    stdout: stdout.join('\n'),
    stderr: stderr.join('\n').slice(-20_000),
    ms: Date.now() - t0,
    timedOut,
  };
}

export interface KafkaPerf {
  tool: 'ProducerPerformance' | 'ConsumerPerformance';
  records: number;
  recordSize: number;
  recordsPerSec: number;
  mbPerSec: number;
  avgLatencyMs?: number;
  p99LatencyMs?: number;
  wallMs: number;
  command: string;
  error?: string;
}

/** Parses ProducerPerformance's summary line (the last one with "records sent"). */
export function parseProducerPerf(
  out: string,
): Pick<KafkaPerf, 'records' | 'recordsPerSec' | 'mbPerSec' | 'avgLatencyMs' | 'p99LatencyMs'> | undefined {
  const lines = out.split('\n').filter((l) => l.includes('records sent'));
  const last = lines[lines.length - 1];
  if (!last) return undefined;
  const m =
    /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency(?:, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th)?/.exec(
      last,
    );
  if (!m) return undefined;
  return {
    records: Number(m[1]),
    recordsPerSec: Number(m[2]),
    mbPerSec: Number(m[3]),
    avgLatencyMs: Number(m[4]),
    p99LatencyMs: m[8] !== undefined ? Number(m[8]) : undefined,
  };
}

/** Parses ConsumerPerformance's CSV (header line then one data line); fetch.* excludes the group join. */
export function parseConsumerPerf(
  out: string,
): Pick<KafkaPerf, 'records' | 'recordsPerSec' | 'mbPerSec'> | undefined {
  const lines = out.split('\n').map((l) => l.trim());
  const h = lines.findIndex((l) => l.startsWith('start.time'));
  if (h < 0 || !lines[h + 1]) return undefined;
  const names = lines[h]!.split(',').map((s) => s.trim());
  const values = lines[h + 1]!.split(',').map((s) => s.trim());
  const get = (n: string) => Number(values[names.indexOf(n)]);
  const fetchRate = get('fetch.nMsg.sec');
  return {
    records: get('data.consumed.in.nMsg'),
    recordsPerSec: Number.isFinite(fetchRate) && fetchRate > 0 ? fetchRate : get('nMsg.sec'),
    mbPerSec:
      Number.isFinite(get('fetch.MB.sec')) && get('fetch.MB.sec') > 0 ? get('fetch.MB.sec') : get('MB.sec'),
  };
}

export interface KafkaBaselineOptions {
  brokers: string;
  topic: string;
  records: number;
  recordSize: number;
  timeoutMs: number;
  logger?: Logger;
}

function kafkaTool(): KafkaComponent {
  return new KafkaComponent(loadStackSettings());
}

export async function producerPerformance(o: KafkaBaselineOptions): Promise<KafkaPerf> {
  const args = kafkaTool().javaArgs('org.apache.kafka.tools.ProducerPerformance', [
    '--topic',
    o.topic,
    '--num-records',
    String(o.records),
    '--record-size',
    String(o.recordSize),
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${o.brokers}`,
    'acks=all',
    'enable.idempotence=true',
    'batch.size=262144',
    'linger.ms=10',
    'compression.type=none',
  ]);
  return runKafkaTool('ProducerPerformance', args, o, parseProducerPerf);
}

export async function consumerPerformance(o: KafkaBaselineOptions): Promise<KafkaPerf> {
  const args = kafkaTool().javaArgs('org.apache.kafka.tools.ConsumerPerformance', [
    '--bootstrap-server',
    o.brokers,
    '--topic',
    o.topic,
    '--messages',
    String(o.records),
    '--group',
    `${o.topic}-perf`,
    '--timeout',
    String(Math.min(o.timeoutMs, 60_000)),
  ]);
  return runKafkaTool('ConsumerPerformance', args, o, parseConsumerPerf);
}

/** Runs one of Kafka's perf tools; a run whose output does not parse is reported with its error. */
async function runKafkaTool(
  tool: KafkaPerf['tool'],
  args: string[],
  o: KafkaBaselineOptions,
  parse: (stdout: string) => Pick<KafkaPerf, 'records' | 'recordsPerSec' | 'mbPerSec'> | undefined,
): Promise<KafkaPerf> {
  const r = await runCommand('java', args, { timeoutMs: o.timeoutMs });
  const parsed = parse(r.stdout);
  const base = { tool, recordSize: o.recordSize, wallMs: r.ms, command: toolCommand(args) };
  if (!parsed) return { ...base, records: 0, recordsPerSec: 0, mbPerSec: 0, error: errorOf(r) };
  return { ...base, ...parsed };
}

/** The tool invocation without the JVM and class path noise. */
function toolCommand(args: string[]): string {
  const i = args.findIndex((a) => a.startsWith('org.apache.kafka.tools.'));
  return args.slice(i).join(' ').replace('org.apache.kafka.tools.', '');
}

function errorOf(r: CommandResult): string {
  if (r.timedOut) return `timed out after ${r.ms} ms`;
  return `exit ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ').slice(0, 500)}`;
}

export interface InsertPerf {
  path: 'clickhouse-client Native' | 'clickhouse-client TSV' | 'HTTP POST Native';
  rows: number;
  bytes: number;
  ms: number;
  rowsPerSec: number;
  error?: string;
}

export interface ClickHouseBaselineOptions {
  ch: ClickHouseClient;
  cfg: Pick<CommonConfig, 'CLICKHOUSE_URL' | 'CLICKHOUSE_USER' | 'CLICKHOUSE_PASSWORD'>;
  db: string;
  /** Native TCP port for clickhouse-client (the stack's 9000). */
  tcpPort: number;
  reads: readonly MeterRead[];
  timeoutMs: number;
}

/** Inserts the same reads three ways into a bare copy of `<db>.reads` (no materialized views). */
export async function clickhouseInserts(o: ClickHouseBaselineOptions): Promise<InsertPerf[]> {
  const table = 'loadtest_baseline_reads';
  const host = new URL(o.cfg.CLICKHOUSE_URL).hostname;
  const recreate = async () => {
    await o.ch.command({ query: sql`DROP TABLE IF EXISTS ${ident(o.db)}.${ident(table)}` });
    await o.ch.command({
      query: sql`CREATE TABLE ${ident(o.db)}.${ident(table)} AS ${ident(o.db)}.${ident('reads')}`,
    });
  };
  await recreate();
  // DESCRIBE keeps the column order (18.16's system.columns has no `position`).
  const described = (await (
    await o.ch.query({ query: sql`DESCRIBE TABLE ${ident(o.db)}.${ident(table)}`, format: 'JSONEachRow' })
  ).json()) as (Column & { default_type?: string })[];
  const cols = described
    .filter((c) => c.default_type !== 'MATERIALIZED' && c.default_type !== 'ALIAS')
    .map(({ name, type }) => ({ name, type }));
  const dir = mkdtempSync(join(tmpdir(), 'ami-loadtest-'));
  const rows = o.reads as unknown as Record<string, unknown>[];
  const out: InsertPerf[] = [];
  try {
    const nativeFile = join(dir, 'reads.native');
    const blocks: Buffer[] = [];
    for (let i = 0; i < rows.length; i += 65_536) blocks.push(encodeNative(cols, rows.slice(i, i + 65_536)));
    writeFileSync(nativeFile, Buffer.concat(blocks));
    const tsvFile = join(dir, 'reads.tsv');
    writeFileSync(tsvFile, encodeTsv(cols, rows));
    const client = (format: string, file: string) => {
      const args = [
        '--host',
        host,
        '--port',
        String(o.tcpPort),
        '--user',
        o.cfg.CLICKHOUSE_USER,
        '--database',
        o.db,
      ];
      if (o.cfg.CLICKHOUSE_PASSWORD) args.push('--password', o.cfg.CLICKHOUSE_PASSWORD);
      args.push('--query', `INSERT INTO ${table} FORMAT ${format}`);
      return runCommand('clickhouse-client', args, { stdinFile: file, timeoutMs: o.timeoutMs });
    };
    for (const [path, format, file] of [
      ['clickhouse-client Native', 'Native', nativeFile],
      ['clickhouse-client TSV', 'TabSeparated', tsvFile],
    ] as const) {
      const r = await client(format, file);
      out.push(await measured(o, table, path, file, r.ms, r.code === 0 ? undefined : errorOf(r)));
      await recreate();
    }
    // HTTP: the path the loader uses (it streams RowBinary; Native is the cheapest binary input).
    const t0 = Date.now();
    let error: string | undefined;
    try {
      const url = new URL(o.cfg.CLICKHOUSE_URL);
      url.searchParams.set('query', `INSERT INTO ${o.db}.${table} FORMAT Native`);
      const body = Buffer.concat(blocks);
      const res = await fetch(url, {
        method: 'POST',
        body,
        headers: {
          'X-ClickHouse-User': o.cfg.CLICKHOUSE_USER,
          'X-ClickHouse-Key': o.cfg.CLICKHOUSE_PASSWORD,
        },
        signal: AbortSignal.timeout(o.timeoutMs),
      });
      if (!res.ok) error = `HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`;
    } catch (err) {
      error = (err as Error).message;
    }
    out.push(await measured(o, table, 'HTTP POST Native', nativeFile, Date.now() - t0, error));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await o.ch
      .command({ query: sql`DROP TABLE IF EXISTS ${ident(o.db)}.${ident(table)}` })
      .catch(() => undefined);
  }
  return out;
}

async function measured(
  o: ClickHouseBaselineOptions,
  table: string,
  path: InsertPerf['path'],
  file: string,
  ms: number,
  error: string | undefined,
): Promise<InsertPerf> {
  const res = await o.ch.query({
    query: sql`SELECT count() AS n FROM ${ident(o.db)}.${ident(table)}`,
    format: 'JSONEachRow',
  });
  const n = Number(((await res.json()) as { n: number }[])[0]?.n ?? 0);
  if (!error && n !== o.reads.length) error = `inserted ${n} of ${o.reads.length} rows`;
  return {
    path,
    rows: n,
    bytes: statSync(file).size,
    ms,
    rowsPerSec: ms > 0 ? Math.round((n / ms) * 1000) : 0,
    error,
  };
}

export interface Baseline {
  producer?: KafkaPerf;
  consumer?: KafkaPerf;
  inserts: InsertPerf[];
}

export async function kafkaBaseline(
  o: KafkaBaselineOptions,
): Promise<Pick<Baseline, 'producer' | 'consumer'>> {
  const producer = await producerPerformance(o);
  const consumer = producer.error
    ? undefined
    : await consumerPerformance({ ...o, records: producer.records });
  return { producer, consumer };
}
