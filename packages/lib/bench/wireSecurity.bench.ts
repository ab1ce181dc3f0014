/**
 * npx tsx packages/lib/bench/wireSecurity.bench.ts
 *
 * Where the secured configuration's time goes on the wire producer: N
 * pre-encoded records (the size of an Avro read) produced through WireProducer
 * (acks=all, idempotent, 6 partitions, 256 KB batches) in one process, to
 *   - plain:           the local stack's broker (no SASL, no TLS);
 *   - PLAINTEXT:       a secured broker started here (SecureKafkaBroker), on a
 *                      bench-only listener without SASL (a super user): the other broker;
 *   - SASL_PLAINTEXT:  the same broker, SCRAM-SHA-512 as `admin` (a super user): + SASL;
 *   - SASL_SSL:        the same broker's TLS listener (certificate verified): + TLS;
 *   - SASL_SSL+ACLs:   TLS, as the simulator's user with its ACLs (kafkaAcls.ts): + the authorizer's matching;
 *   - SASL_SSL AES256: SASL_SSL offering only TLS_AES_256_GCM_SHA384 (the JVM's first choice)
 *                      instead of the broker's AES-128-GCM (TLS_CIPHER_SUITES): the cipher's share.
 * Then each reads back BENCH_RECORDS records (WireFetcher, from offset 0, after an
 * untimed read of the same: the page cache warm, so the broker's TLS and the
 * client's decryption are what differs). Each configuration runs BENCH_ROUNDS
 * times, interleaved; the median rate,
 * its spread (min-max) and CPU seconds per million records of this process
 * (the client) and of each broker's JVM (/proc) are printed, with the
 * ratios of neighbouring configurations, the negotiated TLS version and
 * cipher, and the Produce version each broker was sent. The secured broker
 * runs with the JVM's default JIT and GC (`fullJit`), as the stack's broker,
 * `ami stack up --brokers 3` and a production one do; BENCH_BROKER_JIT=c1
 * runs it as the tests do (C1 only, serial GC).
 *
 * Env: BENCH_RECORDS (1000000), BENCH_ROUNDS (3), BENCH_BATCH_KB (256),
 * BENCH_BROKER_JIT (full), KAFKA_BROKERS (the local stack).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  APIS,
  Connection,
  createKafka,
  createLogger,
  indexRecords,
  loadCommonConfig,
  openSession,
  partitionForKey,
  READ_UNCOMMITTED,
  RecordBatchBuilder,
  wireClientOptions,
  WireFetcher,
  WireProducer,
  type BrokerConnectionsOptions,
  type CommonConfig,
} from '@ami/lib';
import {
  clientEnv,
  freePorts,
  generatePassword,
  grantTopicName,
  KafkaComponent,
  loadStackSettings,
  pipelineAcls,
  SecureKafkaBroker,
  type ScramUser,
} from '@ami/stack';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PARTITIONS = 6;
const BATCH_BYTES = Number(process.env.BENCH_BATCH_KB ?? 256) * 1024;
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
): Promise<Measured> {
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

/** Fetches the first `count` records of every partition from offset 0 on (READ_UNCOMMITTED); how many came. */
async function fetchFromStart(fetcher: WireFetcher, topic: string, count: number): Promise<number> {
  const offsets = Array.from({ length: PARTITIONS }, () => 0);
  let fetched = 0;
  while (fetched < count) {
    const answers = await fetcher.fetch(offsets.map((offset, partition) => ({ topic, partition, offset })));
    let n = 0;
    for (const a of answers)
      if (a.errorCode === 0 && a.records) {
        const ix = indexRecords(a.records, a.fetchOffset);
        offsets[a.partition] = ix.nextOffset;
        n += ix.count;
      }
    if (n === 0) break;
    fetched += n;
  }
  return fetched;
}

/** One timed fetch of `count` records, after an untimed one of the same (connections open, page cache warm). */
async function fetchAll(
  opts: BrokerConnectionsOptions,
  topic: string,
  count: number,
  brokerPid: number,
): Promise<Measured> {
  const fetcher = new WireFetcher({ ...opts, isolation: READ_UNCOMMITTED });
  try {
    await fetchFromStart(fetcher, topic, count);
    const cpu0 = process.cpuUsage();
    const broker0 = cpuSecondsOf(brokerPid);
    const t0 = process.hrtime.bigint();
    const fetched = await fetchFromStart(fetcher, topic, count);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const perMillion = (cpuSeconds: number) => (cpuSeconds / fetched) * 1e6;
    return {
      rate: fetched / seconds,
      cpuPerMillion: perMillion((cpu.user + cpu.system) / 1e6),
      brokerCpuPerMillion: perMillion(cpuSecondsOf(brokerPid) - broker0),
    };
  } finally {
    fetcher.close();
  }
}

