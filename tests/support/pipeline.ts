import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Consumer, Kafka } from 'kafkajs';
import {
  AvroCodec,
  avroType,
  createClickHouse,
  createKafka,
  createRegistry,
  loadCommonConfig,
  sqlIdent,
  topicNames,
  type CommonConfig,
  type Outage,
  type RunningChild,
  type Topics,
} from '@ami/lib';
import { Publisher } from '@ami/simulator/publisher';
import { fleetFor, runSimulation, startFor } from '@ami/simulator/run';
import { loadScenario, parseDuration } from '@ami/simulator/scenario';
import { collectTruth, type TruthLine } from '@ami/simulator/groundTruth';
import { parseSpeed } from '@ami/simulator/clock';
import type { Fleet } from '@ami/simulator/fleet';
import { migrate } from '@ami/loader/migrate';
import { checkOutages, latestOutages, type OutageCheck } from '@ami/loadtest/correctness';
import { startAmi } from '@ami/cli/children';
import { createLogger } from '@ami/lib';
import { expect } from 'vitest';
import { eventually, uniqueName } from './fixtures.js';

/** The test's own clients: broker restarts are expected here, their connection errors are noise. */
const testLogger = createLogger('faults-test', 'fatal');

/** `ami <args>` as its own node process (SIGKILL kills the service itself), its output to a log file. */
export class ServiceProcess {
  private running: RunningChild;
  /** Times the supervisor started it again after it exited on its own (e.g. the detector after a failed transaction). */
  restarts = 0;
  private stopping = false;
  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
    readonly logFile: string,
    /** Act as the supervisor (systemd Restart=always): start it again 1 s after it exits by itself. */
    private readonly supervise = false,
  ) {
    this.running = this.start();
  }

  private start(): RunningChild {
    const running = startAmi(this.name, this.args, {
      env: { ...process.env, ...this.env },
      logFile: this.logFile,
    });
    if (this.supervise)
      void running.exited.then(() => {
        if (this.stopping) return;
        setTimeout(() => {
          if (this.stopping || this.alive) return;
          this.restarts++;
          this.running = this.start();
        }, 1000);
      });
    return running;
  }

  get child(): ChildProcess {
    return this.running.process;
  }

  /** Resolves with the exit code of the process running now. */
  get exitCode(): Promise<number | null> {
    return this.running.exited;
  }

  get alive(): boolean {
    return this.running.alive;
  }

  /** Kill it (the supervisor does not start it again: call restart()). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.stopping = true;
    if (!this.alive) return;
    await this.running.stop(signal);
  }

  restart(): void {
    if (this.alive) throw new Error(`${this.name} is still running`);
    this.stopping = false;
    this.running = this.start();
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}

export interface Produced {
  reads: number;
  distinctReads: number;
  keys: Set<string>;
  events: number;
  truth: TruthLine[];
  fleet: Fleet;
  rangeEnd: number;
}

export interface Figures {
  producedReads: number;
  producedDistinct: number;
  chRows: number;
  chFinal: number;
  chDistinct: number;
  outageRecords: number;
  outageIds: number;
  doubledTransitions: number;
  expectedOutages: number;
  matchedOutages: number;
  missingOutages: number;
  unexpectedOutages: number;
  chOutageIds: number;
  /** Times the supervisor restarted a service that exited by itself. */
  detectorRestarts: number;
  loaderRestarts: number;
}

/**
 * One pipeline (loader + detector processes, a simulator in this process) on
 * a fresh topic prefix and database, with the end-of-run comparison
 * "nothing lost, nothing doubled".
 */
export class Pipeline {
  readonly prefix = uniqueName('f');
  readonly db = uniqueName('ami_f');
  readonly topics: Topics;
  readonly cfg: CommonConfig;
  readonly ch: ClickHouseClient;
  readonly kafka: Kafka;
  loader?: ServiceProcess;
  detector?: ServiceProcess;
  publisher?: Publisher;
  private outageConsumer?: Consumer;
  readonly outageRecords: Outage[] = [];
  private readonly outageOffsets = new Set<string>();
  readonly serviceEnv: Record<string, string>;

