/**
 * npx tsx packages/lib/bench/wireSecurity.bench.ts
 *
 * What SASL and TLS cost the wire producer: N pre-encoded records (the size
 * of an Avro read) produced through WireProducer (acks=all, idempotent,
 * 6 partitions, 256 KB batches) in one process, to
 *   - plain:          the local stack's broker (no SASL, no TLS);
 *   - SASL_PLAINTEXT: a secured broker started here (SecureKafkaBroker, SCRAM-SHA-512);
 *   - SASL_SSL:       the same broker's TLS listener (certificate checked against its CA).
 * Each configuration runs BENCH_ROUNDS times, interleaved; the median rate
 * and CPU seconds per million records of this process (the client) and of
 * the broker's JVM (/proc) are printed, with the ratios. SASL_SSL / SASL_PLAINTEXT isolates TLS (same broker); plain is
 * another broker (the stack's, tuned differently), so SASL_SSL / plain also
 * carries the broker difference. The secured broker runs with the JVM's
 * default JIT and GC (`fullJit`), as the stack's broker and a production one
 * do; BENCH_BROKER_JIT=c1 runs it as the tests do (C1 only, serial GC).
 *
 * Env: BENCH_RECORDS (300000), BENCH_ROUNDS (3), BENCH_BROKER_JIT (full),
 * KAFKA_BROKERS (the local stack).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createKafka,
  createLogger,
  loadCommonConfig,
  partitionForKey,
  RecordBatchBuilder,
  wireClientOptions,
  WireProducer,
  type BrokerConnectionsOptions,
  type CommonConfig,
} from '@ami/lib';
import {
  clientEnv,
  freePorts,
  generatePassword,
  KafkaComponent,
  loadStackSettings,
  SecureKafkaBroker,
  type ScramUser,
} from '@ami/stack';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 300_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PARTITIONS = 6;
const BATCH_BYTES = 256 * 1024;
const logger = createLogger('wire-security-bench', 'warn');

/** Keys (gardu ids) and values (~130 bytes, as an encoded MeterRead), built once. */
function records(): Array<{ key: Buffer; value: Buffer; partition: number }> {
  const out = [];
  for (let i = 0; i < RECORDS; i++) {
    const key = Buffer.from(`JATIM-SIDOAR-G${i % 5000}`);
    const value = Buffer.alloc(130, i & 0xff);
    out.push({ key, value, partition: partitionForKey(key, PARTITIONS) });
  }
  return out;
}

