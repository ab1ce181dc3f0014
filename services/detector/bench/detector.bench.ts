/**
 * `npm run bench:detector`: the detector beside a pass-through consumer, on the
 * local stack, in one run.
 *
 * 1. Topology of BENCH_METERS meters (default 1,200,000, the programme's fleet,
 *    as the issue asks: ~7 min on the shared 2-core build machine, most of it
 *    producing the two backlogs; BENCH_METERS=200000, the storm's 1,500 gardu,
 *    takes ~2 min, but its steady spans last 0.4-1.5 s and start-up dominates
 *    them), ~133 per gardu, on `meters`.
 * 2. Steady state: one interval read per meter on `reads`, the fleet in
 *    BENCH_WAVES (8) waves at successive read boundaries, then one read per
 *    gardu at the next boundary (it moves event time past the last wave, as the
 *    next interval does in a live fleet), and on `events` one event per
 *    partition at every boundary (events flow beside reads in a fleet; until
 *    2026-11-29 there were none, and the figure included ~3 s of confirming the
 *    empty events partitions idle, a start-up cost). Rate and CPU per message,
 *    one measured process at a time, over that backlog of:
 *    - the pass-through consumer (decode only) with kafkajs, the baseline of the
 *      goal, and the same pass-through fetching raw over the wire protocol
 *      (WireFetcher, every partition from offset 0, no group);
 *    - the detector with its raw fetch (DETECTOR_RAW_FETCH=true, the default)
 *      and with the kafkajs consumer (DETECTOR_RAW_FETCH=false), each until every
 *      interval read went through the rules and was committed (their ingest
 *      rates too: until every message was consumed, decoded, validated and
 *      buffered). The kafkajs detector runs first, on a copy of the backlog under
 *      its own prefix (`<prefix>.kafkajs`): the state topic derives from the
 *      prefix, and the raw one must not restore the other's state.
 *    Every span starts at the first message consumed. Ratios of the raw
 *    detector to the kafkajs pass-through (the goal), to the raw pass-through,
 *    and to the kafkajs detector (a same-run before/after of the raw fetch); CPU
 *    ratios are the other's µs per message over the raw detector's (above 1:
 *    the raw detector is cheaper).
 * 3. Storm, on the raw detector of the steady state (still running): 200 k
 *    last gasps over 1,500 gardu (150 feeders) within 10 s of event time, then a
 *    clock event past the confirmation delay: time from that last message to the
 *    last OPEN record. Then every meter's power restore: time from the last
 *    message to the last RESTORED record. Beside it, the suspected outages of the
 *    storm (`<prefix>.suspected-outages`): the detection latency of each
 *    suspicion's first record (emitted_at - evidence_logged_at, the Kafka
 *    timestamp of the last gasp that crossed the threshold), p50/p99, how many
 *    carry the confirmed outage's id, and that every one ends CONFIRMED or
 *    CANCELLED.
 * 4. Peak memory (VmHWM) of the detector process with the topology loaded.
 * 5. In this process, without Kafka: the storm through the rules alone, split into applying the
 *    gasps, confirming, snapshots and encoding (where the storm's time goes), the rules on reads,
 *    the meter lookup and a storm gardu's snapshot, each against its baseline.
 *
 * 6. The production configuration: the same steady backlog on a secured broker started for the
 *    run (packages/lib/bench/securedKafka.ts: SASL_SSL, SCRAM-SHA-512, the JVM's default JIT),
 *    produced there over SASL_PLAINTEXT (not measured), and the raw detector over SASL_SSL until
 *    every interval read went through the rules and was committed; its ratio to the plain raw
 *    detector of step 2 (issue 18: >= 0.8, >= 150k msgs/s). BENCH_SECURED=0 skips it.
 *
 * BENCH_CPU_PROF=<dir>: the detector runs with `--cpu-prof` into <dir>.
 *
 * BENCH_SCENARIO=blackout (default `storm`): a whole-fleet blackout after the storm, on the same
 * detector: every meter of the fleet loses supply at once (BENCH_METERS=1200000: all 9,023 gardu,
 * 903 feeders). Last gasps are delivered as the simulator delivers them (services/simulator:
 * `resolveComms` defaults per KDPM, the fleet's KDPM mix): none from AMR meters, none from PLC
 * meters (their gardu's data concentrator dies with it), 85 / 92 / 98 % of RF / cellular / fibre
 * ones, each 2-30 / 1-10 / 1-5 s late, produced in delivery order (bench/delivery.ts). Once every
 * gasp went through the rules (timed: live they have the 5 min delay), one meter per events
 * partition on a grid the blackout leaves lit (region MEDAN, outside the fleet) sends the message
 * past the confirmation delay, and later the one past the restores (delivered by medium as well). Goals
 * (issue 23), each printed PASS or FAIL: every gardu and feeder outage OPEN within 10 s of that last
 * message, peak RSS and peak heap of the detector < 2 GiB, nothing dead-lettered; and the ratios to
 * the storm of the same run. Skips the pass-throughs, the kafkajs detector, the in-process figures
 * (step 5) and the secured run: `BENCH_SCENARIO=blackout npm run bench:detector`.
 * BENCH_HEAP_SNAPSHOT=<dir>: the detector writes a heap snapshot into <dir> when its heap first
 * passes 1 GiB (`--heapsnapshot-near-heap-limit` is no use below the limit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import type { Admin, Consumer, Producer } from 'kafkajs';
import {
  AvroCodec,
  avroType,
  createKafka,
  createLogger,
  createRegistry,
  ensureTopics,
  isPendingSuspicion,
  loadCommonConfig,
  inputPartition,
  partitionForKey,
  topicNames,
  valueSubject,
  type MeterEvent,
  type MeterProfile,
  type MeterRead,
  type Outage,
  type RecordName,
  type RecordTypes,
  type SuspectedOutage,
  type Topics,
} from '@ami/lib';
import { clientEnv, loadStackSettings } from '@ami/stack';
import { securedRatio, withSecuredKafka, type SecuredKafka } from '@ami/lib/bench/securedKafka';
import { defaultDetectorConfig } from '../src/config.js';
import { encodeSnapshot, garduRecord } from '../src/changelog.js';
import { statusEncoder } from '../src/statusEncoder.js';
import { advance, applyInput, newDetectorState, snapshotGardu, type Emission } from '../src/rules.js';
import { Topology } from '../src/topology.js';
import { delivered, kdpmOf } from './delivery.js';

// The local stack unless the environment points elsewhere (children inherit it).
Object.assign(process.env, { ...clientEnv(loadStackSettings()), ...process.env });

const PER_GARDU = 133;
const STORM_GARDU = 1_500;
const METERS = Math.max(STORM_GARDU * PER_GARDU, Number(process.env.BENCH_METERS ?? 1_200_000));
const WAVES = Math.max(1, Number(process.env.BENCH_WAVES ?? 8));
const GARDUS = Math.ceil(METERS / PER_GARDU);
const GARDU_PER_FEEDER = 10;
const STORM_GASPS = 200_000;
const PARTITIONS = 6;
const SCENARIO = process.env.BENCH_SCENARIO ?? 'storm';
if (SCENARIO !== 'storm' && SCENARIO !== 'blackout')
  throw new Error(`BENCH_SCENARIO must be storm or blackout, got ${SCENARIO}`);
/** The whole-fleet blackout runs after the storm; it skips the figures that do not bear on it. */
const BLACKOUT = SCENARIO === 'blackout';
const FEEDERS = Math.ceil(GARDUS / GARDU_PER_FEEDER);
/** Feeders a whole-fleet blackout takes out as FEEDER outages: a last feeder of too few gardu is not one. */
const FEEDER_OUTAGES =
  Math.floor(GARDUS / GARDU_PER_FEEDER) +
  (GARDUS % GARDU_PER_FEEDER >= defaultDetectorConfig.FEEDER_MIN_GARDU ? 1 : 0);
