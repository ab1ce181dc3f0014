/**
 * `npm run bench:detector`: the detector beside a pass-through consumer, on the
 * local stack, in one run.
 *
 * 1. Topology of BENCH_METERS meters (default 200,000, the storm's 1,500 gardu:
 *    the whole run takes 2-5 min on the shared 2-core build machine;
 *    BENCH_METERS=1200000 is the programme's fleet and takes several times
 *    longer), ~133 per gardu, on `meters`.
 * 2. Steady state: one interval read per meter on `reads`, the fleet in
 *    BENCH_WAVES (8) waves at successive read boundaries, then one read per
 *    gardu at the next boundary (it moves event time past the last wave, as the
 *    next interval does in a live fleet), and on `events` one event per
 *    partition at every boundary (events flow beside reads in a fleet; until
 *    2026-11-29 there were none, and the figure included ~3 s of confirming the
 *    empty events partitions idle, a start-up cost). Rate and CPU per message of
 *    the pass-through consumer (decode only) over that backlog, and of the
 *    detector until every interval read went through the rules and was committed
 *    (its ingest rate too: until every message was consumed, decoded, validated
 *    and buffered). Both spans start at the first message consumed.
 * 3. Storm: 200 k last gasps over 1,500 gardu (150 feeders) within 10 s of event
 *    time, then a clock event past the confirmation delay: time from that last
 *    message to the last OPEN record. Then every meter's power restore: time
 *    from the last message to the last RESTORED record.
 * 4. Peak memory (VmHWM) of the detector process with the topology loaded.
 *
 * BENCH_CPU_PROF=<dir>: the detector runs with `--cpu-prof` into <dir>.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import type { Producer } from 'kafkajs';
import {
  AvroCodec,
  createKafka,
  createLogger,
  createRegistry,
  ensureTopics,
  loadCommonConfig,
  partitionForKey,
  topicNames,
  valueSubject,
  type MeterEvent,
  type MeterProfile,
  type MeterRead,
  type Outage,
} from '@ami/lib';
import { clientEnv, loadStackSettings } from '@ami/stack';
import { defaultDetectorConfig } from '../src/config.js';
import { encodeSnapshot } from '../src/changelog.js';
import { advance, applyInput, newDetectorState, snapshotGardu, type Emission } from '../src/rules.js';
import { Topology } from '../src/topology.js';

// The local stack unless the environment points elsewhere (children inherit it).
Object.assign(process.env, { ...clientEnv(loadStackSettings()), ...process.env });

const PER_GARDU = 133;
const STORM_GARDU = 1_500;
const METERS = Math.max(STORM_GARDU * PER_GARDU, Number(process.env.BENCH_METERS ?? 200_000));
const WAVES = Math.max(1, Number(process.env.BENCH_WAVES ?? 8));
const GARDUS = Math.ceil(METERS / PER_GARDU);
const GARDU_PER_FEEDER = 10;
const STORM_GASPS = 200_000;
const PARTITIONS = 6;

const prefix = `bench_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
const common = loadCommonConfig({ ...process.env, AMI_TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' });
const logger = createLogger('bench', 'warn');
const topics = topicNames(prefix);
const kafka = createKafka(common, logger);
const codec = new AvroCodec(createRegistry(common));
const B0 = Date.UTC(2026, 10, 28, 2, 0, 0); // a read boundary
const READ_EVERY = defaultDetectorConfig.READ_INTERVAL_MS;
/** The boundary after the last wave: one read per gardu there releases the waves. */
const CLOCK_READ_AT = B0 + WAVES * READ_EVERY;
/** 60 s past the boundary after that: the watermark, following the wall clock once the reads are idle, stays 15 min behind. */
const STORM_AT = CLOCK_READ_AT + READ_EVERY + 60_000;
const DELAY = defaultDetectorConfig.CONFIRM_DELAY_MS;
const LATENESS = defaultDetectorConfig.ALLOWED_LATENESS_MS;

const garduOf = (i: number) => `GD${String(Math.floor(i / PER_GARDU)).padStart(5, '0')}`;
const meterOf = (i: number) => `MTR${String(i).padStart(8, '0')}`;

