import type { ClickHouseClient } from '@clickhouse/client';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import {
  AvroCodec,
  ident,
  sql,
  SqlFragment,
  topicNames,
  type Logger,
  type Outage,
  type SuspectedOutage,
} from '@ami/lib';
import { machineCpu, sampleTrees, type ProcSample } from './procstat.js';
import type { Marker } from './replay.js';

/**
 * Measures a running load test once a second: produce rate (from the
 * replayer's counters), consumer lag per group (committed offsets vs high
 * watermarks), rows in ClickHouse, CPU and RSS per process tree, the machine's
 * busy share; and three latencies:
 * - read produce → row visible in ClickHouse, for marker reads polled by key;
 * - last gasp → outage record, by consuming `<prefix>.outages` (matched later
 *   against the replayer's first produce of each gardu's last gasps);
 * - evidence in Kafka → suspected outage, by consuming `<prefix>.suspected-outages`
 *   (the detector's own emitted_at - evidence_logged_at).
 */

export interface Sample {
  /** Wall ms. */
  t: number;
  produced: number;
  producedEvents: number;
  /** Reads in ClickHouse (raw count, before merges). */
  chRows: number;
  /** group name → lag (messages) over its topics. */
  lag: Record<string, number>;
  /** process name → CPU share of one core since the previous sample, RSS bytes. */
  cpu: Record<string, number>;
  rss: Record<string, number>;
  /** Machine busy share (0..cores) and the part of it not from our processes. */
  machineBusy: number;
  otherBusy: number;
}

export interface MarkerResult extends Marker {
  visibleAt?: number;
}

export interface OutageSeen {
  outage: Outage;
  /** Wall ms the record was consumed by the sampler. */
  receivedAt: number;
}

export interface SuspicionSeen {
  suspicion: SuspectedOutage;
  /** Wall ms the record was consumed by the sampler. */
  receivedAt: number;
}

export interface SamplerOptions {
  kafka: Kafka;
  codec: AvroCodec;
  ch: ClickHouseClient;
  db: string;
  prefix: string;
  /** Consumer groups whose lag to follow, by display name. */
  groups: Record<string, string>;
  /** Process trees to watch, by display name (pid of the root). */
  processes: () => Record<string, number | undefined>;
  /** Produce counters from the replayer. */
  produced: () => { reads: number; events: number };
  intervalMs?: number;
  markerPollMs?: number;
  /** Markers not visible after this long count as missing. */
  markerTimeoutMs?: number;
  logger?: Logger;
}

export class Sampler {
  readonly samples: Sample[] = [];
  readonly markers: MarkerResult[] = [];
  readonly outages: OutageSeen[] = [];
  /** Every suspected-outage record, in the order consumed (per outage_id: the order sent). */
  readonly suspicions: SuspicionSeen[] = [];
  readonly cores: number;
  private readonly pending = new Set<MarkerResult>();
  private admin?: Admin;
  private outageConsumer?: Consumer;
  private timer?: NodeJS.Timeout;
  private markerTimer?: NodeJS.Timeout;
  private lastProc: Record<string, ProcSample> = {};
  private lastMachine = machineCpu();
  private lastT = Date.now();
  private busy = false;
  private markerBusy = false;
  private readonly topics;
  errors = 0;

  constructor(
    private readonly o: SamplerOptions,
    cores: number,
  ) {
    this.cores = cores;
    this.topics = topicNames(o.prefix);
  }

