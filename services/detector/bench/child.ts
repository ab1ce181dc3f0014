/**
 * The process measured by the benchmark: `detector` (the real processor) or
 * `passthrough` (a consumer of the same topics that only decodes: the
 * baseline). Prints one JSON line of progress every 200 ms.
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

function report(consumed: number, extra: object = {}): void {
  process.stdout.write(
    `${JSON.stringify({ progress: true, t: Date.now(), consumed, peakMiB: peakMiB(), ...extra })}\n`,
  );
}

if (mode === 'detector') {
  const d = await startDetector(cfg, logger);
  report(0, { ready: true, meters: d.topology.size });
  setInterval(() => report(d.stats.consumed, { stats: d.stats }), 200);
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
      }
    },
  });
  report(0, { ready: true });
  setInterval(() => report(consumed), 200);
}