function profile(i: number): MeterProfile {
  const g = Math.floor(i / PER_GARDU);
  return {
    meter_id: meterOf(i),
    idpel: String(510000000000 + i),
    kdpm: i % 20 === 0 ? 'A' : 'L',
    phases: 1,
    tariff: 'R-1',
    daya_va: 1300,
    gardu_id: garduOf(i),
    feeder_id: `PY${String(Math.floor(g / GARDU_PER_FEEDER)).padStart(4, '0')}`,
    ulp: `ULP${Math.floor(g / 200)}`,
    region: 'JATIM',
    timezone: 'Asia/Jakarta',
    installed_at: 0,
  };
}

/** Reads 0..METERS-1: meter i in its wave; then METERS + g: the first meter of gardu g at CLOCK_READ_AT. */
function read(k: number): MeterRead {
  const i = k < METERS ? k : (k - METERS) * PER_GARDU;
  return {
    meter_id: meterOf(i),
    gardu_id: garduOf(i),
    read_at: k < METERS ? B0 + Math.floor((k * WAVES) / METERS) * READ_EVERY : CLOCK_READ_AT,
    interval_s: 900,
    energy_import_wh: 1_000_000 + i,
    demand_w: 300,
    voltage_v: 221.5,
    relay: 'CLOSED',
    power_limit_va: 1300,
    kind: 'INTERVAL',
  };
}

/**
 * One meter per events partition (the last gardu keyed there): the "clock" events past the
 * confirmation delay and past the restores go to every partition, as a live fleet's traffic does.
 * With one partition only, the others would first have to be confirmed idle (IDLE_ADVANCE_MS, 2 s,
 * and an end-offset poll) before the watermark could pass the storm.
 */
const CLOCK_METERS = Array.from({ length: PARTITIONS }, (_, p) => {
  for (let g = GARDUS - 1; g >= 0; g--)
    if (partitionForKey(Buffer.from(garduOf(g * PER_GARDU)), PARTITIONS) === p)
      return Math.min(METERS - 1, g * PER_GARDU + PER_GARDU - 1);
  throw new Error(`no gardu on partition ${p}`);
});

function event(i: number, type: MeterEvent['type'], at: number): MeterEvent {
  return {
    event_id: `${type}-${i}-${at}`,
    meter_id: meterOf(i),
    gardu_id: garduOf(i),
    occurred_at: at,
    type,
    relay: 'CLOSED',
    cause: 'NONE',
    power_limit_va: null,
  };
}

/**
 * Encodes and sends `count` records in batches of 5,000, one after another: with several sends in
 * flight, a retried one (a connection timeout on the busy machine) lands after later ones, and a
 * partition's records come out of order; the detector then rightly dead-letters the older ones as
 * late (one run on 2026-11-29 lost 1,441 reads so, and its steady-state figure waited a minute).
 */
async function produce<T>(
  producer: Producer,
  topic: string,
  count: number,
  make: (k: number) => T,
  key: (r: T) => string,
  encode: (r: T) => Buffer,
): Promise<number> {
  const t0 = Date.now();
  for (let start = 0; start < count; start += 5000) {
    const messages = [];
    for (let k = start; k < Math.min(count, start + 5000); k++) {
      const r = make(k);
      messages.push({ key: key(r), value: encode(r) });
    }
    await producer.send({ topic, messages, acks: 1 });
  }
  return Date.now() - t0;
}

interface Progress {
  t: number;
  consumed: number;
  /** Detector: inputs released through the rules, committed. */
  released?: number;
  cpuMs: number;
  /** When the first message was consumed. */
  first?: { t: number; cpuMs: number };
  peakMiB: number;
  ready?: boolean;
}