  async start(): Promise<void> {
    this.admin = this.o.kafka.admin();
    await this.admin.connect();
    const consumer = this.o.kafka.consumer({
      groupId: `${this.o.prefix}-loadtest-outages`,
      maxWaitTimeInMs: 100,
    });
    this.outageConsumer = consumer;
    await consumer.connect();
    const { outages, suspectedOutages } = this.topics;
    await consumer.subscribe({ topics: [outages, suspectedOutages], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        if (!message.value) return;
        const receivedAt = Date.now();
        try {
          if (topic === suspectedOutages) {
            const suspicion = await this.o.codec.decode('SuspectedOutage', message.value);
            this.suspicions.push({ suspicion, receivedAt });
          } else {
            const outage = await this.o.codec.decode('Outage', message.value);
            this.outages.push({ outage, receivedAt });
          }
        } catch (err) {
          this.errors++;
          this.o.logger?.warn({ err, topic }, 'undecodable outage record');
        }
      },
    });
    this.lastProc = sampleTrees(this.o.processes());
    this.lastMachine = machineCpu();
    this.lastT = Date.now();
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs ?? 1000);
    this.markerTimer = setInterval(() => void this.pollMarkers(), this.o.markerPollMs ?? 250);
  }

  /** A marker read was acknowledged by Kafka: poll ClickHouse until it shows. */
  addMarker(m: Marker): void {
    const r: MarkerResult = { ...m };
    this.markers.push(r);
    this.pending.add(r);
  }

  get pendingMarkers(): number {
    return this.pending.size;
  }

  latest(): Sample | undefined {
    return this.samples[this.samples.length - 1];
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const t = Date.now();
      const dt = Math.max(1, t - this.lastT) / 1000;
      const procs = sampleTrees(this.o.processes());
      const machine = machineCpu();
      const cpu: Record<string, number> = {};
      const rss: Record<string, number> = {};
      let ours = 0;
      for (const [name, s] of Object.entries(procs)) {
        const prev = this.lastProc[name];
        const share = s.alive && prev?.alive ? Math.max(0, s.cpuS - prev.cpuS) / dt : 0;
        cpu[name] = share;
        rss[name] = s.rssBytes;
        ours += share;
      }
      const machineBusy = Math.max(0, machine.busyS - this.lastMachine.busyS) / dt;
      this.lastProc = procs;
      this.lastMachine = machine;
      this.lastT = t;
      const [lag, chRows] = await Promise.all([this.lags(), this.chRows()]);
      const produced = this.o.produced();
      this.samples.push({
        t,
        produced: produced.reads,
        producedEvents: produced.events,
        chRows,
        lag,
        cpu,
        rss,
        machineBusy,
        otherBusy: Math.max(0, machineBusy - ours),
      });
    } catch (err) {
      this.errors++;
      this.o.logger?.debug({ err }, 'sample failed');
    } finally {
      this.busy = false;
    }
  }

  /** Lag per group: high watermark minus committed offset (nothing committed: minus the low watermark). */
  async lags(): Promise<Record<string, number>> {
    const admin = this.admin!;
    // Traffic topics only: the topology topic is read as a table by some services.
    const topics = [this.topics.reads, this.topics.events];
    const highs = new Map<string, { high: number; low: number }>();
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic))
        highs.set(`${topic}:${p.partition}`, { high: Number(p.high), low: Number(p.low) });
    }
    const out: Record<string, number> = {};
    for (const [name, groupId] of Object.entries(this.o.groups)) {
      let lag = 0;
      for (const t of await admin.fetchOffsets({ groupId, topics })) {
        // A topic with no committed offset at all is not consumed by this group (e.g. a table read by assignment).
        if (t.partitions.every((p) => Number(p.offset) < 0)) continue;
        for (const p of t.partitions) {
          const h = highs.get(`${t.topic}:${p.partition}`);
          if (!h) continue;
          const committed = Number(p.offset);
          lag += Math.max(0, h.high - (committed >= 0 ? committed : h.low));
        }
      }
      out[name] = lag;
    }
    return out;
  }

  async chRows(): Promise<number> {
    const res = await this.o.ch.query({
      query: sql`SELECT count() AS n FROM ${ident(this.o.db)}.${ident('reads')}`,
      format: 'JSONEachRow',
    });
    return Number(((await res.json()) as { n: number }[])[0]?.n ?? 0);
  }

  private async pollMarkers(): Promise<void> {
    if (this.markerBusy || this.pending.size === 0) return;
    this.markerBusy = true;
    try {
      const now = Date.now();
      const timeout = this.o.markerTimeoutMs ?? 15 * 60_000;
      for (const m of this.pending) if (now - m.sentAt > timeout) this.pending.delete(m);
      const batch = [...this.pending].slice(0, 200);
      if (batch.length === 0) return;
      const tuples = new SqlFragment(
        batch.map((m) => sql`(${m.meter_id}, toDateTime(${Math.floor(m.read_at / 1000)}, 'UTC'))`).join(', '),
      );
      const res = await this.o.ch.query({
        query: sql`SELECT meter_id, toUInt32(read_at) AS s FROM ${ident(this.o.db)}.${ident('reads')} WHERE (meter_id, read_at) IN (${tuples})`,
        format: 'JSONEachRow',
      });
      const seen = new Set(
        ((await res.json()) as { meter_id: string; s: number }[]).map((r) => `${r.meter_id}\u0000${r.s}`),
      );
      const t = Date.now();
      for (const m of batch) {
        if (seen.has(`${m.meter_id}\u0000${Math.floor(m.read_at / 1000)}`)) {
          m.visibleAt = t;
          this.pending.delete(m);
        }
      }
    } catch (err) {
      this.errors++;
      this.o.logger?.debug({ err }, 'marker poll failed');
    } finally {
      this.markerBusy = false;
    }
  }

  /** Poll until no marker is pending or the deadline passes. */
  async drainMarkers(deadline: number): Promise<void> {
    while (this.pending.size > 0 && Date.now() < deadline) {
      await this.pollMarkers();
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.markerTimer) clearInterval(this.markerTimer);
    await this.outageConsumer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}