/** The seed of the meters' KDPM and of the media's draws (delivery, delay). */
const SEED = 23;

const prefix = `bench_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
const common = loadCommonConfig({ ...process.env, AMI_TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' });
const logger = createLogger('bench', 'warn');
const topics = topicNames(prefix);
/** The kafkajs detector's copy of the steady backlog, with its own state topic. */
const kafkajsPrefix = `${prefix}.kafkajs`;
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

/**
 * Blackout only: one meter per events partition on a grid the blackout leaves lit (another island:
 * in August 2019 Java-Bali went dark, Sumatra did not), meters METERS + p of the
 * topology. They move event time past the blackout as a detector's other traffic would.
 */
const LIT_GARDU: string[] = [];
for (let n = 0; BLACKOUT && LIT_GARDU.length < PARTITIONS; n++) {
  const id = `GX${String(n).padStart(4, '0')}`;
  if (partitionForKey(Buffer.from(id), PARTITIONS) === LIT_GARDU.length) LIT_GARDU.push(id);
}
const LIT_METERS = LIT_GARDU.map((_, p) => METERS + p);
/** Meters on the meters topic: the fleet, and the lit grid's in a blackout run. */
const TOPOLOGY = METERS + LIT_GARDU.length;

function litProfile(i: number): MeterProfile {
  const p = i - METERS;
  return {
    meter_id: `MTRX${String(p).padStart(7, '0')}`,
    idpel: String(610000000000 + p),
    kdpm: 'S',
    phases: 1,
    tariff: 'R-1',
    daya_va: 1300,
    gardu_id: LIT_GARDU[p]!,
    feeder_id: `PX${String(p).padStart(4, '0')}`,
    ulp: 'ULPX',
    region: 'MEDAN',
    timezone: 'Asia/Jakarta',
    installed_at: 0,
  };
}

/** Meter i of the topics: the fleet's, then the lit grid's. */
function profile(i: number): MeterProfile {
  return i >= METERS ? litProfile(i) : fleetProfile(i);
}

/** Meter i of a fleet of any size (the in-process figures build fleets larger than METERS). */
function fleetProfile(i: number): MeterProfile {
  const g = Math.floor(i / PER_GARDU);
  return {
    meter_id: meterOf(i),
    idpel: String(510000000000 + i),
    // The simulator's KDPM mix: PLC 31 %, RF 33 %, cellular 19 %, fibre 5 %, AMR 7 %.
    kdpm: kdpmOf(SEED, i),
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
 * BENCH_PLACE_BY=feeder: reads and events on their feeder's partition (`inputPartition`, the
 * contract's placement: nothing for the detector to repartition); default `key`, Kafka's default
 * partitioner of the gardu key (the detector forwards those not on their feeder's partition).
 */
const PLACE_BY_FEEDER = process.env.BENCH_PLACE_BY === 'feeder';

/** The input partition of a fleet gardu's reads and events (GD<n>: feeder PY<n / GARDU_PER_FEEDER>). */
function partitionOfGardu(garduId: string): number {
  if (!PLACE_BY_FEEDER || !garduId.startsWith('GD')) return partitionForKey(Buffer.from(garduId), PARTITIONS);
  const feederId = `PY${String(Math.floor(Number(garduId.slice(2)) / GARDU_PER_FEEDER)).padStart(4, '0')}`;
  return inputPartition({ garduId, feederId }, PARTITIONS);
}

/**
 * One meter per events partition (the last gardu keyed there): the "clock" events past the
 * confirmation delay and past the restores go to every partition, as a live fleet's traffic does.
 * With one partition only, the others would first have to be confirmed idle (IDLE_ADVANCE_MS, 2 s,
 * and an end-offset poll) before the watermark could pass the storm.
 */
const CLOCK_METERS = Array.from({ length: PARTITIONS }, (_, p) => {
  for (let g = GARDUS - 1; g >= 0; g--)
    if (partitionOfGardu(garduOf(g * PER_GARDU)) === p)
      return Math.min(METERS - 1, g * PER_GARDU + PER_GARDU - 1);
  throw new Error(`no gardu on partition ${p}`);
});

function event(i: number, type: MeterEvent['type'], at: number): MeterEvent {
  const lit = i >= METERS ? litProfile(i) : undefined;
  return {
    event_id: `${type}-${i}-${at}`,
    meter_id: lit?.meter_id ?? meterOf(i),
    gardu_id: lit?.gardu_id ?? garduOf(i),
    occurred_at: at,
    type,
    relay: 'CLOSED',
    cause: 'NONE',
    // A power-limit change names the new limit (validateEvent dead-letters it without one).
    power_limit_va: type === 'POWER_LIMIT_CHANGED' ? 1300 : null,
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
    const placed = PLACE_BY_FEEDER && !topic.endsWith('.meters');
    for (let k = start; k < Math.min(count, start + 5000); k++) {
      const r = make(k);
      const partition = placed ? partitionOfGardu(key(r)) : undefined;
      messages.push({ key: key(r), value: encode(r), partition });
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
  /** Peak RSS (VmHWM) and peak heap used (sampled every 50 ms), MiB. */
  peakMiB: number;
  peakHeapMiB: number;
  ready?: boolean;
  /** Detector: its counters (dead letters by reason among them). */
  stats?: { dlq: Record<string, number>; peakBuffered: number; outages: number; statuses: number };
}

/** A measured process (bench/child.ts) with its latest progress line. */
function child(
  mode: 'detector' | 'passthrough' | 'passthrough-raw',
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
    if (last) {
      const { released, peakMiB, peakHeapMiB, stats } = last;
      console.error(
        `  its last progress: ${(released ?? 0).toLocaleString()} inputs released, peak RSS ${peakMiB} MiB, peak heap ${peakHeapMiB} MiB, dead letters ${JSON.stringify(stats?.dlq ?? {})}`,
      );
    }
    // The topics of a run cut short would stay on the shared broker.
    void deleteTopics().finally(() => process.exit(1));
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
interface Rate {
  perS: number;
  cpuUs: number;
  s: number;
  ingestPerS: number;
}

async function rate(
  c: ReturnType<typeof child>,
  n: number,
  done: (p: Progress) => number,
  total: number,
): Promise<Rate> {
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
 * version 4 and as plain JSON (version 1) in this process: µs per snapshot and bytes.
 */
function snapshotEncoding(): { writtenUs: number; v1Us: number; writtenBytes: number; v1Bytes: number } {
  const topo = new Topology();
  for (let i = 0; i < PER_GARDU; i++) topo.apply(meterOf(i), profile(i));
  const ctx = { cfg: defaultDetectorConfig, topo };
  const st = newDetectorState();
  const out: Emission[] = [];
  for (let i = 0; i < PER_GARDU; i++)
    applyInput(ctx, st, { kind: 'event', value: event(i, 'LAST_GASP', STORM_AT + i * 20) }, out);
  advance(ctx, st, STORM_AT + DELAY + 10_000, out);
  const snap = snapshotGardu(st, garduOf(0))!;
  // Version 1 was the state as plain JSON, its event ids an object (a Map since version 3).
  const v1 = { ...snap, gardu: { ...snap.gardu, seen: Object.fromEntries(snap.gardu.seen) } };
  const time = (f: () => string): number => {
    for (let k = 0; k < 200; k++) f(); // warm-up
    const t0 = performance.now();
    for (let k = 0; k < 2000; k++) f();
    return ((performance.now() - t0) * 1000) / 2000;
  };
  return {
    v1Us: time(() => JSON.stringify(v1)),
    writtenUs: time(() => encodeSnapshot(snap)),
    v1Bytes: JSON.stringify(v1).length,
    writtenBytes: encodeSnapshot(snap).length,
  };
}

/**
 * The meter lookup of every input, in this process: the topology of the programme's 1.2 M meters
 * (KeyIndex, since 2026-11-29) against a `Map` of the same ids (before; the baseline), each id freshly
 * decoded from bytes as an input's is, in an order unrelated to the loading order (a partition's
 * reads come by gardu; the meters topic, keyed by meter, loads in its own order).
 */
function meterLookups(): { indexUs: number; mapUs: number; meters: number } {
  const meters = 1_200_000;
  const topo = new Topology();
  const map = new Map<string, unknown>();
  for (let i = 0; i < meters; i++) {
    const p = fleetProfile(i);
    topo.apply(p.meter_id, p);
    map.set(p.meter_id, topo.meter(p.meter_id));
  }
  const bytes = Array.from({ length: 200_000 }, (_, k) => Buffer.from(meterOf((k * 7919) % meters)));
  const usPer = (get: (id: string) => unknown): number => {
    let found = 0;
    const t0 = process.hrtime.bigint();
    for (const b of bytes) if (get(b.toString('latin1')) !== undefined) found++;
    const us = Number(process.hrtime.bigint() - t0) / 1000 / bytes.length;
    if (found !== bytes.length) throw new Error(`lookup found ${found} of ${bytes.length}`);
    return us;
  };
  usPer((id) => topo.meter(id)); // warm-up
  usPer((id) => map.get(id));
  return { indexUs: usPer((id) => topo.meter(id)), mapUs: usPer((id) => map.get(id)), meters };
}

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

/**
 * Where a storm's time goes without Kafka: the storm's 200 k last gasps through the rules in this
 * process, in steps of DETECTOR_STEP_LIMIT as the detector takes them, each step's changed gardu
 * snapshotted (as the state topic's bytes) and its outputs Avro-encoded; then the confirmations.
 * Best of three rounds, in ms. The detector's figure above adds decoding, the transactions and the
 * broker's share of the same two cores.
 */
function stormRulesAlone(): Record<
  'gaspRules' | 'confirmRules' | 'snapshots' | 'encoding' | 'total',
  number
> & {
  snapshotCount: number;
  outputs: number;
} {
  const topo = new Topology();
  const stormMeters = STORM_GARDU * PER_GARDU;
  for (let i = 0; i < stormMeters; i++) topo.apply(meterOf(i), profile(i));
  const ctx = { cfg: defaultDetectorConfig, topo };
  const limit = defaultDetectorConfig.DETECTOR_STEP_LIMIT;
  const encodeStatus = statusEncoder(1);
  const outageType = avroType('Outage');
  const stride = stormMeters / STORM_GASPS;
  let best: ReturnType<typeof stormRulesAlone> | undefined;
  for (let round = 0; round < 3; round++) {
    const st = newDetectorState();
    const at = STORM_AT + round * 86_400_000; // event ids differ between rounds, as in a live fleet
    const ms = { gaspRules: 0, confirmRules: 0, snapshots: 0, encoding: 0, total: 0 };
    let snapshotCount = 0;
    let outputs = 0;
    const commit = (out: Emission[]): void => {
      let t = performance.now();
      for (const garduId of st.dirty) {
        garduRecord(0, garduId, snapshotGardu(st, garduId));
        snapshotCount++;
      }
      st.dirty.clear();
      ms.snapshots += performance.now() - t;
      t = performance.now();
      for (const e of out)
        if (e.to === 'status') encodeStatus(e.record);
        else outageType.toBuffer({ ...e.record, emitted_at: 0 });
      outputs += out.length;
      ms.encoding += performance.now() - t;
    };
    const t0 = performance.now();
    for (let start = 0; start < STORM_GASPS; start += limit) {
      const out: Emission[] = [];
      const t = performance.now();
      for (let k = start; k < Math.min(STORM_GASPS, start + limit); k++) {
        const value = event(Math.floor(k * stride), 'LAST_GASP', at + Math.floor((k / STORM_GASPS) * 10_000));
        applyInput(ctx, st, { kind: 'event', value }, out);
      }
      ms.gaspRules += performance.now() - t;
      commit(out);
    }
    for (let done = false; !done;) {
      const out: Emission[] = [];
      const t = performance.now();
      done = advance(ctx, st, at + 10_000 + DELAY + 1000, out, limit);
      ms.confirmRules += performance.now() - t;
      commit(out);
    }
    ms.total = performance.now() - t0;
    if (!best || ms.total < best.total) best = { ...ms, snapshotCount, outputs };
  }
  return best!;
}

/** Value encoders of the records the bench produces, registered under one prefix's subjects. */
interface Encoders {
  meter: (r: MeterProfile) => Buffer;
  read: (r: MeterRead) => Buffer;
  event: (r: MeterEvent) => Buffer;
}

/** The contract topics of `p` and the encoders of its meters, reads and events. */
async function prepare(admin: Admin, p: string): Promise<{ topics: Topics; enc: Encoders }> {
  await ensureTopics(admin, p, { partitions: PARTITIONS });
  const t = topicNames(p);
  const enc = {
    meter: codec.encoder('MeterProfile', await codec.register('MeterProfile', valueSubject(t.meters))),
    read: codec.encoder('MeterRead', await codec.register('MeterRead', valueSubject(t.reads))),
    event: codec.encoder('MeterEvent', await codec.register('MeterEvent', valueSubject(t.events))),
  };
  return { topics: t, enc };
}

/** Interval reads, then one next-boundary read per gardu. */
const STEADY_READS = METERS + GARDUS;
/**
 * Events flow beside the reads, as in a live fleet: one per events partition at every boundary.
 * Without them the empty events partitions must first be confirmed idle (IDLE_ADVANCE_MS and an
 * end-offset poll, ~3 s of start-up that a running detector does not pay) before anything is released.
 */
const STEADY_EVENTS = (WAVES + 1) * CLOCK_METERS.length;
/** Messages of the steady backlog. */
const STEADY = STEADY_READS + STEADY_EVENTS;

/** The topology and the steady backlog on the topics of prefix `p`; prints how long each took. */
async function produceBacklog(admin: Admin, producer: Producer, p: string): Promise<Encoders> {
  const { topics: t, enc } = await prepare(admin, p);
  let ms = await produce(producer, t.meters, TOPOLOGY, profile, (r) => r.meter_id, enc.meter);
  console.log(`  ${p}: meters produced in ${(ms / 1000).toFixed(1)} s`);
  ms = await produce(producer, t.reads, STEADY_READS, read, (r) => r.gardu_id, enc.read);
  ms += await produce(
    producer,
    t.events,
    STEADY_EVENTS,
    (k) =>
      event(
        CLOCK_METERS[k % CLOCK_METERS.length]!,
        'POWER_LIMIT_CHANGED',
        B0 + Math.floor(k / CLOCK_METERS.length) * READ_EVERY,
      ),
    (r) => r.gardu_id,
    enc.event,
  );
  console.log(
    `  ${p}: ${METERS.toLocaleString()} interval reads in ${WAVES} waves + ${GARDUS.toLocaleString()} next-boundary reads + ${STEADY_EVENTS} events produced in ${(ms / 1000).toFixed(1)} s`,
  );
  return enc;
}

/** The environment of a measured process on the topics of prefix `p`, with its own group and transactional id. */
function childEnv(
  p: string,
  rawFetch: boolean,
  kafkaEnv: Record<string, string> = {},
): Record<string, string> {
  return {
    ...kafkaEnv,
    AMI_TOPIC_PREFIX: p,
    DETECTOR_GROUP_ID: `ami-detector.${p}`,
    DETECTOR_INSTANCE_ID: p,
    DETECTOR_RAW_FETCH: String(rawFetch),
    LOG_LEVEL: 'warn',
  };
}

/** A decode-only consumer over the steady backlog, alone on the machine. */
async function passThrough(mode: 'passthrough' | 'passthrough-raw'): Promise<Rate> {
  const c = child(mode, childEnv(prefix, true));
  const r = await rate(c, STEADY, (p) => p.consumed, STEADY);
  await stop(c.proc);
  return r;
}

interface DetectorRun {
  c: ReturnType<typeof child>;
  rate: Rate;
  /** Seconds from spawn to ready (the topology loaded). */
  loadS: number;
  peakMiB: number;
}

/** A detector over the steady backlog of prefix `p`, left running. */
async function steadyDetector(
  p: string,
  rawFetch: boolean,
  kafkaEnv: Record<string, string> = {},
): Promise<DetectorRun> {
  const t0 = Date.now();
  const c = child('detector', childEnv(p, rawFetch, kafkaEnv));
  const ready = await c.first((x) => x.ready === true);
  // Done when every interval read went through the rules and was committed (the next-boundary reads stay buffered).
  const r = await rate(c, METERS, (x) => x.released ?? 0, STEADY);
  return { c, rate: r, loadS: (ready.t - t0) / 1000, peakMiB: c.last()!.peakMiB };
}

interface Steady {
  /** The baselines (none in a blackout run). */
  passKafkajs?: Rate;
  passRaw?: Rate;
  detKafkajs?: Rate;
  /** The raw detector, still running for the storm. */
  det: DetectorRun;
}

/**
 * Every steady-state process in turn, never two at once (2 cores): the pass-throughs, the kafkajs
 * detector on its copy of the backlog (stopped), then the raw detector (left running for the storm).
 */
async function steadyState(): Promise<Steady> {
  if (BLACKOUT) return { det: await steadyDetector(prefix, true) };
  const passKafkajs = await passThrough('passthrough');
  const passRaw = await passThrough('passthrough-raw');
  const kafkajs = await steadyDetector(kafkajsPrefix, false);
  await stop(kafkajs.c.proc);
  const det = await steadyDetector(prefix, true);
  return { passKafkajs, passRaw, detKafkajs: kafkajs.rate, det };
}

const fmtRate = (r: Rate) =>
  `${Math.round(r.perS).toLocaleString().padStart(9)} msgs/s   ${r.cpuUs.toFixed(1).padStart(6)} µs CPU/msg`;

/** The ratios of the raw detector to `other`: msgs/s, ingest only, CPU per msg (other's over the detector's). */
const fmtRatios = (det: Rate, other: Rate, goal = '') =>
  `${(det.perS / other.perS).toFixed(2)} in msgs/s${goal}, ${(det.ingestPerS / other.perS).toFixed(2)} ingest only, ${(other.cpuUs / det.cpuUs).toFixed(2)} in CPU per msg`;

function printSteady(s: Steady): void {
  const det = s.det.rate;
  const msgs = `(${STEADY.toLocaleString()} msgs in`;
  const reads = `(${METERS.toLocaleString()} reads in`;
  console.log(
    `steady state (one read per meter in ${WAVES} waves and events on every partition, backlog consumed from the start)`,
  );
  if (!s.passKafkajs || !s.passRaw || !s.detKafkajs) {
    console.log(`  detector, raw fetch (rules, committed) ${fmtRate(det)}   ${reads} ${det.s.toFixed(1)} s)`);
    console.log(
      `  detector (raw fetch) start with ${TOPOLOGY.toLocaleString()} meters loaded: ${s.det.loadS.toFixed(1)} s, peak RSS ${s.det.peakMiB} MiB`,
    );
    return;
  }
  console.log(
    `  pass-through, kafkajs (decode only)    ${fmtRate(s.passKafkajs)}   ${msgs} ${s.passKafkajs.s.toFixed(1)} s)`,
  );
  console.log(
    `  pass-through, raw fetch (decode only)  ${fmtRate(s.passRaw)}   ${msgs} ${s.passRaw.s.toFixed(1)} s)`,
  );
  console.log(`  detector, raw fetch (rules, committed) ${fmtRate(det)}   ${reads} ${det.s.toFixed(1)} s)`);
  console.log(
    `  detector, kafkajs (rules, committed)   ${fmtRate(s.detKafkajs)}   ${reads} ${s.detKafkajs.s.toFixed(1)} s)`,
  );
  for (const [name, r] of [
    ['raw fetch', det],
    ['kafkajs  ', s.detKafkajs],
  ] as const)
    console.log(
      `  detector ingest only, ${name}        ${Math.round(r.ingestPerS).toLocaleString().padStart(9)} msgs/s   (decode, validate, buffer: every read consumed)`,
    );
  console.log(
    `  ratio detector (raw fetch) / pass-through (kafkajs):   ${fmtRatios(det, s.passKafkajs, ' (goal >= 0.5, >= 100k/s)')}`,
  );
  console.log(`  ratio detector (raw fetch) / pass-through (raw fetch): ${fmtRatios(det, s.passRaw)}`);
  console.log(
    `  ratio detector (raw fetch) / detector (kafkajs):       ${(det.perS / s.detKafkajs.perS).toFixed(2)} in msgs/s, ${(det.ingestPerS / s.detKafkajs.ingestPerS).toFixed(2)} ingest only, ${(s.detKafkajs.cpuUs / det.cpuUs).toFixed(2)} in CPU per msg (same run: after / before)`,
  );
  console.log(
    "  (CPU ratios: the other's µs per msg over the raw detector's; above 1, the raw detector is cheaper)",
  );
  console.log(
    `  detector (raw fetch) start with ${METERS.toLocaleString()} meters loaded: ${s.det.loadS.toFixed(1)} s, peak RSS ${s.det.peakMiB} MiB`,
  );
}

/**
 * The raw detector over SASL_SSL on the secured broker, over the same steady backlog (produced there
 * over SASL_PLAINTEXT first, not measured); stopped once every interval read is committed.
 */
async function securedSteady(secured: SecuredKafka): Promise<DetectorRun> {
  const setup = createKafka(
    loadCommonConfig({ ...process.env, ...secured.setupEnv, AMI_TOPIC_PREFIX: prefix, LOG_LEVEL: 'warn' }),
    logger,
  );
  const admin = setup.admin();
  await admin.connect();
  const producer = setup.producer({ maxInFlightRequests: 1 });
  await producer.connect();
  console.log('secured broker:');
  await produceBacklog(admin, producer, prefix);
  await producer.disconnect();
  await admin.disconnect();
  const run = await steadyDetector(prefix, true, secured.env);
  await stop(run.c.proc);
  return run;
}

/** What the bench follows of the detector's output: outages as seen (emitted_at: when), suspicions. */
interface Watched {
  outages: Outage[];
  suspected: SuspectedOutage[];
}

/** Sends the clock events (one per events partition, at `at`): event time moves past what came before. */
async function clock(producer: Producer, enc: Encoders, meters: number[], at: number): Promise<void> {
  await produce(
    producer,
    topics.events,
    meters.length,
    (k) => event(meters[k]!, 'POWER_LIMIT_CHANGED', at),
    (r) => r.gardu_id,
    enc.event,
  );
}

/** Distinct outages of `scope` (started at or after `since`) whose latest record so far has `status`. */
function countStatus(outages: Outage[], scope: Outage['scope'], status: Outage['status'], since = 0): number {
  const ids = new Set<string>();
  for (const o of outages)
    if (o.scope === scope && o.status === status && o.started_at >= since) ids.add(o.outage_id);
  return ids.size;
}

/** When the bench saw the last record of `status` among the outages started at or after `since`. */
function lastSeen(outages: Outage[], status: Outage['status'], since = 0): number {
  let last = 0;
  for (const o of outages)
    if (o.status === status && o.started_at >= since) last = Math.max(last, o.emitted_at);
  return last;
}

interface StormFigures {
  opened: boolean;
  restored: boolean;
  gaspsAccounted: number;
  gaspingAmi: number;
  feeders: number;
  openS: number;
  openCpuS: number;
  restoreS: number;
  restoreCpuS: number;
  restoresProducedS: number;
  /** Event time past the storm's last message (its restores'). */
  endAt: number;
  peakMiB: number;
  peakHeapMiB: number;
}

/** The regional storm on the running detector: its last gasps, confirmation, restores. */
async function storm(
  det: ReturnType<typeof child>,
  producer: Producer,
  enc: Encoders,
  seen: Watched,
): Promise<StormFigures> {
  const { outages } = seen;
  const stormMeters = STORM_GARDU * PER_GARDU;
  const stride = stormMeters / STORM_GASPS; // ~1: every storm meter gasps once
  let ms = await produce(
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
  await clock(producer, enc, CLOCK_METERS, clockAt);
  const lastOpenMsg = Date.now();
  const cpuAtOpenMsg = det.last()!.cpuMs;
  const opened = await until(() => countStatus(outages, 'GARDU', 'OPEN') >= STORM_GARDU, 600_000);
  const lastOpen = lastSeen(outages, 'OPEN');
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
  const endAt = backAt + 10_000 + LATENESS + 1000;
  await clock(producer, enc, CLOCK_METERS, endAt);
  const lastRestoreMsg = Date.now();
  const cpuAtRestoreMsg = det.last()!.cpuMs;
  const restored = await until(() => countStatus(outages, 'GARDU', 'RESTORED') >= STORM_GARDU, 600_000);
  const lastRestored = lastSeen(outages, 'RESTORED');
  const p = det.last()!;
  return {
    opened,
    restored,
    gaspsAccounted,
    gaspingAmi,
    feeders: new Set(outages.filter((o) => o.scope === 'FEEDER').map((o) => o.outage_id)).size,
    openS: (lastOpen - lastOpenMsg) / 1000,
    openCpuS,
    restoreS: (lastRestored - lastRestoreMsg) / 1000,
    restoreCpuS: (p.cpuMs - cpuAtRestoreMsg) / 1000,
    restoresProducedS: ms / 1000,
    endAt,
    peakMiB: p.peakMiB,
    peakHeapMiB: p.peakHeapMiB,
  };
}

function printStorm(s: StormFigures, sus: ReturnType<typeof suspicionFigures>, settled: boolean): void {
  console.log('regional blackout storm');
  console.log(
    `  gardu outages OPEN ${s.opened ? STORM_GARDU : 'NOT ALL'}; distinct AMI last gasps accounted ${s.gaspsAccounted.toLocaleString()} of ${s.gaspingAmi.toLocaleString()} (${STORM_GASPS.toLocaleString()} messages)`,
  );
  console.log(`  FEEDER outages: ${s.feeders}`);
  console.log(
    `  last message (past the confirmation delay) -> last OPEN record:   ${s.openS.toFixed(2)} s (goal <= 5 s); detector CPU ${s.openCpuS.toFixed(1)} s`,
  );
  console.log(
    `  last message (past the restores) -> last RESTORED record:       ${s.restoreS.toFixed(2)} s (restores ${s.restored ? 'all' : 'NOT ALL'} seen); detector CPU ${s.restoreCpuS.toFixed(1)} s`,
  );
  console.log(`  restores produced in ${s.restoresProducedS.toFixed(1)} s`);
  console.log(
    `  suspected outages: ${sus.gardu} GARDU (${sus.exact} with the confirmed outage's id), ${sus.meter} METER (taken over by their gardu's); ${sus.confirmed} CONFIRMED, ${sus.cancelled} CANCELLED, ${sus.open} still open ${settled ? '' : '(NOT ALL SETTLED)'}`,
  );
  console.log(
    `  detection latency (emitted_at - evidence_logged_at), first record of each: GARDU p50 ${sus.garduP50} ms, p99 ${sus.garduP99} ms (goal p99 < 2000 ms); all p50 ${sus.allP50} ms, p99 ${sus.allP99} ms, max ${sus.max} ms`,
  );
  console.log(
    `peak memory of the detector: ${s.peakMiB} MiB RSS, ${s.peakHeapMiB} MiB heap (goal < 2048 MiB)`,
  );
}

interface BlackoutFigures {
  gasps: number;
  gaspsProducedS: number;
  /** From the last gasp produced to every gasp through the rules and committed (NaN: not within the wait). */
  gaspsAppliedS: number;
  /** The detector's CPU from the first gasp produced to then. */
  gaspsCpuS: number;
  gaspsAccounted: number;
  garduOpen: number;
  feederOpen: number;
  /** From the last message past the confirmation delay to the last OPEN record (every one seen). */
  openS: number;
  openCpuS: number;
  restores: number;
  restoresProducedS: number;
  garduRestored: number;
  feederRestored: number;
  restoreS: number;
  restoreCpuS: number;
  outages: number;
  statuses: number;
  peakMiB: number;
  peakHeapMiB: number;
  peakBuffered: number;
  deadLettered: Record<string, number>;
}

/**
 * Every meter of the fleet loses supply at once, after the storm (event time past its restores, a
 * quarter-hour boundary and 5 min on), on the same detector; the lit grid's meters move event time
 * past the confirmation delay, then past the restores 30 min later.
 */
async function blackout(
  det: ReturnType<typeof child>,
  producer: Producer,
  enc: Encoders,
  seen: Watched,
  after: number,
): Promise<BlackoutFigures> {
  const { outages } = seen;
  const start = (Math.floor(after / READ_EVERY) + 1) * READ_EVERY + 5 * 60_000;
  const before = det.last()!;
  const gasps = delivered(SEED, METERS, 'LAST_GASP', start);
  let ms = await produce(
    producer,
    topics.events,
    gasps.length,
    (k) => event(gasps[k]!.i, 'LAST_GASP', gasps[k]!.at),
    (r) => r.gardu_id,
    enc.event,
  );
  console.log(
    `blackout: ${gasps.length.toLocaleString()} last gasps of ${METERS.toLocaleString()} meters (${GARDUS.toLocaleString()} gardu, ${FEEDERS} feeders) produced in ${(ms / 1000).toFixed(1)} s`,
  );
  const gaspsProducedS = ms / 1000;
  // Live, the message past the confirmation delay comes 5 min after the gasps (which arrive within
  // 30 s); here it would come at once. So the gasps are first taken through the rules (their own
  // figure, which must stay under the delay), and the span measured is the confirmation's alone.
  const gaspsSent = Date.now();
  const releasedBefore = det.last()!.released ?? 0;
  const applied = await until(
    () => (det.last()!.released ?? 0) >= releasedBefore + gasps.length,
    DELAY + 600_000,
  );
  const gaspsAppliedS = (Date.now() - gaspsSent) / 1000;
  const gaspsCpuS = (det.last()!.cpuMs - before.cpuMs) / 1000;
  const clockAt = start + 1000 + DELAY + LATENESS + 1000;
  await clock(producer, enc, LIT_METERS, clockAt);
  const lastOpenMsg = Date.now();
  const cpuAtOpenMsg = det.last()!.cpuMs;
  const allOpen = () =>
    countStatus(outages, 'GARDU', 'OPEN', start) >= GARDUS &&
    countStatus(outages, 'FEEDER', 'OPEN', start) >= FEEDER_OUTAGES;
  await until(allOpen, 900_000);
  const openS = (lastSeen(outages, 'OPEN', start) - lastOpenMsg) / 1000;
  const openCpuS = (det.last()!.cpuMs - cpuAtOpenMsg) / 1000;
  const garduOpen = countStatus(outages, 'GARDU', 'OPEN', start);
  const feederOpen = countStatus(outages, 'FEEDER', 'OPEN', start);
  const gaspsAccounted = sumLatest(
    outages.filter((o) => o.started_at >= start),
    'GARDU',
    (o) => o.last_gasps,
  );

  const backAt = clockAt + 30 * 60_000;
  const restores = delivered(SEED, METERS, 'POWER_RESTORE', backAt);
  ms = await produce(
    producer,
    topics.events,
    restores.length,
    (k) => event(restores[k]!.i, 'POWER_RESTORE', restores[k]!.at),
    (r) => r.gardu_id,
    enc.event,
  );
  console.log(
    `blackout: ${restores.length.toLocaleString()} power restores produced in ${(ms / 1000).toFixed(1)} s`,
  );
  await clock(producer, enc, LIT_METERS, backAt + 1000 + LATENESS + 1000);
  const lastRestoreMsg = Date.now();
  const cpuAtRestoreMsg = det.last()!.cpuMs;
  await until(() => countStatus(outages, 'GARDU', 'RESTORED', start) >= GARDUS, 900_000);
  const restoreS = (lastSeen(outages, 'RESTORED', start) - lastRestoreMsg) / 1000;
  const p = det.last()!;
  return {
    gasps: gasps.length,
    gaspsProducedS,
    gaspsAppliedS: applied ? gaspsAppliedS : Number.NaN,
    gaspsCpuS,
    gaspsAccounted,
    garduOpen,
    feederOpen,
    openS,
    openCpuS,
    restores: restores.length,
    restoresProducedS: ms / 1000,
    garduRestored: countStatus(outages, 'GARDU', 'RESTORED', start),
    feederRestored: countStatus(outages, 'FEEDER', 'RESTORED', start),
    restoreS,
    restoreCpuS: (p.cpuMs - cpuAtRestoreMsg) / 1000,
    outages: p.stats!.outages - before.stats!.outages,
    statuses: p.stats!.statuses - before.stats!.statuses,
    peakMiB: p.peakMiB,
    peakHeapMiB: p.peakHeapMiB,
    peakBuffered: p.stats!.peakBuffered,
    deadLettered: p.stats!.dlq,
  };
}

const verdictOf = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

/** The blackout's figures, its goals (PASS/FAIL) and its ratios to the storm of the same run. */
function printBlackout(b: BlackoutFigures, s: StormFigures, steadyPeak: Progress, dlqRecords: number): void {
  const dead = Object.values(b.deadLettered).reduce((x, y) => x + y, 0);
  console.log(`whole-fleet blackout (${METERS.toLocaleString()} meters, after the storm, same detector)`);
  console.log(
    `  last gasps delivered ${b.gasps.toLocaleString()} (AMR none, PLC none: the concentrator dies with its gardu), produced in ${b.gaspsProducedS.toFixed(1)} s; accounted by the GARDU outages ${b.gaspsAccounted.toLocaleString()}`,
  );
  console.log(
    `  last gasp produced -> every gasp through the rules and committed: ${b.gaspsAppliedS.toFixed(2)} s (the watermark's ${LATENESS / 1000} s of allowed lateness included; live they have the confirmation delay, ${DELAY / 1000} s); detector CPU ${b.gaspsCpuS.toFixed(1)} s from the first gasp`,
  );
  console.log(
    `  OPEN: ${b.garduOpen.toLocaleString()} of ${GARDUS.toLocaleString()} GARDU, ${b.feederOpen} of ${FEEDER_OUTAGES} FEEDER outages (${FEEDERS} feeders)`,
  );
  console.log(
    `  last message (past the confirmation delay) -> last OPEN record:   ${b.openS.toFixed(2)} s; detector CPU ${b.openCpuS.toFixed(1)} s`,
  );
  console.log(
    `  power restores delivered ${b.restores.toLocaleString()}, produced in ${b.restoresProducedS.toFixed(1)} s; RESTORED ${b.garduRestored.toLocaleString()} GARDU, ${b.feederRestored} FEEDER`,
  );
  console.log(
    `  last message (past the restores) -> last RESTORED record:       ${b.restoreS.toFixed(2)} s; detector CPU ${b.restoreCpuS.toFixed(1)} s`,
  );
  console.log(
    `  detector output over the blackout: ${b.outages.toLocaleString()} outage records, ${b.statuses.toLocaleString()} meter statuses; most inputs held at once ${b.peakBuffered.toLocaleString()}`,
  );
  console.log(
    `  peak memory of the detector: RSS ${steadyPeak.peakMiB} MiB after the steady state, ${s.peakMiB} after the storm, ${b.peakMiB} after the blackout; heap ${steadyPeak.peakHeapMiB} / ${s.peakHeapMiB} / ${b.peakHeapMiB} MiB`,
  );
  console.log(
    `  dead letters: ${dead} counted by the detector ${JSON.stringify(b.deadLettered)}, ${dlqRecords} offsets on the DLQ topic`,
  );
  const ratio = (x: number, y: number) => (x / y).toFixed(2);
  // The storm's span holds its gasps' rules too (its clock follows them at once): compare it with both.
  const asStorm = b.gaspsAppliedS + b.openS;
  console.log(
    `  ratio blackout / storm (same run): last gasps ${ratio(b.gasps, STORM_GASPS)}, gardu ${ratio(GARDUS, STORM_GARDU)}; last message -> last OPEN ${ratio(b.openS, s.openS)} in wall time and ${ratio(b.openCpuS, s.openCpuS)} in detector CPU; gasps' rules + confirmation (the storm's span) ${ratio(asStorm, s.openS)} wall and ${ratio(b.gaspsCpuS + b.openCpuS, s.openCpuS)} CPU; -> last RESTORED ${ratio(b.restoreS, s.restoreS)} wall and ${ratio(b.restoreCpuS, s.restoreCpuS)} CPU`,
  );
  const allOpen = b.garduOpen === GARDUS && b.feederOpen === FEEDER_OUTAGES;
  console.log('  goals (issue 23):');
  console.log(
    `    ${verdictOf(allOpen && b.openS <= 10)}  every gardu and feeder outage OPEN within 10 s of the last message past the confirmation delay (${b.openS.toFixed(2)} s, ${allOpen ? 'all' : 'NOT ALL'} open)`,
  );
  console.log(
    `    ${verdictOf(b.gaspsAppliedS < DELAY / 1000)}  (its premise) the gasps through the rules within the confirmation delay (${b.gaspsAppliedS.toFixed(1)} s of ${DELAY / 1000} s)`,
  );
  console.log(`    ${verdictOf(b.peakMiB < 2048)}  peak RSS < 2048 MiB (${b.peakMiB} MiB)`);
  console.log(
    `    ${verdictOf(b.peakHeapMiB < 2048)}  peak heap < 2048 MiB (${b.peakHeapMiB} MiB, sampled every 50 ms)`,
  );
  console.log(
    `    ${verdictOf(dead === 0 && dlqRecords === 0)}  nothing dead-lettered (${dead}; DLQ offsets ${dlqRecords})`,
  );
}

