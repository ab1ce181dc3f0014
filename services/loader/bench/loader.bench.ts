/**
 * `npm run bench:loader`: sustained reads/s from Kafka into ClickHouse, beside clickhouse-client
 * inserting the same rows in Native format (the ceiling), then the billing benchmark
 * (`billing.bench.ts`, run after this one by the npm script).
 *
 * Then the loader in the production configuration, SASL_SSL (SCRAM-SHA-512) to a secured broker
 * started for the run (packages/lib/bench/securedKafka.ts), over the same reads, with its ratio to
 * the plain run (issue 18: >= 0.8) and to clickhouse-client Native.
 *
 * BENCH_READS (default 1,000,000), BENCH_METERS (10,000), BENCH_KEEP=1 keeps the databases,
 * BENCH_SECURED=0 skips the secured run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafka, ensureTopics, sqlIdent, topicNames, type MeterRead } from '@ami/lib';
import { migrate } from '../src/migrate.js';
import { startLoader } from '../src/loader.js';
import { loadLoaderConfig, type LoaderConfig } from '../src/config.js';
import { kafkaFixtures } from '../test/kafkaFixtures.js';
import { securedRatio, withSecuredKafka, type SecuredKafka } from '@ami/lib/bench/securedKafka';
import { ch, cfg, clientArgs, env, fmt, logger, secs, suffix } from './common.js';

const READS = env('BENCH_READS', 1_000_000);
const METERS = env('BENCH_METERS', 10_000);
const PARTITIONS = 6;
const nativeDb = `bench_native_${suffix}`;
/**
 * Other loader settings run first on the same topic, each into its own database and group, so
 * steps compare in one run: BENCH_VARIANTS="K=V,K=V;K=V" (default: the kafkajs-only fetch path,
 * LOADER_RAW_FETCH=false; empty: none).
 */
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'LOADER_RAW_FETCH=false')
  .split(';')
  .filter((v) => v.trim() !== '')
  .map((v) => Object.fromEntries(v.split(',').map((kv) => kv.trim().split('=') as [string, string])));
const variantDb = (i: number) => `${cfg.CLICKHOUSE_DB}_v${i}`;
const securedDb = `${cfg.CLICKHOUSE_DB}_sasl_ssl`;
/** The Kafka settings of a loader reaching `env`'s broker (KAFKA_BROKERS, KAFKA_SSL, KAFKA_SASL_*). */
function kafkaSettings(kafkaEnv: Record<string, string>): Partial<LoaderConfig> {
  const c = loadLoaderConfig({ ...process.env, ...kafkaEnv });
  return Object.fromEntries(
    Object.entries(c).filter(([k]) => k.startsWith('KAFKA_') && k !== 'KAFKA_CLIENT_ID'),
  );
}

function read(i: number): MeterRead {
  const meter = i % METERS;
  const step = Math.floor(i / METERS);
  return {
    meter_id: `BM${String(meter).padStart(8, '0')}`,
    gardu_id: `BG${String(Math.floor(meter / 100)).padStart(6, '0')}`,
    read_at: Date.UTC(2025, 2, 1) + step * 900_000,
    interval_s: 900,
    energy_import_wh: meter * 1000 + step * 37,
    demand_w: 150 + (i % 900),
    voltage_v: 229.5,
    relay: 'CLOSED',
    power_limit_va: 0,
    kind: 'INTERVAL',
  };
}

