import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import { createKafka, ensureTopics, loadCommonConfig, topicNames } from '@ami/lib';
import { PIPELINE_GRANTS, grantTopicName, pipelineAcls, type PipelineUser, type ScramUser } from '@ami/stack';
import { eventually, testLogger } from '../support/fixtures.js';
import { Pipeline, nothingLostNothingDoubled, settled, type Figures } from '../support/pipeline.js';
import {
  createAclsInForce,
  scramUsers,
  startSecureCluster,
  type TestSecureCluster,
} from '../support/secureBroker.js';

/**
 * The pipeline on a secured 3-broker KRaft cluster (replication factor 3,
 * min.insync.replicas 2, SASL/SCRAM-SHA-512, ACLs per service): the detector
 * and the loader run as their own processes over SASL_SSL (TLS verified
 * against the cluster's CA), each as its own Kafka user; the simulator (in
 * this process, which cannot trust a new CA after start: NODE_EXTRA_CA_CERTS
 * is read at process start) produces as `simulator` over SASL_PLAINTEXT.
 * The schema registry and ClickHouse are the test environment's.
 *
 * 1. The broker leading most of the pipeline's partitions is SIGKILLed
 *    mid-replay and started again later.
 * 2. A rolling restart (controlled shutdown, start, full ISR again) of all
 *    three brokers during a replay.
 * 3. The detector is frozen (SIGSTOP) mid-replay, a replacement with the same
 *    instance id takes over, and the frozen one is woken: it is fenced and
 *    must commit nothing.
 * Each ends with: every read in ClickHouse exactly once, outages as the
 * ground truth with no OPEN or RESTORED twice, every consumer group at the
 * end of its inputs.
 */

const figures: Record<string, Figures & { note?: string }> = {};

function report(name: string, f: Figures, note: string): void {
  figures[name] = { ...f, note };
  process.stdout.write(`[cluster] ${name}: ${JSON.stringify(figures[name])}\n`);
}

