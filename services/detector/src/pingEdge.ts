import type { Consumer, Kafka } from 'kafkajs';
import {
  exitOnCrash,
  isRetriable,
  valueSubject,
  type AvroCodec,
  type CommandResult,
  type Logger,
  type MeterCommand,
  type ServiceMetrics,
  type SuspectedOutage,
  type Topics,
} from '@ami/lib';
import type { DetectorConfig } from './config.js';
import type { Out } from './output.js';
import { PingVerifier, readResult, type PingDirectory, type PingProgress } from './pings.js';
import { recordPingSilence, RestorationWatch, type RestorationPlan, type SilentPing } from './restoration.js';
import type { DetectorState, Input } from './rules.js';
import type { NestedSuspect, PingOutcome } from './suspicion.js';
import type { MeterInfo, Topology } from './topology.js';

/** What of a suspicion record the pings need (the edge stamps emitted_at later). */
export type SuspicionView = Pick<
  SuspectedOutage,
  'outage_id' | 'scope' | 'status' | 'gardu_id' | 'meter_ids' | 'started_at'
>;

/** What changed in one suspicion's pings since the last step, as `applyPings` (suspicion.ts) takes it. */
export interface PingUpdate {
  outageId: string;
  garduId: string | null;
  /** Pings sent since the last update. */
  sent: number;
  /** Meters that answered powered or stayed silent since the last update. */
  outcomes: PingOutcome[];
  /** The verifier's verdict, in the update that first carries it. */
  verdict: PingProgress['verdict'];
}

/** Wall ms between ping rounds while suspicions are being verified (results are taken at once). */
const ROUND_MS = 500;

/**
 * The Kafka edge of ping verification: READ_NOW commands go to `<prefix>.pings`, never to
 * `<prefix>.commands` (where DISCONNECT travels: the detector's principal may not write it, and the
 * head-end refuses anything but READ_NOW on pings), in the step's transaction (the
 * detector's one producer path: a command is visible to the head-end only if the step that decided
 * it committed), the head-end's results are followed on `<prefix>.command-results` (every
 * partition, in a group of this instance; results of commands it did not send are ignored) and
 * handed to the pure verifier (pings.ts) at the next step, under the edge's lock.
 */
export class PingEdge {
  readonly verifier: PingVerifier;
  /** Restored gardu outages waiting for their restoration pings (restoration.ts). */
  readonly restorations: RestorationWatch;
  private results: CommandResult[] = [];
  private lastRound = 0;
  private consumer?: Consumer;
  /** What the suspicion records already show, per outage (the hook counts increments). */
  private readonly sentShown = new Map<string, number>();
  private readonly verdictShown = new Set<string>();
  /** Restoration pings under way, by verifier key. */
  private readonly plans = new Map<string, RestorationPlan>();
  /** Statistics for operators and tests. */
  readonly stats = {
    sent: 0,
    results: 0,
    ignored: 0,
    undecodable: 0,
    /** Restoration pings planned; their silent results recorded as evidence (late: counted from the watermark). */
    restorationPings: 0,
    silencesRecorded: 0,
    silencesLate: 0,
  };

  private constructor(
    private readonly topics: Topics,
    private readonly encode: (c: MeterCommand) => Buffer,
    private readonly logger: Logger,
    private readonly metrics: ServiceMetrics,
    cfg: DetectorConfig,
    topo: Topology,
  ) {
    this.verifier = new PingVerifier(cfg, directoryOf(topo), Date.now());
    this.restorations = new RestorationWatch({ cfg, topo }, cfg);
  }