/** The topology and BENCH_READS reads on the broker of `on` (default: the plain one). */
async function produceReads(on: LoaderConfig = cfg): Promise<void> {
  const kafka = createKafka(on, logger);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, on.AMI_TOPIC_PREFIX, { partitions: PARTITIONS });
  await admin.disconnect();
  const k = await kafkaFixtures(on, kafka, PARTITIONS);
  const encode = await k.encoder('MeterRead', k.names.reads);
  // The topology first: the loader dead-letters reads of meters not in <prefix>.meters.
  const encodeMeter = await k.encoder('MeterProfile', k.names.meters);
  for (let m0 = 0; m0 < METERS; m0 += 5000) {
    const messages = [];
    for (let m = m0; m < Math.min(m0 + 5000, METERS); m++) {
      const r = read(m);
      messages.push({
        key: r.meter_id,
        value: encodeMeter({
          meter_id: r.meter_id,
          idpel: String(510000000000 + m),
          kdpm: 'L',
          phases: 1,
          tariff: 'R-1',
          daya_va: 2200,
          gardu_id: r.gardu_id,
          feeder_id: 'BF1',
          ulp: 'ULP-BENCH',
          region: 'BALI',
          timezone: 'Asia/Makassar',
          installed_at: Date.UTC(2024, 0, 1),
        }),
      });
    }
    await k.producer.send({ topic: k.names.meters, messages });
  }
  const t0 = Date.now();
  const chunk = 20_000;
  let inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < READS; i += chunk) {
    const messages = [];
    for (let j = i; j < Math.min(i + chunk, READS); j++) {
      const r = read(j);
      messages.push({ key: r.gardu_id, value: encode(r) });
    }
    inFlight.push(k.producer.send({ topic: k.names.reads, messages, acks: 1 }));
    if (inFlight.length >= 4) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
  await k.close();
  console.log(
    `produced ${fmt(READS)} reads to ${k.names.reads} in ${secs(Date.now() - t0)} s (not measured)`,
  );
}

interface LoaderRun {
  /** Reads/s between the insert that passed 10% of the rows and the last insert. */
  rate: number;
  /** Reads/s from the call to startLoader (meters table load and group join included). */
  wall: number;
}

/**
 * Runs the loader (into its own database and group) until every read is in
 * ClickHouse. Inserts land in steps of up to ~100k rows, so progress is
 * sampled at each change: sustained = rows after the sample that passed 10%
 * over the time to the last one. With fewer than 4 steps after it (small
 * BENCH_READS) it falls back to the rate since consumption started.
 */
async function benchLoader(label: string, overrides: Partial<LoaderConfig>): Promise<LoaderRun> {
  const runCfg: LoaderConfig = { ...cfg, ...overrides };
  await migrate(ch, runCfg.CLICKHOUSE_DB, logger);
  const t0 = Date.now();
  const loader = await startLoader(runCfg, logger);
  const tRun = Date.now();
  const total = READS + METERS;
  const samples: { t: number; rows: number }[] = [];
  for (let seen = -1; seen < total; await sleep(5)) {
    const rows = loader.sink.rowsInserted;
    if (rows !== seen) samples.push({ t: Date.now(), rows });
    seen = rows;
  }
  const end = samples.at(-1)!;
  const mark = samples.find((x) => x.rows >= METERS + READS * 0.1)!;
  const inserts = loader.sink.inserts;
  await loader.stop();
  // A few insert steps after the mark say little (the rows of the first were fetched before it landed).
  const steps = samples.filter((x) => x.t > mark.t).length;
  const stepped = steps >= 4;
  const rate = stepped ? (end.rows - mark.rows) / ((end.t - mark.t) / 1000) : READS / ((end.t - tRun) / 1000);
  console.log(
    `${label}: ${fmt(READS)} reads in ${secs(end.t - t0)} s wall (start-up ${secs(tRun - t0)} s), ${inserts} inserts, sustained ${fmt(rate)} reads/s${stepped ? '' : ' (too few insert steps: rate since consumption started)'}`,
  );
  return { rate, wall: READS / ((end.t - t0) / 1000) };
}