/** The in-process figures (step 5): where a storm's time goes without Kafka, and their baselines. */
function printInProcess(): void {
  const after = readsAfterStorm();
  console.log(
    `rules alone, interval reads (${(after.gardus * PER_GARDU).toLocaleString()} meters, this process): ${after.rememberedUs.toFixed(2)} µs per read with every gardu remembering ${PER_GARDU} event ids, ${after.freshUs.toFixed(2)} µs with nothing remembered (baseline): ratio ${(after.rememberedUs / after.freshUs).toFixed(2)}`,
  );
  const look = meterLookups();
  console.log(
    `meter lookup (${look.meters.toLocaleString()} meters, this process): ${look.indexUs.toFixed(2)} µs with the topology's KeyIndex, ${look.mapUs.toFixed(2)} µs with a Map (baseline): ratio ${(look.indexUs / look.mapUs).toFixed(2)}`,
  );
  const alone = stormRulesAlone();
  const share = (x: number): string => `${x.toFixed(0)} ms (${((100 * x) / alone.total).toFixed(0)} %)`;
  console.log(
    `storm through the rules alone (${STORM_GASPS.toLocaleString()} last gasps, ${STORM_GARDU} gardu, this process, best of 3): ${alone.total.toFixed(0)} ms = applying the gasps ${share(alone.gaspRules)}, confirming ${share(alone.confirmRules)}, ${alone.snapshotCount.toLocaleString()} gardu snapshots ${share(alone.snapshots)}, encoding ${alone.outputs.toLocaleString()} outputs ${share(alone.encoding)}`,
  );
  const snap = snapshotEncoding();
  console.log(
    `gardu snapshot in a storm (${PER_GARDU} meters, this process): ${snap.writtenUs.toFixed(0)} µs and ${snap.writtenBytes.toLocaleString()} bytes as written (v4), ${snap.v1Us.toFixed(0)} µs and ${snap.v1Bytes.toLocaleString()} bytes as plain JSON (v1): ${(snap.v1Us / snap.writtenUs).toFixed(2)}x faster, ${(snap.writtenBytes / snap.v1Bytes).toFixed(2)} of the bytes`,
  );
}