  constructor(
    stackEnv: Record<string, string>,
    private readonly logDir: string,
    /** Per-service settings over `stackEnv`, e.g. each one's Kafka user on a secured cluster. */
    private readonly roleEnv: Partial<
      Record<'simulator' | 'detector' | 'loader', Record<string, string>>
    > = {},
  ) {
    this.cfg = loadCommonConfig({
      ...stackEnv,
      AMI_TOPIC_PREFIX: this.prefix,
      CLICKHOUSE_DB: this.db,
      LOG_LEVEL: 'warn',
    });
    this.topics = topicNames(this.prefix);
    this.ch = createClickHouse(this.cfg);
    this.kafka = createKafka(this.cfg, testLogger, 'faults-test');
    this.serviceEnv = {
      ...stackEnv,
      AMI_TOPIC_PREFIX: this.prefix,
      CLICKHOUSE_DB: this.db,
      LOG_LEVEL: 'warn',
      LOADER_GROUP_ID: `${this.prefix}-loader`,
      LOADER_BILLING_REFRESH_S: '0',
      LOADER_SESSION_TIMEOUT_MS: '10000',
      LOADER_RETRY_MAX_MS: '2000',
      LOADER_FLUSH_MS: '500',
      DETECTOR_GROUP_ID: `${this.prefix}-detector`,
      DETECTOR_INSTANCE_ID: 'i1',
      DETECTOR_PARTITIONS: '3',
      // A max-speed replay on a starved 2-core machine can stall one partition's producer for seconds;
      // a partition counts as idle (no longer holding the watermark) only after 10 s of quiet.
      IDLE_ADVANCE_MS: '10000',
      SIM_PARTITIONS: '3',
    };
  }

  /** Topics, schemas, database; then the services. */
  async start(
    services: { loader?: boolean; detector?: boolean } = { loader: true, detector: true },
  ): Promise<void> {
    // CLICKHOUSE_CLUSTER in the stack's settings: the database is created on that cluster.
    await migrate(this.ch, this.db, testLogger, { cluster: this.serviceEnv.CLICKHOUSE_CLUSTER });
    const simCfg = this.roleEnv.simulator
      ? loadCommonConfig({ ...this.serviceEnv, ...this.roleEnv.simulator })
      : this.cfg;
    this.publisher = new Publisher(
      createKafka(simCfg, testLogger, 'faults-sim'),
      simCfg,
      new AvroCodec(createRegistry(this.cfg)),
      3,
    );
    await this.publisher.start();
    if (services.detector)
      this.detector = this.spawn('detector', ['detector', 'run'], this.roleEnv.detector, true);
    if (services.loader) this.loader = this.spawn('loader', ['loader', 'run'], this.roleEnv.loader, true);
    await this.followOutages();
  }

  spawn(name: string, args: string[], env: Record<string, string> = {}, supervise = false): ServiceProcess {
    return new ServiceProcess(
      name,
      args,
      { ...this.serviceEnv, ...env },
      join(this.logDir, `${this.prefix}-${name}.log`),
      supervise,
    );
  }

  /** Reads the committed outages (read_committed) with the local schema: no registry needed. */
  private async followOutages(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    await admin
      .createTopics({
        topics: [
          {
            topic: this.topics.outages,
            numPartitions: 3,
            configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
          },
        ],
      })
      .catch(() => undefined);
    await admin.disconnect();
    const type = avroType('Outage');
    this.outageConsumer = this.kafka.consumer({
      groupId: uniqueName('faults-outages'),
      readUncommitted: false,
    });
    await this.outageConsumer.connect();
    await this.outageConsumer.subscribe({ topic: this.topics.outages, fromBeginning: true });
    await this.outageConsumer.run({
      eachMessage: async ({ partition, message }) => {
        // This follower re-reads what it had not committed when its group coordinator moves (a
        // broker failover): a record seen again at the same offset is not the detector's doing.
        const at = `${partition}:${message.offset}`;
        if (this.outageOffsets.has(at)) return;
        this.outageOffsets.add(at);
        if (message.value) this.outageRecords.push(type.fromBuffer(message.value.subarray(5)) as Outage);
      },
    });
  }