/** clickhouse-client inserting the same rows natively into an identical schema (reads + its materialized view). */
async function benchNative(): Promise<number> {
  await migrate(ch, nativeDb, logger);
  const dir = mkdtempSync(join(tmpdir(), 'ami-bench-'));
  const file = join(dir, 'reads.native');
  try {
    const out = openSync(file, 'w');
    execFileSync(
      'clickhouse-client',
      [...clientArgs, '--query', `SELECT * FROM ${sqlIdent(cfg.CLICKHOUSE_DB)}.reads FORMAT Native`],
      { stdio: ['ignore', out, 'inherit'] },
    );
    closeSync(out);
    const input = openSync(file, 'r');
    const t0 = Date.now();
    const res = spawnSync(
      'clickhouse-client',
      [...clientArgs, '--query', `INSERT INTO ${sqlIdent(nativeDb)}.reads FORMAT Native`],
      { stdio: [input, 'inherit', 'inherit'] },
    );
    const ms = Date.now() - t0;
    closeSync(input);
    if (res.status !== 0) throw new Error('clickhouse-client insert failed');
    const rate = READS / (ms / 1000);
    console.log(
      `clickhouse-client Native: ${fmt(READS)} reads (${(statSync(file).size / 1e6).toFixed(0)} MB) in ${secs(ms)} s, ${fmt(rate)} reads/s`,
    );
    return rate;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function cleanup(): Promise<void> {
  if (process.env.BENCH_KEEP === '1') return;
  for (const db of [cfg.CLICKHOUSE_DB, ...VARIANTS.map((_, i) => variantDb(i)), nativeDb, securedDb])
    await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(db)}` });
  const kafka = createKafka(cfg, logger);
  const admin = kafka.admin();
  await admin.connect();
  const names = topicNames(cfg.AMI_TOPIC_PREFIX);
  const existing = new Set(await admin.listTopics());
  await admin.deleteTopics({ topics: Object.values(names).filter((t) => existing.has(t)) });
  await admin.disconnect();
}

async function main(secured: SecuredKafka | undefined): Promise<void> {
  console.log(`loader bench: ${fmt(READS)} reads of ${fmt(METERS)} meters, ${PARTITIONS} partitions`);
  try {
    await migrate(ch, cfg.CLICKHOUSE_DB, logger);
    await produceReads();
    const variants: { label: string; run: LoaderRun }[] = [];
    for (const [i, v] of VARIANTS.entries()) {
      const label = Object.entries(v)
        .map(([k, x]) => `${k}=${x}`)
        .join(' ');
      const overrides = loadLoaderConfig({ ...process.env, ...v });
      const run = await benchLoader(`loader, ${label}`, {
        ...Object.fromEntries(Object.keys(v).map((k) => [k, overrides[k as keyof LoaderConfig]])),
        CLICKHOUSE_DB: variantDb(i),
        LOADER_GROUP_ID: `${cfg.LOADER_GROUP_ID}_v${i}`,
      });
      variants.push({ label, run });
    }
    const loader = await benchLoader('loader, configured settings', {});
    let securedRun: LoaderRun | undefined;
    if (secured) {
      await produceReads({ ...cfg, ...kafkaSettings(secured.setupEnv) });
      securedRun = await benchLoader('loader, SASL_SSL (secured broker)', {
        ...kafkaSettings(secured.env),
        CLICKHOUSE_DB: securedDb,
        LOADER_GROUP_ID: `${cfg.LOADER_GROUP_ID}_sasl_ssl`,
      });
    }
    const native = await benchNative();
    console.log('\nsummary');
    console.log(
      `  loader sustained        ${fmt(loader.rate)} reads/s   (goal >= 150,000: ${loader.rate >= 150_000 ? 'met' : 'NOT met'})`,
    );
    console.log(`  loader incl. start-up   ${fmt(loader.wall)} reads/s`);
    for (const v of variants)
      console.log(
        `  variant ${v.label}: ${fmt(v.run.rate)} reads/s sustained (${(v.run.rate / native).toFixed(2)} of native)`,
      );
    if (securedRun)
      console.log(
        `  loader SASL_SSL         ${fmt(securedRun.rate)} reads/s sustained: ${securedRatio(securedRun.rate, loader.rate)} of plain (goal >= 0.8), ${(securedRun.rate / native).toFixed(2)} of native (goal >= 0.5)`,
      );
    console.log(`  clickhouse-client Native ${fmt(native)} reads/s`);
    console.log(
      `  ratio loader / native   ${(loader.rate / native).toFixed(2)}   (goal >= 0.50: ${loader.rate / native >= 0.5 ? 'met' : 'NOT met'})`,
    );
  } finally {
    await cleanup();
    await ch.close();
  }
}

await withSecuredKafka(main);