interface Measured {
  rate: number;
  cpuPerMillion: number;
  brokerCpuPerMillion: number;
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

interface Configuration {
  name: string;
  opts: BrokerConnectionsOptions;
  brokerPid: number;
}

/** What a connection of `opts` negotiates: the Produce version and, over TLS, the protocol and cipher. */
async function negotiated(opts: BrokerConnectionsOptions): Promise<string> {
  const [host, port] = opts.brokers[0]!.split(':') as [string, string];
  const conn = await Connection.open(host, Number(port), opts.ssl, opts.clientId);
  try {
    await openSession(conn, opts.sasl);
    const t = conn.tlsSession;
    return `Produce v${conn.version(APIS.produce)}${t ? `, ${t.protocol} ${t.cipher}` : ''}`;
  } finally {
    conn.close();
  }
}

async function main(): Promise<void> {
  const settings = loadStackSettings();
  const plainCfg = loadCommonConfig({ ...clientEnv(settings), ...process.env, LOG_LEVEL: 'warn' });
  const home = mkdtempSync(join(tmpdir(), 'ami-wire-bench-'));
  const admin: ScramUser = { name: 'admin', password: generatePassword() };
  const aclUser: ScramUser = { name: 'simulator', password: generatePassword() };
  const [port, controllerPort, tlsPort, benchPort] = (await freePorts(4)) as [number, number, number, number];
  const broker = new SecureKafkaBroker({
    home,
    libs: new KafkaComponent(settings).libs,
    port,
    controllerPort,
    tlsPort,
    unauthenticatedBenchPort: benchPort,
    admin,
    formatUsers: [aclUser],
    heap: '1g',
    fullJit: process.env.BENCH_BROKER_JIT !== 'c1',
  });
  const recs = records();
  const prefix = `bench-ws-${process.pid}`;
  const topic = grantTopicName(prefix, 'reads');
  try {
    await broker.start();
    await broker.waitHealthy(90_000);
    const secureCfg = (user: ScramUser, tls: boolean) =>
      loadCommonConfig({ ...broker.clientEnv(user, { tls }), LOG_LEVEL: 'warn' });
    const ca = readFileSync(broker.caFile);
    const stackPid = Number(readFileSync(join(settings.AMI_HOME, 'run', 'kafka.pid'), 'utf8'));
    const securePid = Number(readFileSync(join(home, 'kafka.pid'), 'utf8'));
    const overTls = (user: ScramUser, id: string) => ({
      ...wireClientOptions(secureCfg(user, true), id),
      ssl: { ca },
    });
    const configs: Configuration[] = [
      { name: 'plain', opts: wireClientOptions(plainCfg, 'bench-plain'), brokerPid: stackPid },
      {
        name: 'PLAINTEXT',
        opts: { brokers: [`127.0.0.1:${benchPort}`], ssl: false, clientId: 'bench-plaintext' },
        brokerPid: securePid,
      },
      {
        name: 'SASL_PLAINTEXT',
        opts: wireClientOptions(secureCfg(admin, false), 'bench-sasl'),
        brokerPid: securePid,
      },
      { name: 'SASL_SSL', opts: overTls(admin, 'bench-sasl-ssl'), brokerPid: securePid },
      { name: 'SASL_SSL+ACLs', opts: overTls(aclUser, 'bench-sasl-ssl-acl'), brokerPid: securePid },
      {
        name: 'SASL_SSL AES256',
        opts: { ...overTls(admin, 'bench-sasl-ssl-aes256'), ssl: { ca, ciphers: 'TLS_AES_256_GCM_SHA384' } },
        brokerPid: securePid,
      },
    ];
    const results = new Map<string, Measured[]>();
    const fetches = new Map<string, Measured[]>();
    await withTopic(plainCfg, topic, () =>
      withTopic(secureCfg(admin, false), topic, async () => {
        const operator = createKafka(secureCfg(admin, false), logger).admin();
        await operator.connect();
        await operator.createAcls({ acl: pipelineAcls(prefix, 'simulator') });
        await operator.disconnect();
        for (const c of configs) console.log(`${c.name.padEnd(15)} ${await negotiated(c.opts)}`);
        // A warm-up round of each (JIT, connections, the brokers' first segments), not counted.
        for (const c of configs) await produceAll(c.opts, topic, recs.slice(0, 200_000), c.brokerPid);
        for (let round = 0; round < ROUNDS; round++)
          for (const c of configs) {
            const r = await produceAll(c.opts, topic, recs, c.brokerPid);
            results.set(c.name, [...(results.get(c.name) ?? []), r]);
            console.log(
              `round ${round + 1} ${c.name}: ${Math.round(r.rate)} records/s, broker ${r.brokerCpuPerMillion.toFixed(2)} CPU-s/M`,
            );
          }
        // Fetched back: each broker holds ROUNDS x RECORDS records or more by now.
        // (The `simulator` user may only write: its configuration is not read back.)
        const readers = configs.filter((c) => c.name !== 'SASL_SSL+ACLs');
        for (let round = 0; round < ROUNDS; round++)
          for (const c of readers) {
            const r = await fetchAll(c.opts, topic, RECORDS, c.brokerPid);
            fetches.set(c.name, [...(fetches.get(c.name) ?? []), r]);
          }
      }),
    );
    console.log(
      `\n${RECORDS} records x ${ROUNDS} rounds (median, min-max), batches of ${BATCH_BYTES / 1024} KB, ${new Date().toISOString().slice(0, 10)}, secured broker JIT: ${process.env.BENCH_BROKER_JIT === 'c1' ? 'C1 only, serial GC' : 'JVM default'}`,
    );
    const rates = new Map<string, number>();
    console.log('produce');
    for (const [name, rs] of results) {
      const r = rs.map((x) => x.rate);
      rates.set(name, median(r));
      const k = (n: number) => `${Math.round(n / 1000)}k`;
      console.log(
        `${name.padEnd(15)} ${Math.round(median(r)).toLocaleString('en').padStart(10)} records/s (${k(Math.min(...r))}-${k(Math.max(...r))})  CPU-s per million: client ${median(rs.map((x) => x.cpuPerMillion)).toFixed(2)}, broker ${median(rs.map((x) => x.brokerCpuPerMillion)).toFixed(2)}`,
      );
    }
    console.log('fetch (the same records read back, READ_UNCOMMITTED, 4 MB per partition)');
    const fetchRates = new Map<string, number>();
    for (const [name, rs] of fetches) {
      fetchRates.set(name, median(rs.map((x) => x.rate)));
      console.log(
        `${name.padEnd(15)} ${Math.round(median(rs.map((x) => x.rate)))
          .toLocaleString('en')
          .padStart(
            10,
          )} records/s  CPU-s per million: client ${median(rs.map((x) => x.cpuPerMillion)).toFixed(2)}, broker ${median(rs.map((x) => x.brokerCpuPerMillion)).toFixed(2)}`,
      );
    }
    console.log(
      `fetch SASL_SSL / plain: ${(fetchRates.get('SASL_SSL')! / fetchRates.get('plain')!).toFixed(2)}, SASL_SSL / SASL_PLAINTEXT: ${(fetchRates.get('SASL_SSL')! / fetchRates.get('SASL_PLAINTEXT')!).toFixed(2)} (TLS)`,
    );
    const ratio = (a: string, b: string, what: string) =>
      console.log(`${`${a} / ${b}:`.padEnd(33)} ${(rates.get(a)! / rates.get(b)!).toFixed(2)} (${what})`);
    ratio('SASL_SSL', 'plain', 'all of it');
    ratio('PLAINTEXT', 'plain', 'the other broker');
    ratio('SASL_PLAINTEXT', 'PLAINTEXT', 'SASL');
    ratio('SASL_SSL', 'SASL_PLAINTEXT', 'TLS');
    ratio('SASL_SSL+ACLs', 'SASL_SSL', 'ACLs');
    ratio('SASL_SSL', 'SASL_SSL AES256', 'AES-128-GCM, the broker’s choice, against AES-256-GCM');
  } finally {
    await broker.stop(5_000);
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
