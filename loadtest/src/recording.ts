import {
  createReadStream,
  createWriteStream,
  existsSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { once } from 'node:events';
import { deflateRaw, inflateRaw, constants as zlibConstants } from 'node:zlib';
import avro from 'avsc';
import type { Kafka } from 'kafkajs';
import {
  AvroCodec,
  schemaText,
  serviceGroupId,
  topicNames,
  type MeterEvent,
  type MeterRead,
  type RecordName,
} from '@ami/lib';
import type { Fleet, FleetOptions } from '@ami/simulator/fleet';
import { TruthWriter, type TruthSink } from '@ami/simulator/groundTruth';
import type { Scenario } from '@ami/simulator/scenario';
import { Simulation } from '@ami/simulator/simulation';

/**
 * Recorded meter traffic: one Avro object container file whose records are
 * deliveries `{at, reads[], events[]}` in delivery order. `at` is the delivery
 * time (simulated time for simulator recordings, the Kafka timestamp for
 * recordings taken from a topic), so a replay can pace the traffic at N× real
 * time and keeps the interleaving of reads and events. The reads and events
 * are the contract records, untouched (event time is never rewritten).
 *
 * Blocks are deflated at level 1 (fast; meter traffic compresses ~5×). A
 * sidecar `<file>.json` holds the manifest (what was recorded, counts).
 */

export interface Delivery {
  at: number;
  reads: MeterRead[];
  events: MeterEvent[];
}

export interface RecordingMeta {
  format: 'ami-loadtest-recording/1';
  source: 'simulator' | 'kafka';
  /** What `at` means: sim delivery time or the Kafka message timestamp. */
  clock: 'sim' | 'kafka-timestamp';
  scenario?: string;
  meters?: number;
  seed?: number;
  regions?: string[];
  /** Simulator recordings: the fleet's options, so a replay publishes the same topology. */
  fleet?: FleetOptions;
  startMs: number;
  endMs: number;
  intervalS?: number;
  /** Kafka-sourced recordings: the topic prefix they came from. */
  topicPrefix?: string;
}

export interface Manifest extends RecordingMeta {
  reads: number;
  events: number;
  lastGasps: number;
  deliveries: number;
  bytes: number;
  /** Bytes of the contract records (Avro binary, before framing and compression). */
  avroBytes: number;
  /** Ground truth JSONL next to the recording (simulator recordings). */
  truthFile?: string;
  recordedInMs: number;
  createdAt: string;
}

/** Named types may be defined only once per schema: later definitions become references. */
function dedupeNamedTypes(schema: unknown, seen: Set<string>, namespace = ''): unknown {
  if (Array.isArray(schema)) return schema.map((s) => dedupeNamedTypes(s, seen, namespace));
  if (schema === null || typeof schema !== 'object') return schema;
  const s = schema as Record<string, unknown>;
  const named = s.type === 'record' || s.type === 'enum' || s.type === 'fixed' || s.type === 'error';
  let ns = namespace;
  if (named) {
    const name = String(s.name);
    ns = name.includes('.')
      ? name.slice(0, name.lastIndexOf('.'))
      : typeof s.namespace === 'string'
        ? s.namespace
        : namespace;
    const full = name.includes('.') ? name : ns ? `${ns}.${name}` : name;
    if (seen.has(full)) return full;
    seen.add(full);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'fields' && Array.isArray(v)) {
      out.fields = v.map((f: Record<string, unknown>) => ({
        ...f,
        type: dedupeNamedTypes(f.type, seen, ns),
      }));
    } else if (k === 'items' || k === 'values' || (k === 'type' && typeof v === 'object')) {
      out[k] = dedupeNamedTypes(v, seen, ns);
    } else out[k] = v;
  }
  return out;
}

function recordSchema(name: RecordName): unknown {
  return JSON.parse(schemaText(name));
}

/** The container's record schema, built from the contract schemas in `schemas/`. */
export function deliverySchema(): avro.Schema {
  const seen = new Set<string>();
  return {
    type: 'record',
    name: 'Delivery',
    namespace: 'id.co.pln.ami.loadtest',
    doc: 'Meter traffic delivered at `at` (ms): reads and events in delivery order.',
    fields: [
      { name: 'at', type: 'long' },
      { name: 'reads', type: { type: 'array', items: dedupeNamedTypes(recordSchema('MeterRead'), seen) } },
      { name: 'events', type: { type: 'array', items: dedupeNamedTypes(recordSchema('MeterEvent'), seen) } },
    ],
  } as avro.Schema;
}

let deliveryTypeCache: avro.Type | undefined;
export function deliveryType(): avro.Type {
  deliveryTypeCache ??= avro.Type.forSchema(deliverySchema());
  return deliveryTypeCache;
}

const META_KEY = 'ami.loadtest';