/** Offsets on the DLQ topic (records, and transaction markers if a transaction wrote there). */
async function dlqOffsets(admin: Admin): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topics.dlq).catch(() => []);
  return offsets.reduce((sum, o) => sum + Number(o.high), 0);
}

async function main(secured: SecuredKafka | undefined): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  // One request in flight per broker: a retry cannot overtake a later request.
  const producer = kafka.producer({ maxInFlightRequests: 1 });
  await producer.connect();
  console.log(
    `topology: ${METERS.toLocaleString()} meters, ${GARDUS.toLocaleString()} gardu${BLACKOUT ? ` (+ ${LIT_METERS.length} meters of a grid the blackout leaves lit)` : ''}; scenario ${SCENARIO}; prefix ${prefix}${BLACKOUT ? '' : ` (and ${kafkajsPrefix} for the kafkajs detector)`}`,
  );
  const enc = await produceBacklog(admin, producer, prefix);
  if (!BLACKOUT) await produceBacklog(admin, producer, kafkajsPrefix);

  const steady = await steadyState();
  const det = steady.det.c;
  const steadyPeak = det.last()!;

  const seen: Watched = { outages: [], suspected: [] };
  // An outage's emitted_at is when the bench saw it; a suspicion keeps the detector's (its latency).
  const watch = await follow('Outage', topics.outages, (o) =>
    seen.outages.push({ ...o, emitted_at: Date.now() }),
  );
  const watchSuspected = await follow('SuspectedOutage', topics.suspectedOutages, (r) =>
    seen.suspected.push(r),
  );
  const s = await storm(det, producer, enc, seen);
  const settled = await until(() => {
    const last = latestSuspicions(seen.suspected);
    return last.size > 0 && [...last.values()].every((r) => !isPendingSuspicion(r));
  }, 60_000);
  const sus = suspicionFigures(seen.suspected);
  const b = BLACKOUT ? await blackout(det, producer, enc, seen, s.endAt) : undefined;

  console.log('');
  printSteady(steady);
  printStorm(s, sus, settled);
  if (b) printBlackout(b, s, steadyPeak, await dlqOffsets(admin));
  else printInProcess();

  await stop(det.proc);
  if (secured) {
    const r = await securedSteady(secured);
    const plain = steady.det.rate;
    console.log('production configuration: the raw detector over SASL_SSL (secured broker, SCRAM-SHA-512)');
    console.log(`  detector, raw fetch, plain    ${fmtRate(plain)}   (step 2)`);
    console.log(
      `  detector, raw fetch, SASL_SSL ${fmtRate(r.rate)}   (${METERS.toLocaleString()} reads in ${r.rate.s.toFixed(1)} s)`,
    );
    console.log(
      `  ratio SASL_SSL / plain: ${securedRatio(r.rate.perS, plain.perS)} in msgs/s (goal >= 0.8, >= 150k/s), ${securedRatio(r.rate.ingestPerS, plain.ingestPerS)} ingest only, ${(plain.cpuUs / r.rate.cpuUs).toFixed(2)} in CPU per msg`,
    );
  }
  await watch.disconnect();
  await watchSuspected.disconnect();
  await producer.disconnect();
  await admin.disconnect();
  await deleteTopics();
}