/** A measured process (bench/child.ts) with its latest progress line. */
function child(
  mode: 'detector' | 'passthrough',
  env: Record<string, string>,
): {
  proc: ChildProcess;
  last: () => Progress | undefined;
  first: (p: (x: Progress) => boolean) => Promise<Progress>;
} {
  const proc = spawn(
    process.execPath,
    [
      '--max-old-space-size=3072',
      ...(mode === 'detector' && process.env.BENCH_CPU_PROF
        ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF]
        : []),
      '--import',
      'tsx',
      'services/detector/bench/child.ts',
      mode,
    ],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  // A measured process that dies (e.g. a failed transaction) ends the run: nothing else would.
  proc.once('exit', (code, signal) => {
    if (stopping.has(proc)) return;
    console.error(`bench: the ${mode} process exited (${code ?? signal}) before the run ended`);
    process.exit(1);
  });
  let last: Progress | undefined;
  const waiters: Array<{ pred: (x: Progress) => boolean; resolve: (x: Progress) => void }> = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    if (!line.startsWith('{"progress":true')) return;
    last = JSON.parse(line) as Progress;
    for (const w of [...waiters]) {
      if (w.pred(last)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(last);
      }
    }
  });
  return {
    proc,
    last: () => last,
    first: (pred) =>
      new Promise((resolve) => (last && pred(last) ? resolve(last) : waiters.push({ pred, resolve }))),
  };
}

const stopping = new WeakSet<ChildProcess>();

async function stop(proc: ChildProcess): Promise<void> {
  stopping.add(proc);
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (proc.exitCode === null) proc.kill('SIGKILL');
}

/**
 * Steady state from the first message consumed until `done(p)` counts `n`
 * (progress every 50 ms): messages per second, and CPU µs of the process per message.
 */
async function rate(
  c: ReturnType<typeof child>,
  n: number,
  done: (p: Progress) => number,
  total: number,
): Promise<{ perS: number; cpuUs: number; s: number; ingestPerS: number }> {
  const consumedAll = c.first((p) => p.consumed >= total && p.first !== undefined);
  const end = await c.first((p) => done(p) >= n && p.first !== undefined);
  const ingest = await consumedAll;
  const start = end.first!;
  const count = done(end);
  return {
    perS: (count / Math.max(1, end.t - start.t)) * 1000,
    cpuUs: ((end.cpuMs - start.cpuMs) * 1000) / Math.max(1, count),
    s: (end.t - start.t) / 1000,
    ingestPerS: (ingest.consumed / Math.max(1, ingest.t - start.t)) * 1000,
  };
}

/**
 * A storm gardu's snapshot (133 meters gasped, the outage confirmed), written as the state topic's
 * version 2 and as plain JSON (version 1) in this process: µs per snapshot and bytes.
 */
function snapshotEncoding(): { v2Us: number; v1Us: number; v2Bytes: number; v1Bytes: number } {
  const topo = new Topology();
  for (let i = 0; i < PER_GARDU; i++) topo.apply(meterOf(i), profile(i));
  const ctx = { cfg: defaultDetectorConfig, topo };
  const st = newDetectorState();
  const out: Emission[] = [];
  for (let i = 0; i < PER_GARDU; i++)
    applyInput(ctx, st, { kind: 'event', value: event(i, 'LAST_GASP', STORM_AT + i * 20) }, out);
  advance(ctx, st, STORM_AT + DELAY + 10_000, out);
  const snap = snapshotGardu(st, garduOf(0))!;
  const time = (f: () => string): number => {
    for (let k = 0; k < 200; k++) f(); // warm-up
    const t0 = performance.now();
    for (let k = 0; k < 2000; k++) f();
    return ((performance.now() - t0) * 1000) / 2000;
  };
  return {
    v1Us: time(() => JSON.stringify(snap)),
    v2Us: time(() => encodeSnapshot(snap)),
    v1Bytes: JSON.stringify(snap).length,
    v2Bytes: encodeSnapshot(snap).length,
  };
}

/**
 * The rules alone, in this process: µs per interval read when every gardu remembers the event ids of
 * the last hour (after a storm: its gasps and restores) against a fleet that remembers nothing (the
 * baseline). Such reads change nothing; before 2026-11-29 each one scanned its gardu's event ids.
 */