  /** Null when DETECTOR_PINGS is off. The topics exist already (the detector ensures every topic). */
  static async start(
    cfg: DetectorConfig,
    kafka: Kafka,
    codec: AvroCodec,
    topics: Topics,
    topo: Topology,
    logger: Logger,
    metrics: ServiceMetrics,
    exit: (code: number) => void,
  ): Promise<PingEdge | null> {
    if (!cfg.DETECTOR_PINGS) return null;
    const encode = codec.encoder(
      'MeterCommand',
      await codec.register('MeterCommand', valueSubject(topics.pings)),
    );
    const edge = new PingEdge(topics, encode, logger, metrics, cfg, topo);
    await edge.follow(kafka, codec, `${cfg.DETECTOR_GROUP_ID}-pings-${cfg.DETECTOR_INSTANCE_ID}`, exit);
    return edge;
  }

  private async follow(
    kafka: Kafka,
    codec: AvroCodec,
    groupId: string,
    exit: (code: number) => void,
  ): Promise<void> {
    const c = kafka.consumer({ groupId });
    this.consumer = c;
    exitOnCrash(c, this.logger, exit);
    await c.connect();
    // From the beginning for a new group: a result published before the group's first fetch is not
    // missed. Later starts resume at the committed offsets; what is old is not ours and is ignored.
    await c.subscribe({ topic: this.topics.commandResults, fromBeginning: true });
    await c.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (m.value === null) continue;
          try {
            this.results.push(await codec.decode('CommandResult', m.value));
          } catch (err) {
            if (isRetriable(err)) throw err;
            // Not the detector's topic to dead-letter (the head-end writes it): counted and logged.
            this.stats.undecodable++;
            this.logger.warn(
              { err, partition: batch.partition, offset: m.offset },
              'undecodable command result skipped',
            );
          }
        }
      },
    });
  }

  /**
   * The suspicion records of a step: open or update the pings of those still suspected (the
   * verifier decides whether the evidence needs them), forget those the rule settled.
   */
  observe(records: readonly SuspicionView[], now: number): void {
    for (const r of records) {
      if (r.status === 'CANCELLED') {
        this.verifier.stop(r.outage_id);
        continue;
      }
      if (r.status === 'CONFIRMED') {
        this.verifier.close(r.outage_id);
        continue;
      }
      if (r.scope === 'FEEDER') continue;
      this.verifier.suspect(
        {
          outageId: r.outage_id,
          scope: r.scope,
          garduId: r.gardu_id,
          gasping: r.meter_ids,
          startedAt: r.started_at,
        },
        now,
      );
    }
  }

  /** An input as it arrives (before the watermark): a sign of supply may start a restoration watch. */
  arrived(rules: DetectorState, input: Input, info: MeterInfo, now: number): void {
    this.restorations.onArrival(rules, input, info.garduId, info.meterId, now);
  }

  /** Restoration pings for gardu outages whose supply came back (sent by the next `take`). */
  restore(rules: DetectorState, now: number): void {
    for (const plan of this.restorations.due(rules, now)) {
      this.verifier.restore(plan.key, plan.garduId, plan.meters, now);
      this.plans.set(plan.key, plan);
      this.stats.restorationPings += plan.meters.length;
      if (plan.unpinged > 0)
        this.logger.info(
          { outage: plan.outageId, pinged: plan.meters.length, unpinged: plan.unpinged },
          'restoration pings over the budget: the next read decides for the others',
        );
    }
  }

  /**
   * Silent restoration pings (from `take`) recorded in the rules' state as event-time evidence
   * (`recordPingSilence`): the gardu's snapshot goes into the step's transaction.
   */
  record(rules: DetectorState, silences: readonly SilentPing[], watermark: number): void {
    for (const s of silences) {
      const r = recordPingSilence(rules, s, watermark);
      if (r === 'RECORDED') this.stats.silencesRecorded++;
      else if (r === 'LATE') {
        this.stats.silencesLate++;
        this.logger.info(
          { ...s, watermark },
          'restoration ping silent, its result after the watermark passed its time-out: it counts from the watermark',
        );
      }
    }
  }

  /** A step is due for the pings: results to apply, or a round of sending while suspicions are open. */
  hasWork(now: number): boolean {
    const rounds = this.verifier.busy || this.restorations.size > 0;
    return this.results.length > 0 || (now - this.lastRound >= ROUND_MS && rounds);
  }

  /**
   * The step's ping work: results applied, pings with no result given up, the commands due now (to
   * add to the transaction), and per suspicion what changed since the last step in the suspicion
   * hook's terms (`applyPings` of suspicion.ts): pings sent, outcomes, and the verdict once set.
   */
  take(now: number): {
    commands: Out[];
    updates: PingUpdate[];
    silences: SilentPing[];
    nested: NestedSuspect[];
  } {
    const silences: SilentPing[] = [];
    const finished = new Set<string>();
    const updates = new Map<string, PingUpdate>();
    const update = (p: PingProgress): PingUpdate => {
      let u = updates.get(p.outageId);
      if (u === undefined) {
        u = { outageId: p.outageId, garduId: p.garduId, sent: 0, outcomes: [], verdict: null };
        updates.set(p.outageId, u);
      }
      u.sent += p.pingsSent - (this.sentShown.get(p.outageId) ?? 0);
      this.sentShown.set(p.outageId, p.pingsSent);
      if (p.verdict !== null && !this.verdictShown.has(p.outageId)) {
        this.verdictShown.add(p.outageId);
        u.verdict = p.verdict;
      }
      return u;
    };
    const results = this.results;
    this.results = [];
    for (const r of results) {
      this.stats.results++;
      const sent = this.verifier.lookup(r.command_id);
      const p = this.verifier.onResult(r, now);
      if (sent?.restoration && p !== undefined) {
        if (readResult(r).state === 'SILENT')
          silences.push({ garduId: p.garduId!, meterId: r.meter_id, sentAt: sent.sentAt, at: r.decided_at });
        finished.add(sent.key);
        continue;
      }
      if (p === undefined) {
        this.stats.ignored++;
        continue;
      }
      const { state } = readResult(r);
      const u = update(p);
      if (state === 'ANSWERED' || state === 'SILENT')
        u.outcomes.push({ meterId: r.meter_id, answered: state === 'ANSWERED' });
    }
    const nested = this.nestedSuspects(finished, now);
    const commands: Out[] = [];
    if (now - this.lastRound >= ROUND_MS) {
      this.lastRound = now;
      this.verifier.expire(now);
      for (const id of this.sentShown.keys())
        if (this.verifier.progressOf(id) === undefined) {
          this.sentShown.delete(id);
          this.verdictShown.delete(id);
        }
      for (const { outageId, command } of this.verifier.due(now)) {
        commands.push({ topic: this.topics.pings, key: command.meter_id, value: this.encode(command) });
        const p = this.verifier.progressOf(outageId);
        if (p !== undefined && !this.verifier.lookup(command.command_id)?.restoration) update(p);
      }
    }
    if (commands.length > 0) {
      this.stats.sent += commands.length;
      this.metrics.produced.inc({ topic: this.topics.pings }, commands.length);
    }
    return { commands, updates: [...updates.values()].filter((u) => u.garduId !== null), silences, nested };
  }

  /** Restoration pings all answered or silent: the silent meters are a nested METER suspicion. */
  private nestedSuspects(keys: ReadonlySet<string>, now: number): NestedSuspect[] {
    const nested: NestedSuspect[] = [];
    for (const key of keys) {
      const o = this.verifier.restorationOutcome(key);
      const plan = this.plans.get(key);
      if (o === undefined || o.pending || plan === undefined) continue;
      this.plans.delete(key);
      if (o.silent.length > 0)
        nested.push({
          garduId: plan.garduId,
          parentId: plan.outageId,
          startedAt: plan.startedAt,
          backAt: plan.backAt,
          meters: o.silent,
          loggedAt: now,
        });
    }
    for (const key of this.plans.keys())
      if (this.verifier.restorationOutcome(key) === undefined) this.plans.delete(key);
    return nested;
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}

function directoryOf(topo: Topology): PingDirectory {
  return {
    garduAmiMeters: (g) => topo.garduAmiMeters(g),
    kdpm: (m) => topo.meter(m)?.kdpm,
  };
}