async function withTopic(cfg: CommonConfig, topic: string, run: () => Promise<void>): Promise<void> {
  const admin = createKafka(cfg, logger).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
    await run();
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

/** One timed run: every record produced and acknowledged. */
async function produceAll(
  opts: BrokerConnectionsOptions,
  topic: string,
  recs: ReturnType<typeof records>,
  brokerPid: number,
): Promise<{ rate: number; cpuPerMillion: number; brokerCpuPerMillion: number }> {
  const producer = new WireProducer(opts);
  await producer.connect([topic]);
  try {
    const cpu0 = process.cpuUsage();
    const broker0 = cpuSecondsOf(brokerPid);
    const t0 = process.hrtime.bigint();
    const open: Array<RecordBatchBuilder | undefined> = new Array(PARTITIONS);
    const sends: Array<Promise<void>> = [];
    for (const r of recs) {
      const b = (open[r.partition] ??= new RecordBatchBuilder(BATCH_BYTES + 4096));
      b.add(r.key, r.value, r.value.length);
      if (b.bytes >= BATCH_BYTES) {
        sends.push(producer.send(topic, r.partition, b));
        open[r.partition] = undefined;
      }
    }
    open.forEach((b, p) => b && sends.push(producer.send(topic, p, b)));
    await Promise.all(sends);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const perMillion = (cpuSeconds: number) => (cpuSeconds / recs.length) * 1e6;
    return {
      rate: recs.length / seconds,
      cpuPerMillion: perMillion((cpu.user + cpu.system) / 1e6),
      brokerCpuPerMillion: perMillion(cpuSecondsOf(brokerPid) - broker0),
    };
  } finally {
    await producer.close();
  }
}

/** CPU seconds the process `pid` used so far (Linux /proc; NaN elsewhere). */
function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return NaN;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const settings = loadStackSettings();
  const plainCfg = loadCommonConfig({ ...clientEnv(settings), ...process.env, LOG_LEVEL: 'warn' });
  const home = mkdtempSync(join(tmpdir(), 'ami-wire-bench-'));
  const admin: ScramUser = { name: 'admin', password: generatePassword() };
  const [port, controllerPort, tlsPort] = (await freePorts(3)) as [number, number, number];
  const broker = new SecureKafkaBroker({
    home,
    libs: new KafkaComponent(settings).libs,
    port,
    controllerPort,
    tlsPort,
    admin,
    heap: '512m',
    fullJit: process.env.BENCH_BROKER_JIT !== 'c1',
  });
  const recs = records();
  const topic = `bench-wire-security-${process.pid}`;
  try {
    await broker.start();
    await broker.waitHealthy(90_000);
    const secureCfg = (tls: boolean) =>
      loadCommonConfig({ ...broker.clientEnv(admin, { tls }), LOG_LEVEL: 'warn' });
    const ca = readFileSync(broker.caFile);
    const stackPid = Number(readFileSync(join(settings.AMI_HOME, 'run', 'kafka.pid'), 'utf8'));
    const securePid = Number(readFileSync(join(home, 'kafka.pid'), 'utf8'));
    const configs: Array<[string, BrokerConnectionsOptions, number]> = [
      ['plain', wireClientOptions(plainCfg, 'bench-plain'), stackPid],
      ['SASL_PLAINTEXT', wireClientOptions(secureCfg(false), 'bench-sasl'), securePid],
      ['SASL_SSL', { ...wireClientOptions(secureCfg(true), 'bench-sasl-ssl'), ssl: { ca } }, securePid],
    ];
    const results = new Map<string, Array<Awaited<ReturnType<typeof produceAll>>>>();
    await withTopic(plainCfg, topic, () =>
      withTopic(secureCfg(false), topic, async () => {
        // A warm-up round of each (JIT, connections, the brokers' first segments), not counted.
        for (const [, opts, pid] of configs) await produceAll(opts, topic, recs.slice(0, 50_000), pid);
        for (let round = 0; round < ROUNDS; round++)
          for (const [name, opts, pid] of configs) {
            const r = await produceAll(opts, topic, recs, pid);
            results.set(name, [...(results.get(name) ?? []), r]);
            console.log(`round ${round + 1} ${name}: ${Math.round(r.rate)} records/s`);
          }
      }),
    );
    const summary = new Map(
      [...results].map(([name, rs]) => [
        name,
        {
          rate: median(rs.map((r) => r.rate)),
          cpu: median(rs.map((r) => r.cpuPerMillion)),
          brokerCpu: median(rs.map((r) => r.brokerCpuPerMillion)),
        },
      ]),
    );
    console.log(
      `\n${RECORDS} records x ${ROUNDS} rounds (median), ${new Date().toISOString().slice(0, 10)}, secured broker JIT: ${process.env.BENCH_BROKER_JIT === 'c1' ? 'C1 only, serial GC' : 'JVM default'}`,
    );
    for (const [name, s] of summary)
      console.log(
        `${name.padEnd(15)} ${Math.round(s.rate).toLocaleString('en').padStart(10)} records/s  CPU-s per million: client ${s.cpu.toFixed(2)}, broker ${s.brokerCpu.toFixed(2)}`,
      );
    const rate = (n: string) => summary.get(n)!.rate;
    console.log(`SASL_SSL / plain:          ${(rate('SASL_SSL') / rate('plain')).toFixed(2)}`);
    console.log(
      `SASL_SSL / SASL_PLAINTEXT: ${(rate('SASL_SSL') / rate('SASL_PLAINTEXT')).toFixed(2)} (TLS alone)`,
    );
  } finally {
    await broker.stop(5_000);
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