function readsAfterStorm(): { rememberedUs: number; freshUs: number; gardus: number } {
  const gardus = 300;
  const topo = new Topology();
  for (let i = 0; i < gardus * PER_GARDU; i++) topo.apply(meterOf(i), profile(i));
  const ctx = { cfg: defaultDetectorConfig, topo };
  const usPerRead = (remember: boolean): number => {
    const st = newDetectorState();
    const out: Emission[] = [];
    if (remember)
      for (let i = 0; i < gardus * PER_GARDU; i++)
        applyInput(ctx, st, { kind: 'event', value: event(i, 'POWER_LIMIT_CHANGED', B0 + i) }, out);
    let best = Number.POSITIVE_INFINITY;
    for (let round = 1; round <= 5; round++) {
      const t0 = performance.now();
      for (let i = 0; i < gardus * PER_GARDU; i++) {
        const value = { ...read(i), read_at: B0 + round * READ_EVERY };
        applyInput(ctx, st, { kind: 'read', value }, out);
      }
      best = Math.min(best, ((performance.now() - t0) * 1000) / (gardus * PER_GARDU));
    }
    return best;
  };
  usPerRead(false); // warm-up
  return { freshUs: usPerRead(false), rememberedUs: usPerRead(true), gardus };
}

async function main(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, prefix, { partitions: PARTITIONS });
  // One request in flight per broker: a retry cannot overtake a later request.
  const producer = kafka.producer({ maxInFlightRequests: 1 });
  await producer.connect();
  const enc = {
    meter: codec.encoder('MeterProfile', await codec.register('MeterProfile', valueSubject(topics.meters))),
    read: codec.encoder('MeterRead', await codec.register('MeterRead', valueSubject(topics.reads))),
    event: codec.encoder('MeterEvent', await codec.register('MeterEvent', valueSubject(topics.events))),
  };
  console.log(
    `topology: ${METERS.toLocaleString()} meters, ${GARDUS.toLocaleString()} gardu; prefix ${prefix}`,
  );
  let ms = await produce(producer, topics.meters, METERS, profile, (r) => r.meter_id, enc.meter);
  console.log(`  meters produced in ${(ms / 1000).toFixed(1)} s`);
  const reads = METERS + GARDUS;
  ms = await produce(producer, topics.reads, reads, read, (r) => r.gardu_id, enc.read);
  // Events flow beside the reads, as in a live fleet: one per events partition at every boundary.
  // Without them the empty events partitions must first be confirmed idle (IDLE_ADVANCE_MS and an
  // end-offset poll, ~3 s of start-up that a running detector does not pay) before anything is released.
  const steadyEvents = (WAVES + 1) * CLOCK_METERS.length;
  ms += await produce(
    producer,
    topics.events,
    steadyEvents,
    (k) =>
      event(
        CLOCK_METERS[k % CLOCK_METERS.length]!,
        'POWER_LIMIT_CHANGED',
        B0 + Math.floor(k / CLOCK_METERS.length) * READ_EVERY,
      ),
    (r) => r.gardu_id,
    enc.event,
  );
  const steady = reads + steadyEvents;
  console.log(
    `  ${METERS.toLocaleString()} interval reads in ${WAVES} waves + ${GARDUS.toLocaleString()} next-boundary reads + ${steadyEvents} events produced in ${(ms / 1000).toFixed(1)} s`,
  );

  const env = {
    AMI_TOPIC_PREFIX: prefix,
    DETECTOR_GROUP_ID: `ami-detector.${prefix}`,
    DETECTOR_INSTANCE_ID: prefix,
    LOG_LEVEL: 'warn',
  };

  // Baseline: decode-only consumer over the same backlog.
  const base = child('passthrough', env);
  const baseRate = await rate(base, steady, (p) => p.consumed, steady);
  await stop(base.proc);

  const t0 = Date.now();
  const det = child('detector', env);
  const ready = await det.first((p) => p.ready === true);
  const loadS = (ready.t - t0) / 1000;
  // Done when every interval read went through the rules and was committed (the next-boundary reads stay buffered).
  const detRate = await rate(det, METERS, (p) => p.released ?? 0, steady);
  const steadyPeak = det.last()!.peakMiB;

  // Storm.
  const outages: Outage[] = [];
  const watch = kafka.consumer({ groupId: `bench.watch.${prefix}`, readUncommitted: false });
  await watch.connect();
  await watch.subscribe({ topic: topics.outages, fromBeginning: true });
  await watch.run({
    eachMessage: async ({ message }) =>
      void outages.push({ ...(await codec.decode('Outage', message.value!)), emitted_at: Date.now() }),
  });
  const stormMeters = STORM_GARDU * PER_GARDU;
  const stride = stormMeters / STORM_GASPS; // ~1: every storm meter gasps once
  ms = await produce(
    producer,
    topics.events,
    STORM_GASPS,
    (k) => event(Math.floor(k * stride), 'LAST_GASP', STORM_AT + Math.floor((k / STORM_GASPS) * 10_000)),
    (r) => r.gardu_id,
    enc.event,
  );
  console.log(
    `storm: ${STORM_GASPS.toLocaleString()} last gasps over ${STORM_GARDU} gardu produced in ${(ms / 1000).toFixed(1)} s`,
  );
  // One message past the confirmation delay (+ lateness) makes event time confirm them.
  const clockAt = STORM_AT + 10_000 + DELAY + LATENESS + 1000;
  await produce(
    producer,
    topics.events,
    CLOCK_METERS.length,
    (k) => event(CLOCK_METERS[k]!, 'POWER_LIMIT_CHANGED', clockAt),
    (r) => r.gardu_id,
    enc.event,
  );
  const lastOpenMsg = Date.now();
  const cpuAtOpenMsg = det.last()!.cpuMs;
  const opened = await until(
    () => outages.filter((o) => o.status === 'OPEN' && o.scope === 'GARDU').length >= STORM_GARDU,
    600_000,
  );
  const lastOpen = Math.max(...outages.filter((o) => o.status === 'OPEN').map((o) => o.emitted_at));
  // CPU the detector spent on it (robust to a shared machine, unlike the wall time).
  const openCpuS = (det.last()!.cpuMs - cpuAtOpenMsg) / 1000;
  const gaspsAccounted = sumLatest(outages, 'GARDU', (o) => o.last_gasps);
  // AMR meters send no last gasp that counts; a meter gasping twice is one last gasp.
  const gaspingAmi = new Set(
    Array.from({ length: STORM_GASPS }, (_, k) => Math.floor(k * stride)).filter(
      (i) => profile(i).kdpm !== 'A',
    ),
  ).size;

  // Restoration 30 min later in event time (the wait above lets the watermark follow the wall clock).
  const backAt = clockAt + 30 * 60_000;
  ms = await produce(
    producer,
    topics.events,
    stormMeters,
    (i) => event(i, 'POWER_RESTORE', backAt + (i % 10_000)),
    (r) => r.gardu_id,
    enc.event,
  );
  // As a live fleet does, later traffic moves event time past the restores.
  await produce(
    producer,
    topics.events,
    CLOCK_METERS.length,
    (k) => event(CLOCK_METERS[k]!, 'POWER_LIMIT_CHANGED', backAt + 10_000 + LATENESS + 1000),
    (r) => r.gardu_id,
    enc.event,
  );
  const lastRestoreMsg = Date.now();
  const cpuAtRestoreMsg = det.last()!.cpuMs;
  const restored = await until(
    () => outages.filter((o) => o.status === 'RESTORED' && o.scope === 'GARDU').length >= STORM_GARDU,
    600_000,
  );
  const lastRestored = Math.max(...outages.filter((o) => o.status === 'RESTORED').map((o) => o.emitted_at));
  const restoreCpuS = (det.last()!.cpuMs - cpuAtRestoreMsg) / 1000;
  const peak = det.last()!.peakMiB;

  console.log('');
  console.log(
    `steady state (one read per meter in ${WAVES} waves and events on every partition, backlog consumed from the start)`,
  );
  console.log(
    `  pass-through (decode only)  ${Math.round(baseRate.perS).toLocaleString().padStart(9)} msgs/s   ${baseRate.cpuUs.toFixed(1).padStart(6)} µs CPU/msg   (${steady.toLocaleString()} msgs in ${baseRate.s.toFixed(1)} s)`,
  );
  console.log(
    `  detector (rules, committed) ${Math.round(detRate.perS).toLocaleString().padStart(9)} msgs/s   ${detRate.cpuUs.toFixed(1).padStart(6)} µs CPU/msg   (${METERS.toLocaleString()} reads in ${detRate.s.toFixed(1)} s)`,
  );
  console.log(
    `  detector ingest only         ${Math.round(detRate.ingestPerS).toLocaleString().padStart(9)} msgs/s   (decode, validate, buffer: every read consumed)`,
  );
  console.log(
    `  ratio detector / pass-through: ${(detRate.perS / baseRate.perS).toFixed(2)} in msgs/s (goal >= 0.5, >= 100k/s), ${(detRate.ingestPerS / baseRate.perS).toFixed(2)} ingest only, ${(baseRate.cpuUs / detRate.cpuUs).toFixed(2)} in CPU per msg`,
  );
  console.log(
    `  detector start with ${METERS.toLocaleString()} meters loaded: ${loadS.toFixed(1)} s, peak RSS ${steadyPeak} MiB`,
  );
  console.log('regional blackout storm');
  console.log(
    `  gardu outages OPEN ${opened ? STORM_GARDU : 'NOT ALL'}; distinct AMI last gasps accounted ${gaspsAccounted.toLocaleString()} of ${gaspingAmi.toLocaleString()} (${STORM_GASPS.toLocaleString()} messages)`,
  );
  console.log(
    `  FEEDER outages: ${new Set(outages.filter((o) => o.scope === 'FEEDER').map((o) => o.outage_id)).size}`,
  );
  console.log(
    `  last message (past the confirmation delay) -> last OPEN record:   ${((lastOpen - lastOpenMsg) / 1000).toFixed(2)} s (goal <= 5 s); detector CPU ${openCpuS.toFixed(1)} s`,
  );
  console.log(
    `  last message (past the restores) -> last RESTORED record:       ${((lastRestored - lastRestoreMsg) / 1000).toFixed(2)} s (restores ${restored ? 'all' : 'NOT ALL'} seen); detector CPU ${restoreCpuS.toFixed(1)} s`,
  );
  console.log(`  restores produced in ${(ms / 1000).toFixed(1)} s`);
  console.log(`peak memory of the detector: ${peak} MiB (goal < 2048 MiB)`);
  const after = readsAfterStorm();
  console.log(
    `rules alone, interval reads (${(after.gardus * PER_GARDU).toLocaleString()} meters, this process): ${after.rememberedUs.toFixed(2)} µs per read with every gardu remembering ${PER_GARDU} event ids, ${after.freshUs.toFixed(2)} µs with nothing remembered (baseline): ratio ${(after.rememberedUs / after.freshUs).toFixed(2)}`,
  );
  const snap = snapshotEncoding();
  console.log(
    `gardu snapshot in a storm (${PER_GARDU} meters, this process): ${snap.v2Us.toFixed(0)} µs and ${snap.v2Bytes.toLocaleString()} bytes as written (v2), ${snap.v1Us.toFixed(0)} µs and ${snap.v1Bytes.toLocaleString()} bytes as plain JSON (v1): ${(snap.v1Us / snap.v2Us).toFixed(2)}x faster, ${(snap.v2Bytes / snap.v1Bytes).toFixed(2)} of the bytes`,
  );

  await stop(det.proc);
  await watch.disconnect();
  await producer.disconnect();
  await admin
    .deleteTopics({ topics: [...Object.values(topics), `${prefix}.detector-state`] })
    .catch(() => undefined);
  await admin.disconnect();
}

function sumLatest(outages: Outage[], scope: Outage['scope'], f: (o: Outage) => number): number {
  const latest = new Map(outages.filter((o) => o.scope === scope).map((o) => [o.outage_id, o]));
  return [...latest.values()].reduce((s, o) => s + f(o), 0);
}

async function until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