describe('the pipeline on a secured 3-broker cluster', () => {
  const { admin, ...users } = scramUsers('admin', 'simulator', 'detector', 'loader');
  let secure: TestSecureCluster;
  let operator: Admin;
  let logDir: string;
  let pipe: Pipeline | undefined;

  /** As a service is configured: its own user, SASL_SSL, the cluster's CA. */
  const serviceEnv = (user: ScramUser) => ({
    ...secure.cluster.clientEnv(user),
    NODE_EXTRA_CA_CERTS: secure.cluster.caFile,
  });

  /** Topics (RF 3) and ACLs for a pipeline's prefix, made by the operator as on a production cluster. */
  async function preparePipeline(p: Pipeline): Promise<void> {
    // Retried whole: a broker that has not yet seen a new topic answers UNKNOWN_TOPIC_OR_PARTITION.
    await eventually(
      () => ensureTopics(operator, p.prefix, { partitions: 3, replicationFactor: 3 }).then(() => true),
      { timeoutMs: 60_000, intervalMs: 500, what: 'the pipeline topics' },
    );
    const state = grantTopicName(p.prefix, 'detectorState');
    const repartition = grantTopicName(p.prefix, 'detectorRepartition');
    await operator.createTopics({
      topics: [
        {
          topic: state,
          numPartitions: 3,
          replicationFactor: 3,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
        { topic: repartition, numPartitions: 3, replicationFactor: 3 },
      ],
      waitForLeaders: false,
    });
    // Not kafkajs' `waitForLeaders`: a broker that has not yet seen the new topic answers
    // UNKNOWN_TOPIC_OR_PARTITION, which kafkajs gives up on there.
    await eventually(
      async () => {
        const { topics } = await operator.fetchTopicMetadata({ topics: [state, repartition] });
        return topics.every((t) => t.partitions.every((part) => part.leader >= 0 && part.isr.length === 3))
          ? true
          : undefined;
      },
      { timeoutMs: 30_000, what: `leaders of ${state} and ${repartition}` },
    );
    // The grants of docs/security.md, with this run's group and transactional id prefixes.
    const grants = (user: PipelineUser, group?: string) => ({
      ...PIPELINE_GRANTS[user],
      groupPrefix: group,
      transactionalIdPrefix: PIPELINE_GRANTS[user].transactionalIdPrefix && group,
    });
    await createAclsInForce(operator, [
      ...pipelineAcls(p.prefix, 'simulator'),
      ...pipelineAcls(p.prefix, 'detector', grants('detector', `${p.prefix}-detector`)),
      ...pipelineAcls(p.prefix, 'loader', grants('loader', `${p.prefix}-loader`)),
    ]);
  }

  function newPipeline(): Pipeline {
    return new Pipeline(
      {
        ...secure.cluster.clientEnv(admin, { tls: false }),
        SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL!,
        CLICKHOUSE_URL: process.env.CLICKHOUSE_URL!,
      },
      logDir,
      {
        simulator: secure.cluster.clientEnv(users.simulator, { tls: false }),
        detector: serviceEnv(users.detector),
        loader: serviceEnv(users.loader),
      },
    );
  }

  /** Node id leading the most partitions of the pipeline's topics. */
  async function busiestLeader(p: Pipeline): Promise<{ nodeId: number; leads: number; of: number }> {
    const { topics } = await operator.fetchTopicMetadata({ topics: Object.values(topicNames(p.prefix)) });
    const leads = new Map<number, number>();
    const partitions = topics.flatMap((t) => t.partitions);
    for (const part of partitions) leads.set(part.leader, (leads.get(part.leader) ?? 0) + 1);
    const [nodeId, n] = [...leads].sort((a, b) => b[1] - a[1])[0]!;
    return { nodeId, leads: n, of: partitions.length };
  }

  /** Until every partition of every topic (internal ones too) has all 3 replicas in sync. */
  async function fullIsr(): Promise<void> {
    await eventually(
      async () => {
        const { topics } = await operator.fetchTopicMetadata();
        const short = topics.flatMap((t) => t.partitions).filter((part) => part.isr.length < 3);
        return short.length === 0 ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500, what: 'every partition with 3 replicas in sync' },
    );
  }

  /** The end offset of every partition of `topics` now, by `topic:partition`. */
  async function endOffsets(topics: string[]): Promise<Map<string, number>> {
    const ends = new Map<string, number>();
    for (const topic of topics)
      for (const e of await operator.fetchTopicOffsets(topic))
        ends.set(`${topic}:${e.partition}`, Number(e.high));
    return ends;
  }

  /**
   * Until `group` has committed at least `marks` (less `slack` for a partition) on every
   * partition: a consumer stuck on a partition (a dead connection, a leader it never
   * found again) stays below.
   */
  async function committedPast(
    group: string,
    marks: Map<string, number>,
    slack: (topic: string) => number = () => 0,
  ): Promise<void> {
    const topics = [...new Set([...marks.keys()].map((k) => k.slice(0, k.lastIndexOf(':'))))];
    await eventually(
      async () => {
        const behind: string[] = [];
        for (const topic of topics) {
          const [committed] = await operator.fetchOffsets({ groupId: group, topics: [topic] });
          for (const p of committed!.partitions) {
            const mark = marks.get(`${topic}:${p.partition}`) ?? 0;
            // -1: nothing committed, right for a partition that was empty at its mark.
            if (mark > 0 && Number(p.offset) < mark - slack(topic))
              behind.push(`${topic}[${p.partition}] ${p.offset}/${mark}`);
          }
        }
        if (behind.length === 0) return true;
        throw new Error(`${group} behind: ${behind.join(', ')}`);
      },
      { timeoutMs: 60_000, intervalMs: 500, what: `${group} past its marks` },
    );
  }

  /**
   * No consumer is stuck: the detector has committed past where its inputs ended at `marks`
   * (it holds back the last minutes of event time by design, so not up to the end); the
   * loader has committed the end of every input (an outages partition ends with a commit
   * marker it never needs to pass).
   */
  async function noConsumerStuck(p: Pipeline, marks: Map<string, number>): Promise<void> {
    const t = p.topics;
    const detectorInputs = new Map(
      [...marks].filter(([k]) => k.startsWith(`${t.reads}:`) || k.startsWith(`${t.events}:`)),
    );
    await committedPast(`${p.prefix}-detector`, detectorInputs);
    await committedPast(`${p.prefix}-loader`, await endOffsets([t.reads, t.events, t.outages]), (topic) =>
      topic === t.outages ? 1 : 0,
    );
  }

  /** Records in the pipeline's dead-letter topic: a clean replay has none (nothing late, nothing malformed). */
  async function deadLetters(p: Pipeline): Promise<number> {
    const ends = await endOffsets([p.topics.dlq]);
    return [...ends.values()].reduce((n, e) => n + e, 0);
  }

  /** The dead letters a service logged, by reason and topic-partition with their offsets' range. */
  function deadLettersLogged(log: string): string {
    const by = new Map<string, { n: number; first: number; last: number; msg: string }>();
    for (const line of log.split('\n')) {
      if (!line.startsWith('{') || !line.includes('"dead letter')) continue;
      let r: { reason?: string; topic?: string; partition?: number; offset?: string; msg?: string };
      try {
        r = JSON.parse(line) as typeof r;
      } catch {
        continue; // a line cut short by the kill
      }
      const key = `${r.reason}@${r.topic}:${r.partition}`;
      const o = Number(r.offset);
      const e = by.get(key) ?? { n: 0, first: o, last: o, msg: r.msg ?? '' };
      by.set(key, { n: e.n + 1, first: Math.min(e.first, o), last: Math.max(e.last, o), msg: e.msg });
    }
    return [...by].map(([k, e]) => `${e.n} ${k} offsets ${e.first}-${e.last} (${e.msg})`).join('; ');
  }

  beforeAll(async () => {
    const t0 = Date.now();
    secure = await startSecureCluster({ admin, formatUsers: Object.values(users) });
    logDir = mkdtempSync(join(tmpdir(), 'ami-cluster-logs-'));
    operator = createKafka(
      loadCommonConfig({ ...secure.cluster.clientEnv(admin, { tls: false }), LOG_LEVEL: 'silent' }),
      testLogger,
      'cluster-operator',
    ).admin();
    await operator.connect();
    process.stdout.write(`[cluster] 3 brokers up in ${Date.now() - t0} ms: ${secure.cluster.bootstrap()}\n`);
  }, 240_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && pipe) {
      cpSync(logDir, join('test-artifacts', 'cluster-logs'), { recursive: true });
      for (const n of secure.cluster.nodes)
        writeFileSync(
          join('test-artifacts', 'cluster-logs', `kafka-${n.nodeId}.log`),
          n.log().slice(-200_000),
        );
    }
    await pipe?.stop();
    pipe = undefined;
  }, 60_000);

  afterAll(async () => {
    await operator?.disconnect().catch(() => undefined);
    await secure?.stop();
    mkdirSync('test-artifacts', { recursive: true });
    writeFileSync('test-artifacts/cluster-failover.json', `${JSON.stringify(figures, null, 2)}\n`);
  }, 60_000);

  it('the broker leading most partitions SIGKILLed mid-stream, restarted later', async () => {
    pipe = newPipeline();
    await preparePipeline(pipe);
    await pipe.start();
    const leader = await busiestLeader(pipe);
    const node = secure.cluster.node(leader.nodeId);
    let sent = 0;
    // 6 h of 300 meters at 360x: about 60 s of sending; down from a sixth to under half of it.
    const replaying = pipe.replay({ speed: '360x' }, (n) => {
      sent = n;
    });
    await eventually(() => (sent >= 1000 ? true : undefined), { timeoutMs: 60_000, what: '1000 reads sent' });
    const marks = await endOffsets([pipe.topics.reads, pipe.topics.events]);
    await node.kill();
    const killedAt = Date.now();
    await eventually(() => (sent >= 2500 ? true : undefined), { timeoutMs: 60_000, what: '2500 reads sent' });
    const sentAtRestart = sent;
    await node.start();
    await node.waitHealthy(90_000, 3);
    const downMs = Date.now() - killedAt;
    const produced = await replaying;
    await settled(pipe, produced, 120_000);
    await noConsumerStuck(pipe, marks);
    const f = await pipe.figures(produced);
    report(
      'leader-kill',
      f,
      `node ${leader.nodeId} led ${leader.leads}/${leader.of} partitions; down ${downMs} ms, restarted at ${sentAtRestart} of ${sent} reads sent`,
    );
    nothingLostNothingDoubled(f);
    expect(await deadLetters(pipe)).toBe(0);
  }, 240_000);

  // Each broker stop moves the detector group's coordinator: the detector rejoins, and its fetches
  // went back to the committed offsets, where the reads released since came back late (~40 dead
  // letters in one run of two). Its position now stays with its event-time state (eventTime.ts).
  it('a rolling restart of all three brokers during a replay', { timeout: 300_000 }, async () => {
    await fullIsr();
    pipe = newPipeline();
    await preparePipeline(pipe);
    await pipe.start();
    let sent = 0;
    // 6 h of 300 meters at 360x: about 60 s of sending, the rolling restart within it.
    const replaying = pipe.replay({ speed: '360x' }, (n) => {
      sent = n;
    });
    await eventually(() => (sent >= 300 ? true : undefined), { timeoutMs: 60_000, what: '300 reads sent' });
    const t0 = Date.now();
    const steps: string[] = [];
    let marks = new Map<string, number>();
    for (const node of secure.cluster.nodes) {
      const s0 = Date.now();
      if (node === secure.cluster.nodes.at(-1))
        marks = await endOffsets([pipe.topics.reads, pipe.topics.events]);
      await node.stop(30_000);
      await node.start();
      await node.waitHealthy(90_000, 3);
      await fullIsr();
      steps.push(`node ${node.nodeId} ${Date.now() - s0} ms at ${sent} reads`);
    }
    const rollMs = Date.now() - t0;
    const produced = await replaying;
    await settled(pipe, produced, 120_000);
    await noConsumerStuck(pipe, marks);
    const f = await pipe.figures(produced);
    report('rolling-restart', f, `rolling restart ${rollMs} ms: ${steps.join('; ')}`);
    nothingLostNothingDoubled(f);
    expect(await deadLetters(pipe)).toBe(0);
  });

  it('a frozen detector, replaced by one with its instance id, is fenced when it wakes and commits nothing', async () => {
    pipe = newPipeline();
    await preparePipeline(pipe);
    // Not supervised: nothing may start the frozen detector again once it is replaced.
    await pipe.start({ loader: true, detector: false });
    // At info: its group's joins and assignments, to tell what happened if a read is dead-lettered.
    const detectorEnv = { ...serviceEnv(users.detector), LOG_LEVEL: 'info' };
    const zombie = pipe.spawn('detector', ['detector', 'run'], detectorEnv);
    pipe.detector = zombie;
    let sent = 0;
    const replaying = pipe.replay({ speed: '540x' }, (n) => {
      sent = n;
    });
    await eventually(() => (sent >= 300 ? true : undefined), { timeoutMs: 60_000, what: '300 reads sent' });
    const early = await endOffsets([pipe.topics.reads, pipe.topics.events]);
    await eventually(() => (sent >= 1500 ? true : undefined), { timeoutMs: 60_000, what: '1500 reads sent' });
    // Frozen while running, not while starting: one frozen before its InitProducerId (a slow start on
    // a busy machine) fenced its replacement when it woke, and carried on as the live detector.
    await committedPast(`${pipe.prefix}-detector`, early);
    // Frozen (a long GC pause, a stalled VM): its group session lapses, and the supervisor starts
    // another with the same instance id, so the same transactional id: InitProducerId fences the first.
    zombie.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    const frozenAt = await endOffsets([pipe.topics.reads, pipe.topics.events]);
    const replacement = pipe.spawn('detector-replacement', ['detector', 'run'], detectorEnv);
    pipe.detector = replacement;
    await committedPast(`${pipe.prefix}-detector`, frozenAt);
    // Woken while reads still flow: whatever it had in hand, it may not commit it.
    zombie.child.kill('SIGCONT');
    const frozenMs = Date.now() - stoppedAt;
    const zombieExit = await Promise.race([
      zombie.exitCode,
      new Promise<'alive'>((r) => setTimeout(() => r('alive'), 45_000)),
    ]);
    await zombie.kill('SIGKILL');
    const produced = await replaying;
    await settled(pipe, produced, 120_000);
    await noConsumerStuck(pipe, frozenAt);
    const f = await pipe.figures(produced);
    const zombieLog = zombie.log();
    const fenced = /PRODUCER_FENCED|INVALID_PRODUCER_EPOCH|ProducerFencedError/.test(zombieLog);
    const lastWords = zombieLog
      .split('\n')
      .filter((l) => /"level":60/.test(l) || (l.trim() !== '' && !l.startsWith('{')))
      .slice(-3);
    report(
      'zombie-detector',
      f,
      `frozen ${frozenMs} ms, zombie exit ${String(zombieExit)}, fenced in its log: ${fenced}; ${lastWords.join(' | ')}`,
    );
    nothingLostNothingDoubled(f);
    expect(
      await deadLetters(pipe),
      `dead letters: zombie ${deadLettersLogged(zombieLog)}; replacement ${deadLettersLogged(replacement.log())}`,
    ).toBe(0);
    expect(zombieExit).not.toBe('alive');
    expect(fenced, `the zombie's last errors: ${lastWords.join('\n')}`).toBe(true);
    expect(replacement.alive).toBe(true);
  }, 240_000);
});
