/**
 * The secured configuration of the service benchmarks, beside the plain one in
 * the same run: a SecureKafkaBroker (KRaft, SCRAM-SHA-512, SASL_SSL) started
 * next to the stack's plain broker, with the JVM's default JIT and GC
 * (`fullJit`, as a production broker runs: the test default of C1 only makes
 * the broker's TLS about 5x dearer). Node reads NODE_EXTRA_CA_CERTS only at
 * start, so the bench is run again as a child process that trusts the
 * broker's CA; services, kafkajs and the wire client then verify the broker's
 * certificate as in production. The admin user (a super user) stands for
 * every service: ACLs are not what is measured. A fresh JVM is cold while the
 * stack's broker has been running, so before the bench the secured broker is
 * warmed up: records of 130 bytes produced and fetched back over SASL_SSL
 * until its CPU per record stops falling (`warmUp`; 10-60 s, not measured).
 *
 * BENCH_SECURED=0: the plain configuration only.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createKafka,
  createLogger,
  indexRecords,
  loadCommonConfig,
  partitionForKey,
  READ_UNCOMMITTED,
  RecordBatchBuilder,
  WireFetcher,
  wireClientOptions,
  WireProducer,
} from '../src/index.js';
import {
  freePorts,
  generatePassword,
  KafkaComponent,
  loadStackSettings,
  SecureKafkaBroker,
  type ScramUser,
} from '@ami/stack';

export interface SecuredKafka {
  /** KAFKA_* of the broker's SASL_SSL listener, as a service is configured in production. */
  env: Record<string, string>;
  /** KAFKA_* of the same broker's SASL_PLAINTEXT listener: set-up (topics, backlogs), not measured. */
  setupEnv: Record<string, string>;
  /** The broker's JVM, for its CPU (/proc). */
  pid: number;
}

const CHILD_ENV = 'AMI_BENCH_SECURED_KAFKA';

/**
 * Runs `bench` with the secured broker (or without, BENCH_SECURED=0). In the
 * first process: starts the broker, re-runs this script with its CA trusted,
 * stops the broker when that child ends and exits with its code. Both
 * processes exit when done: a client's socket or a bench's timer left open
 * must not keep the broker running.
 */
