/**
 * The process measured by the benchmark: `detector` (the real processor) or
 * `passthrough` (a consumer of the same topics that only decodes: the
 * baseline). Prints one JSON line of progress every 50 ms: messages consumed,
 * inputs released through the rules and committed (detector), CPU time used.
 * SIGTERM exits normally, so `--cpu-prof` writes its profile.
 */
import { readFileSync } from 'node:fs';
import { AvroCodec, createKafka, createLogger, createRegistry, topicNames } from '@ami/lib';
import { loadDetectorConfig } from '../src/config.js';
import { startDetector } from '../src/processor.js';

const mode = process.argv[2];
const cfg = loadDetectorConfig();
// Logs go to stderr: stdout carries the progress lines.
const logger = createLogger(`bench-${mode}`, 'warn', 2);

/** Peak resident set (VmHWM) in MiB, from the kernel. */
function peakMiB(): number {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return Math.round(Number(line?.replace(/\D/g, '') ?? 0) / 1024);
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
    `${JSON.stringify({ progress: true, t: Date.now(), consumed, cpuMs: cpuMs(), peakMiB: peakMiB(), first, ...extra })}\n`,
  );
}

process.once('SIGTERM', () => process.exit(0));

if (mode === 'detector') {
  const d = await startDetector(cfg, logger);
  report(0, { ready: true, meters: d.topology.size });
  const watchFirst = setInterval(() => {
    sawFirst(d.stats.consumed);
    if (first) clearInterval(watchFirst);
  }, 2);
  setInterval(() => report(d.stats.consumed, { released: d.stats.released, stats: d.stats }), 50);
} else {
  const topics = topicNames(cfg.AMI_TOPIC_PREFIX);
  const codec = new AvroCodec(createRegistry(cfg));
  const consumer = createKafka(cfg, logger).consumer({
    groupId: `${cfg.DETECTOR_GROUP_ID}.passthrough`,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  let consumed = 0;
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.reads, topics.events], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const name = batch.topic === topics.events ? 'MeterEvent' : 'MeterRead';
      for (const m of batch.messages) {
        if (!codec.decodeCached(name, m.value!)) await codec.decode(name, m.value!);
        consumed++;
        sawFirst(consumed);
      }
    },
  });
  report(0, { ready: true });
  setInterval(() => report(consumed), 50);
}