/** Deletes every topic of the run (the detector creates some of its own, all under the prefixes). */
async function deleteTopics(): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    // The kafkajs detector's prefix (`<prefix>.kafkajs`) is under the run's.
    const ours = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (ours.length > 0) await admin.deleteTopics({ topics: ours });
  } catch (err) {
    console.error(`bench: could not delete the topics of ${prefix}: ${(err as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Follows `topic` from its start (committed records only), each value decoded as `name`. */
async function follow<N extends RecordName>(
  name: N,
  topic: string,
  sink: (record: RecordTypes[N]) => void,
): Promise<Consumer> {
  const consumer = kafka.consumer({ groupId: `bench.watch.${topic}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => sink(await codec.decode(name, message.value!)) });
  return consumer;
}

function latestSuspicions(records: SuspectedOutage[]): Map<string, SuspectedOutage> {
  return new Map(records.map((r) => [r.outage_id, r]));
}

/** The storm's suspicions: counts, final states, and the latency of each one's first record. */
function suspicionFigures(records: SuspectedOutage[]) {
  const first = new Map<string, SuspectedOutage>();
  for (const r of records) if (!first.has(r.outage_id)) first.set(r.outage_id, r);
  const last = latestSuspicions(records);
  const latency = (rs: SuspectedOutage[]) =>
    rs.map((r) => r.emitted_at - r.evidence_logged_at).sort((a, b) => a - b);
  const pct = (xs: number[], p: number) =>
    xs.length === 0 ? NaN : xs[Math.ceil((p / 100) * xs.length) - 1]!;
  const garduLat = latency([...first.values()].filter((r) => r.scope === 'GARDU'));
  const allLat = latency([...first.values()]);
  const finals = [...last.values()];
  return {
    gardu: garduLat.length,
    meter: allLat.length - garduLat.length,
    exact: finals.filter((r) => r.status === 'CONFIRMED' && r.confirmed_outage_id === r.outage_id).length,
    confirmed: finals.filter((r) => r.status === 'CONFIRMED').length,
    cancelled: finals.filter((r) => r.status === 'CANCELLED').length,
    open: finals.filter((r) => r.status !== 'CONFIRMED' && r.status !== 'CANCELLED').length,
    garduP50: pct(garduLat, 50),
    garduP99: pct(garduLat, 99),
    allP50: pct(allLat, 50),
    allP99: pct(allLat, 99),
    max: allLat.at(-1) ?? NaN,
  };
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

// A blackout run measures the blackout; the secured run belongs to the steady state's figures.
if (BLACKOUT) process.env.BENCH_SECURED = '0';
withSecuredKafka(main).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    void deleteTopics().finally(() => process.exit(1));
  },
);