export async function withSecuredKafka(
  bench: (secured: SecuredKafka | undefined) => Promise<void>,
): Promise<void> {
  if (process.env.BENCH_SECURED === '0') return bench(undefined);
  const handed = process.env[CHILD_ENV];
  if (handed) {
    const secured = JSON.parse(handed) as SecuredKafka;
    await warmUp(secured);
    await bench(secured);
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  }

  const settings = loadStackSettings();
  const home = mkdtempSync(join(tmpdir(), 'ami-bench-secured-'));
  const admin: ScramUser = { name: 'admin', password: generatePassword() };
  const [port, controllerPort, tlsPort] = (await freePorts(3)) as [number, number, number];
  const broker = new SecureKafkaBroker({
    home,
    libs: new KafkaComponent(settings).libs,
    port,
    controllerPort,
    tlsPort,
    admin,
    heap: '1g',
    fullJit: true,
  });
  const killOnExit = () => {
    try {
      process.kill(-Number(readFileSync(join(home, 'kafka.pid'), 'utf8')), 'SIGKILL');
    } catch {
      /* not started or gone */
    }
  };
  process.once('exit', killOnExit);
  try {
    await broker.start();
    await broker.waitHealthy(120_000);
    const secured: SecuredKafka = {
      env: broker.clientEnv(admin, { tls: true }),
      setupEnv: broker.clientEnv(admin, { tls: false }),
      pid: Number(readFileSync(join(home, 'kafka.pid'), 'utf8')),
    };
    console.log(`secured broker (SASL_SSL, SCRAM-SHA-512, default JIT) at ${secured.env.KAFKA_BROKERS}`);
    const code = await new Promise<number>((resolve) => {
      // Node's profiling flags go to the child, which runs the bench (`node --cpu-prof --import tsx <bench>`).
      const profiling = process.execArgv.filter((a) => a.startsWith('--cpu-prof'));
      const child = spawn(
        process.execPath,
        [...profiling, '--import', 'tsx', process.argv[1]!, ...process.argv.slice(2)],
        {
          env: { ...process.env, NODE_EXTRA_CA_CERTS: broker.caFile, [CHILD_ENV]: JSON.stringify(secured) },
          stdio: 'inherit',
        },
      );
      child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
    process.exitCode = code;
  } finally {
    await broker.stop(5_000);
    process.removeListener('exit', killOnExit);
    rmSync(home, { recursive: true, force: true });
  }
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
}

/** Records per warm-up round, the most rounds, and the batch size (small: many requests, as services send). */
const WARM_UP_ROUND = 500_000;
const WARM_UP_MAX_ROUNDS = 8;
const WARM_UP_BATCH = 32 * 1024;

/**
 * Records produced and fetched back over SASL_SSL in rounds, until the broker's
 * CPU per record stops falling (a round within 10 % of the one before, at
 * least 2 rounds, at most 8): its JIT has then compiled the per-record and the
 * per-request paths, as in a broker that has been running for a while (the
 * stack's has). 2026-12-07: with one round of 1,000,000 records, the secured
 * broker's CPU per record still fell by 2-3x over the bench's first rounds.
 */
async function warmUp(secured: SecuredKafka): Promise<void> {
  const t0 = Date.now();
  const cfg = loadCommonConfig({ ...process.env, ...secured.env, LOG_LEVEL: 'warn' });
  const topic = `bench-warm-up-${process.pid}`;
  const partitions = 6;
  const admin = createKafka(cfg, createLogger('bench-warm-up', 'warn')).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  const producer = new WireProducer(wireClientOptions(cfg, 'bench-warm-up'));
  const fetcher = new WireFetcher({
    ...wireClientOptions(cfg, 'bench-warm-up'),
    isolation: READ_UNCOMMITTED,
  });
  try {
    await producer.connect([topic]);
    const offsets = Array.from({ length: partitions }, () => 0);
    const cpuPerMillion: number[] = [];
    for (let round = 0; round < WARM_UP_MAX_ROUNDS; round++) {
      const cpu0 = cpuSecondsOf(secured.pid);
      await produceRound(producer, topic, partitions);
      await fetchRound(fetcher, topic, offsets);
      cpuPerMillion.push(((cpuSecondsOf(secured.pid) - cpu0) / WARM_UP_ROUND) * 1e6);
      const [before, last] = cpuPerMillion.slice(-2) as [number, number];
      if (cpuPerMillion.length >= 2 && last > 0.9 * before) break;
    }
    console.log(
      `secured broker warmed up: ${(cpuPerMillion.length * WARM_UP_ROUND).toLocaleString('en')} records produced and fetched in ${((Date.now() - t0) / 1000).toFixed(1)} s; its CPU-s per million records by round: ${cpuPerMillion.map((x) => x.toFixed(2)).join(', ')}`,
    );
  } finally {
    await producer.close();
    fetcher.close();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

/** WARM_UP_ROUND records of 130 bytes produced in small batches, 24 in flight. */
async function produceRound(producer: WireProducer, topic: string, partitions: number): Promise<void> {
  const open: Array<RecordBatchBuilder | undefined> = [];
  const sends: Array<Promise<void>> = [];
  const value = Buffer.alloc(130, 7);
  for (let i = 0; i < WARM_UP_ROUND; i++) {
    const key = Buffer.from(`G${i % 5000}`);
    const p = partitionForKey(key, partitions);
    const b = (open[p] ??= new RecordBatchBuilder(WARM_UP_BATCH + 4096));
    b.add(key, value, value.length);
    if (b.bytes >= WARM_UP_BATCH) {
      sends.push(producer.send(topic, p, b));
      open[p] = undefined;
      if (sends.length >= 24) await Promise.all(sends.splice(0));
    }
  }
  open.forEach((b, p) => b && sends.push(producer.send(topic, p, b)));
  await Promise.all(sends);
}

/** Fetches every partition from `offsets` to its end (advancing `offsets`). */
async function fetchRound(fetcher: WireFetcher, topic: string, offsets: number[]): Promise<void> {
  for (;;) {
    const answers = await fetcher.fetch(offsets.map((offset, partition) => ({ topic, partition, offset })));
    let fetched = 0;
    for (const a of answers)
      if (a.errorCode === 0 && a.records) {
        const ix = indexRecords(a.records, a.fetchOffset);
        offsets[a.partition] = ix.nextOffset;
        fetched += ix.count;
      }
    if (fetched === 0) return;
  }
}

/** CPU seconds process `pid` used so far (Linux /proc; NaN elsewhere). */
export function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return NaN;
  }
}

/** "secured / plain" as the benches print it. */
export function securedRatio(secured: number, plain: number): string {
  return plain > 0 ? (secured / plain).toFixed(2) : 'n/a';
}