/** Fast deflate (level 1): the recording is written once, read a few times, and must not slow the generator. */
const codecs = {
  deflate: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) =>
    deflateRaw(buf, { level: 1, strategy: zlibConstants.Z_DEFAULT_STRATEGY }, cb),
};
const decodecs = {
  deflate: (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void) => inflateRaw(buf, cb),
};

/** Appends deliveries to a container file; `close()` writes the manifest. */
export class RecordingWriter {
  private readonly encoder: avro.streams.BlockEncoder;
  private readonly file: ReturnType<typeof createWriteStream>;
  private readonly t0 = Date.now();
  readonly counts = { reads: 0, events: 0, lastGasps: 0, deliveries: 0, avroBytes: 0 };
  private readonly readType = avro.Type.forSchema(recordSchema('MeterRead') as avro.Schema);

  constructor(
    readonly path: string,
    readonly meta: RecordingMeta,
  ) {
    this.encoder = new avro.streams.BlockEncoder(deliveryType(), {
      codec: 'deflate',
      codecs,
      blockSize: 1 << 20,
      metadata: { [META_KEY]: Buffer.from(JSON.stringify(meta)) },
    } as Partial<avro.EncoderOptions>);
    this.file = createWriteStream(path);
    this.encoder.pipe(this.file);
  }

  /** Write one delivery; resolves when the encoder accepts more (back-pressure). */
  async write(d: Delivery): Promise<void> {
    if (d.reads.length === 0 && d.events.length === 0) return;
    this.counts.deliveries++;
    this.counts.reads += d.reads.length;
    this.counts.events += d.events.length;
    for (const e of d.events) if (e.type === 'LAST_GASP') this.counts.lastGasps++;
    if (this.counts.deliveries <= 4 && d.reads.length > 0) {
      // Size of the contract records, sampled (the manifest's avroBytes is an estimate from the first deliveries).
      this.sampleBytes =
        d.reads.slice(0, 200).reduce((s, r) => s + this.readType.toBuffer(r).length, 0) /
        Math.min(200, d.reads.length);
    }
    if (!this.encoder.write(d)) await once(this.encoder, 'drain');
  }

  private sampleBytes = 0;