export interface DeadLetters {
  total: number;
  /** "service source-topic reason" → count. */
  byReason: Record<string, number>;
}

/** Counts what the services sent to `<prefix>.dlq`, by service, source topic and reason (bounded read). */
export async function deadLetters(kafka: Kafka, prefix: string, timeoutMs = 30_000): Promise<DeadLetters> {
  const topic = topicNames(prefix).dlq;
  const admin = kafka.admin();
  await admin.connect();
  const end = new Map<number, number>();
  try {
    if (!(await admin.listTopics()).includes(topic)) return { total: 0, byReason: {} };
    for (const p of await admin.fetchTopicOffsets(topic))
      if (Number(p.high) > Number(p.low)) end.set(p.partition, Number(p.high));
  } finally {
    await admin.disconnect();
  }
  const out: DeadLetters = { total: 0, byReason: {} };
  if (end.size === 0) return out;
  const consumer = kafka.consumer({
    groupId: `${prefix}-loadtest-dlq-${Date.now().toString(36)}`,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  const header = (h: Record<string, unknown> | undefined, ...names: string[]) => {
    for (const n of names) {
      const v = h?.[n];
      if (v !== undefined && v !== null) return Buffer.isBuffer(v) ? v.toString() : String(v);
    }
    return '?';
  };
  try {
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const high = end.get(batch.partition) ?? 0;
        for (const m of batch.messages) {
          if (Number(m.offset) >= high) continue;
          const h = m.headers as Record<string, unknown> | undefined;
          const source = header(h, 'ami.source.topic', 'topic').replace(`${prefix}.`, '');
          const key = `${header(h, 'ami.service')} ${source} ${header(h, 'ami.reason', 'reason')}`;
          out.byReason[key] = (out.byReason[key] ?? 0) + 1;
          out.total++;
        }
        if (Number(batch.lastOffset()) + 1 >= high) end.delete(batch.partition);
        if (end.size === 0) done();
      },
    });
    await Promise.race([finished, new Promise((r) => setTimeout(r, timeoutMs))]);
  } finally {
    await consumer.disconnect();
  }
  return out;
}