  /**
   * Publishes a scenario (ground truth in memory). `during(sentReads)` is
   * called after each batch, so a test can inject its fault mid-replay.
   */
  async replay(
    o: { scenario?: string; meters?: number; speed?: string; duration?: string; start?: string },
    during?: (sentReads: number) => Promise<void> | void,
  ): Promise<Produced> {
    const scenario = loadScenario(o.scenario ?? 'gardu-outage');
    const fleet = fleetFor(scenario, { meters: o.meters ?? 300 });
    await this.publisher!.publishFleet(fleet);
    const truth = collectTruth();
    const keys = new Set<string>();
    let reads = 0;
    let events = 0;
    const startMs = startFor(scenario, o.start);
    const durationMs = o.duration ? parseDuration(o.duration) : undefined;
    await runSimulation(
      {
        fleet,
        scenario,
        startMs,
        durationMs,
        speed: parseSpeed(o.speed ?? 'max'),
        truth: truth.sink,
        batchSize: 2000,
      },
      async (b) => {
        await this.publisher!.publishBatch(b);
        for (const r of b.reads) keys.add(`${r.meter_id}\u0000${r.read_at}`);
        reads += b.reads.length;
        events += b.events.length;
        await during?.(reads);
      },
    );
    const summary = truth.lines.find((l) => l.kind === 'summary');
    const rangeEnd =
      summary && 'end' in summary
        ? summary.end
        : startMs + (durationMs ?? parseDuration(scenario.duration ?? '6h'));
    return { reads, distinctReads: keys.size, keys, events, truth: truth.lines, fleet, rangeEnd };
  }

  /** Two replays of one fleet as one production (union of reads, both truths). */
  static merge(a: Produced, b: Produced): Produced {
    const keys = new Set([...a.keys, ...b.keys]);
    return {
      reads: a.reads + b.reads,
      distinctReads: keys.size,
      keys,
      events: a.events + b.events,
      truth: [...a.truth.filter((l) => l.kind !== 'summary'), ...b.truth],
      fleet: b.fleet,
      rangeEnd: Math.max(a.rangeEnd, b.rangeEnd),
    };
  }

  async chReads(): Promise<{ rows: number; final: number; distinct: number }> {
    const t = `${sqlIdent(this.db)}.reads`;
    const q = async (query: string) =>
      (
        (await (await this.ch.query({ query, format: 'JSONEachRow' })).json()) as Record<string, string>[]
      )[0]!;
    const raw = await q(`SELECT count() AS n FROM ${t}`);
    const fin = await q(`SELECT count() AS n, uniqExact(meter_id, read_at) AS u FROM ${t} FINAL`);
    return { rows: Number(raw.n), final: Number(fin.n), distinct: Number(fin.u) };
  }

  async chOutageIds(): Promise<number> {
    const rs = await this.ch.query({
      query: `SELECT uniqExact(outage_id) AS n FROM ${sqlIdent(this.db)}.outages`,
      format: 'JSONEachRow',
    });
    return Number(((await rs.json()) as { n: string }[])[0]!.n);
  }

  /** outage_id → latest status, as loaded into ClickHouse. */
  async chOutageStatuses(): Promise<Map<string, string>> {
    const rs = await this.ch.query({
      query: `SELECT outage_id, status FROM ${sqlIdent(this.db)}.outages_latest`,
      format: 'JSONEachRow',
    });
    return new Map(
      (await rs.json<{ outage_id: string; status: string }>()).map((r) => [r.outage_id, r.status]),
    );
  }

  outageCheck(p: Produced): OutageCheck {
    return checkOutages(p.truth, p.fleet, latestOutages(this.outageRecords), p.rangeEnd);
  }