  async close(extra: Partial<Manifest> = {}): Promise<Manifest> {
    this.encoder.end();
    await once(this.file, 'close');
    const manifest: Manifest = {
      ...this.meta,
      ...this.counts,
      avroBytes: Math.round(this.sampleBytes * this.counts.reads),
      bytes: statSync(this.path).size,
      recordedInMs: Date.now() - this.t0,
      createdAt: new Date().toISOString(),
      ...extra,
    };
    writeFileSync(manifestPath(this.path), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  }
}

export function manifestPath(recording: string): string {
  return `${recording}.json`;
}

export function truthPath(recording: string): string {
  return `${recording}.truth.jsonl`;
}

export function readManifest(recording: string): Manifest {
  return JSON.parse(readFileSync(manifestPath(recording), 'utf8')) as Manifest;
}

export function recordingExists(recording: string): boolean {
  return existsSync(recording) && existsSync(manifestPath(recording));
}

/** Streams the deliveries of a recording, in order. */
export async function* readRecording(path: string): AsyncGenerator<Delivery> {
  const decoder = new avro.streams.BlockDecoder({ codecs: decodecs } as Partial<avro.DecoderOptions>);
  const src = createReadStream(path, { highWaterMark: 1 << 20 });
  src.on('error', (err) => decoder.destroy(err));
  src.pipe(decoder);
  for await (const d of decoder) yield d as Delivery;
}

/** Reads only the header metadata of a recording. */
export async function readRecordingMeta(path: string): Promise<RecordingMeta> {
  const decoder = new avro.streams.BlockDecoder({ codecs: decodecs } as Partial<avro.DecoderOptions>);
  const src = createReadStream(path);
  src.pipe(decoder);
  const [, , header] = (await once(decoder, 'metadata')) as [
    unknown,
    unknown,
    { meta: Record<string, Buffer> },
  ];
  src.destroy();
  decoder.destroy();
  return JSON.parse(header.meta[META_KEY]!.toString('utf8')) as RecordingMeta;
}

export interface SimulationRecordingOptions {
  path: string;
  fleet: Fleet;
  scenario: Scenario;
  startMs: number;
  durationMs: number;
  /** Records per delivery (upper bound for reads); the simulator's batch size. */
  batchSize?: number;
  onProgress?: (simT: number, counts: RecordingWriter['counts']) => void;
}

/** Runs the simulator (pure, as fast as it goes) into a recording, with its ground truth next to it. */
export async function recordSimulation(o: SimulationRecordingOptions): Promise<Manifest> {
  const truth = new TruthWriter(truthPath(o.path));
  const writer = new RecordingWriter(o.path, {
    format: 'ami-loadtest-recording/1',
    source: 'simulator',
    clock: 'sim',
    scenario: o.scenario.name,
    meters: o.fleet.size,
    seed: o.fleet.seed,
    regions: [...new Set(o.fleet.ulps.map((u) => u.region.code))],
    fleet: o.fleet.options,
    startMs: o.startMs,
    endMs: o.startMs + o.durationMs,
  });
  const sink: TruthSink = truth.sink;
  const sim = new Simulation({
    fleet: o.fleet,
    scenario: o.scenario,
    startMs: o.startMs,
    durationMs: o.durationMs,
    batchSize: o.batchSize ?? 20_000,
    truth: sink,
  });
  writer.meta.intervalS = sim.intervalMs / 1000;
  let n = 0;
  try {
    for (const batch of sim.run()) {
      await writer.write(batch);
      if (o.onProgress && ++n % 20 === 0) o.onProgress(batch.at, writer.counts);
    }
  } finally {
    await truth.close();
  }
  return writer.close({ truthFile: truthPath(o.path), intervalS: sim.intervalMs / 1000 });
}

export interface KafkaRecordingOptions {
  path: string;
  kafka: Kafka;
  codec: AvroCodec;
  /** Topic prefix to record reads and events from. */
  prefix: string;
  /** Stop after this many records (reads + events), or when caught up with the end offsets seen at start. */
  maxRecords?: number;
  /** Give up after this long (wall clock). */
  timeoutMs?: number;
}

/**
 * Records `<prefix>.reads` and `<prefix>.events` from the beginning up to the
 * end offsets seen at start (bounded). One delivery per fetched batch of one
 * partition, `at` = its last message timestamp (so `at` is only roughly
 * monotonic across topics; the replay never waits backwards).
 */
export async function recordFromKafka(o: KafkaRecordingOptions): Promise<Manifest> {
  const names = topicNames(o.prefix);
  const topics = [names.reads, names.events];
  const admin = o.kafka.admin();
  await admin.connect();
  const end = new Map<string, bigint>();
  try {
    for (const t of topics) {
      for (const p of await admin.fetchTopicOffsets(t)) end.set(`${t}:${p.partition}`, BigInt(p.high));
    }
  } finally {
    await admin.disconnect();
  }
  const remaining = new Set([...end].filter(([, high]) => high > 0n).map(([k]) => k));
  const writer = new RecordingWriter(o.path, {
    format: 'ami-loadtest-recording/1',
    source: 'kafka',
    clock: 'kafka-timestamp',
    topicPrefix: o.prefix,
    startMs: Number.NaN,
    endMs: Number.NaN,
  });
  let minTs = Number.POSITIVE_INFINITY;
  let maxTs = 0;
  const consumer = o.kafka.consumer({
    groupId: `${serviceGroupId(o.prefix, 'loadtest-recorder')}-${Date.now().toString(36)}`,
    maxBytes: 32 << 20,
  });
  await consumer.connect();
  const deadline = Date.now() + (o.timeoutMs ?? 10 * 60_000);
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  let chain = Promise.resolve();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const key = `${batch.topic}:${batch.partition}`;
      const high = end.get(key) ?? 0n;
      const isReads = batch.topic === names.reads;
      const items: { ts: number; rec: MeterRead | MeterEvent }[] = [];
      for (const m of batch.messages) {
        if (BigInt(m.offset) >= high || m.value === null) continue;
        const rec = isReads
          ? await o.codec.decode('MeterRead', m.value)
          : await o.codec.decode('MeterEvent', m.value);
        items.push({ ts: Number(m.timestamp), rec });
      }
      if (BigInt(batch.lastOffset()) + 1n >= high) remaining.delete(key);
      chain = chain.then(async () => {
        if (items.length > 0) {
          const ts = items[items.length - 1]!.ts;
          minTs = Math.min(minTs, items[0]!.ts);
          maxTs = Math.max(maxTs, ts);
          await writer.write({
            at: ts,
            reads: isReads ? (items.map((i) => i.rec) as MeterRead[]) : [],
            events: isReads ? [] : (items.map((i) => i.rec) as MeterEvent[]),
          });
        }
      });
      await chain;
      const total = writer.counts.reads + writer.counts.events;
      if (
        remaining.size === 0 ||
        (o.maxRecords !== undefined && total >= o.maxRecords) ||
        Date.now() > deadline
      )
        done();
    },
  });
  if (remaining.size > 0) await finished;
  await consumer.disconnect();
  await chain;
  writer.meta.startMs = Number.isFinite(minTs) ? minTs : 0;
  writer.meta.endMs = maxTs;
  return writer.close({ startMs: writer.meta.startMs, endMs: maxTs });
}
