/**
 * The process measured by the benchmark: `detector` (the real processor;
 * DETECTOR_RAW_FETCH from the environment picks its fetch path),
 * `passthrough` (a kafkajs consumer of the same topics that only decodes: the
 * baseline) or `passthrough-raw` (the same decode-only consumer fetching raw
 * over the wire protocol, as the detector's raw fetch does). Prints one JSON
 * line of progress every 50 ms: messages consumed, inputs released through the
 * rules and committed (detector), CPU time used, peak RSS and peak heap. SIGTERM
 * exits normally, so `--cpu-prof` writes its profile. BENCH_HEAP_SNAPSHOT=<dir>:
 * a heap snapshot into <dir> when the heap first passes 1 GiB (where the memory goes).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AvroCodec,
  createKafka,
  createLogger,
  createRegistry,
  indexRecords,
  topicNames,
  bulkFetcher,
  type FetchPartition,
  type FetchedPartition,
} from '@ami/lib';
import { loadDetectorConfig } from '../src/config.js';
import { startDetector } from '../src/processor.js';

const mode = process.argv[2];
const cfg = loadDetectorConfig();
// Logs go to stderr: stdout carries the progress lines.
const logger = createLogger(`bench-${mode}`, 'warn', 2);
const topics = topicNames(cfg.AMI_TOPIC_PREFIX);

/** Peak resident set (VmHWM) in MiB, from the kernel. */
function peakMiB(): number {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return Math.round(Number(line?.replace(/\D/g, '') ?? 0) / 1024);
}

/**
 * Peak heap used in MiB, sampled with every progress line (every 50 ms): a peak between two
 * samples is missed, which VmHWM (RSS) bounds from above.
 */
let peakHeap = 0;
let snapshotWritten = false;
function peakHeapMiB(): number {
  const used = process.memoryUsage().heapUsed;
  peakHeap = Math.max(peakHeap, used);
  const dir = process.env.BENCH_HEAP_SNAPSHOT;
  if (dir && !snapshotWritten && used > 1024 ** 3) {
    snapshotWritten = true;
    process.stderr.write(
      `heap snapshot: ${writeHeapSnapshot(join(dir, `detector-${process.pid}.heapsnapshot`))}\n`,
    );
  }
  return Math.round(peakHeap / 1024 / 1024);
}

/** CPU time (user + system) of this process in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Wall time and CPU when the first message was consumed (the start of the measured span). */
let first: { t: number; cpuMs: number } | undefined;
function sawFirst(consumed: number): void {
  if (first === undefined && consumed > 0) first = { t: Date.now(), cpuMs: cpuMs() };
}

function report(consumed: number, extra: object = {}): void {
  sawFirst(consumed);
  process.stdout.write(
    `${JSON.stringify({ progress: true, t: Date.now(), consumed, cpuMs: cpuMs(), peakMiB: peakMiB(), peakHeapMiB: peakHeapMiB(), first, ...extra })}\n`,
  );
}

process.once('SIGTERM', () => process.exit(0));

/**
 * The pass-throughs' work per message: decode its value, and count it. Synchronous unless the
 * writer schema must be fetched (no promise per message, as in the detector's hot path).
 */
const codec = new AvroCodec(createRegistry(cfg));
let consumed = 0;
function count(): void {
  consumed++;
  sawFirst(consumed);
}
function decodeOne(topic: string, value: Buffer): Promise<void> | undefined {
  const name = topic === topics.events ? 'MeterEvent' : 'MeterRead';
  if (codec.decodeCached(name, value)) {
    count();
    return undefined;
  }
  return codec.decode(name, value).then(count);
}

async function runDetector(): Promise<void> {
  const d = await startDetector(cfg, logger);
  report(0, { ready: true, meters: d.topology.size });
  const watchFirst = setInterval(() => {
    sawFirst(d.stats.consumed);
    if (first) clearInterval(watchFirst);
  }, 2);
  setInterval(() => report(d.stats.consumed, { released: d.stats.released, stats: d.stats }), 50);
}

async function runPassthrough(): Promise<void> {
  const consumer = createKafka(cfg, logger).consumer({
    groupId: `${cfg.DETECTOR_GROUP_ID}.passthrough`,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.reads, topics.events], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const fetching = decodeOne(batch.topic, m.value!);
        if (fetching) await fetching;
      }
    },
  });
  report(0, { ready: true });
  setInterval(() => report(consumed), 50);
}

/** Every partition of the reads and events topics, from offset 0 (no group: nothing is committed). */
async function allPartitions(): Promise<FetchPartition[]> {
  const admin = createKafka(cfg, logger).admin();
  await admin.connect();
  const meta = await admin.fetchTopicMetadata({ topics: [topics.reads, topics.events] });
  await admin.disconnect();
  return meta.topics.flatMap((t) =>
    t.partitions.map((p) => ({ topic: t.name, partition: p.partitionId, offset: 0 })),
  );
}

/** Decodes one partition's fetched records; returns the partition's next fetch offset. */
async function decodeFetched(a: FetchedPartition): Promise<number> {
  if (a.errorCode !== 0 || !a.records || a.records.length === 0) return a.fetchOffset;
  const ix = indexRecords(a.records, a.fetchOffset, a.aborted);
  for (let i = 0; i < ix.count; i++) {
    if (ix.valueStart[i]! < 0) continue;
    const fetching = decodeOne(a.topic, ix.buf.subarray(ix.valueStart[i], ix.valueEnd[i]));
    if (fetching) await fetching;
  }
  return ix.nextOffset;
}

/** Raw fetches of every partition, as the loader's (32 MiB a fetch, 4 MiB a partition), until killed. */
async function runPassthroughRaw(): Promise<void> {
  const parts = await allPartitions();
  const fetcher = bulkFetcher(cfg, `${cfg.KAFKA_CLIENT_ID}-bench-raw`);
  report(0, { ready: true });
  setInterval(() => report(consumed), 50);
  const at = new Map(parts.map((p) => [`${p.topic}:${p.partition}`, p]));
  for (;;) {
    const answers = await fetcher.fetch(parts);
    for (const a of answers) at.get(`${a.topic}:${a.partition}`)!.offset = await decodeFetched(a);
    // A partition error (say, no leader yet) comes back at once: wait rather than spin.
    if (answers.some((a) => a.errorCode !== 0)) await sleep(100);
  }
}

const modes: Record<string, () => Promise<void>> = {
  detector: runDetector,
  passthrough: runPassthrough,
  'passthrough-raw': runPassthroughRaw,
};
const run = modes[mode ?? ''];
if (!run) throw new Error(`unknown mode ${mode}: detector, passthrough or passthrough-raw`);
await run();