  /** Status transitions published twice for one outage (OPEN twice, RESTORED twice): a doubled output. */
  doubledTransitions(): number {
    const seen = new Set<string>();
    let doubled = 0;
    for (const o of this.outageRecords) {
      if (o.status === 'UPDATED') continue;
      const k = `${o.outage_id}\u0000${o.status}`;
      if (seen.has(k)) doubled++;
      seen.add(k);
    }
    return doubled;
  }

  async figures(p: Produced): Promise<Figures> {
    const r = await this.chReads();
    const c = this.outageCheck(p);
    return {
      producedReads: p.reads,
      producedDistinct: p.distinctReads,
      chRows: r.rows,
      chFinal: r.final,
      chDistinct: r.distinct,
      outageRecords: this.outageRecords.length,
      outageIds: new Set(this.outageRecords.map((o) => o.outage_id)).size,
      doubledTransitions: this.doubledTransitions(),
      expectedOutages: c.expected,
      matchedOutages: c.matched,
      missingOutages: c.missing.length,
      unexpectedOutages: c.unexpected.length,
      chOutageIds: await this.chOutageIds(),
      detectorRestarts: this.detector?.restarts ?? 0,
      loaderRestarts: this.loader?.restarts ?? 0,
    };
  }

  async stop(): Promise<void> {
    await Promise.all([this.loader?.kill('SIGKILL'), this.detector?.kill('SIGKILL')]);
    await this.outageConsumer?.disconnect().catch(() => undefined);
    await this.publisher?.stop().catch(() => undefined);
    await this.ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(this.db)}` }).catch(() => undefined);
    await this.ch.close();
  }
}

/** Waits until every distinct read is in ClickHouse and the ground-truth outages are detected and restored. */
export async function settled(p: Pipeline, produced: Produced, timeoutMs = 90_000): Promise<void> {
  await eventually(async () => ((await p.chReads()).distinct >= produced.distinctReads ? true : undefined), {
    timeoutMs,
    intervalMs: 500,
    what: `all ${produced.distinctReads} reads in ClickHouse`,
  });
  await eventually(
    () => {
      const c = p.outageCheck(produced);
      if (c.missing.length === 0 && c.wrong.length === 0) return true;
      throw new Error(
        `missing ${JSON.stringify(c.missing.map((m) => m.expected))}, wrong ${JSON.stringify(c.wrong.map((m) => m.problems))}; records ${JSON.stringify(p.outageRecords.map((o) => [o.outage_id, o.status, o.started_at, o.restored_at]))}`,
      );
    },
    { timeoutMs, intervalMs: 500, what: 'every ground-truth outage detected and restored' },
  );
  // The loader has the latest outage records too: each outage in its latest status (an id alone
  // is not enough: the OPEN may be loaded while the RESTORED is still on its way).
  await eventually(
    async () => {
      const loaded = await p.chOutageStatuses();
      const behind = latestOutages(p.outageRecords).filter((o) => loaded.get(o.outage_id) !== o.status);
      if (behind.length === 0) return true;
      throw new Error(`${behind.length} outages not in their latest status, e.g. ${behind[0]!.outage_id}`);
    },
    { timeoutMs, what: 'outages in ClickHouse in their latest status' },
  );
}

export function nothingLostNothingDoubled(f: Figures): void {
  expect(f.producedDistinct).toBeGreaterThan(0);
  expect(f.chDistinct).toBe(f.producedDistinct); // nothing lost, nothing invented
  expect(f.chFinal).toBe(f.chDistinct); // no (meter_id, read_at) twice after dedup
  expect(f.expectedOutages).toBeGreaterThan(0);
  expect(f.missingOutages).toBe(0);
  expect(f.unexpectedOutages).toBe(0);
  expect(f.doubledTransitions).toBe(0); // no OPEN or RESTORED published twice
  expect(f.chOutageIds).toBe(f.outageIds);
}
