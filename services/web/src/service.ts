import type { Producer } from 'kafkajs';
import type { ClickHouseClient } from '@clickhouse/client';
import {
  AvroCodec,
  createClickHouse,
  createKafka,
  createRegistry,
  DeadLetterQueue,
  ensureTopics,
  ServiceMetrics,
  topicNames,
  valueSubject,
  type Logger,
  type MeterCommand,
  type Outage,
} from '@ami/lib';
import type { WebConfig } from './config.js';
import { CompactedFeed, feedSource, TailFeed } from './feed.js';
import { PingTracker } from './ping.js';
import { mergeLatest } from './outagesView.js';
import { WebServer, type WebBackend } from './server.js';
import { billingOf, controlRoomOf, insertAudit, outageHistory, storyOf } from './store.js';
import { CallTable, LatestTable, OutageTable, ProfileTable, SuspectedTable } from './tables.js';
import { loadUsers, type UserSource } from './users.js';
import type { CallRecord, MeterStatus } from '@ami/lib';

/** The running web service: compacted topics in memory, ClickHouse history, the HTTP server. */
export class WebService {
  readonly profiles = new ProfileTable();
  readonly statuses = new LatestTable<MeterStatus>();
  readonly outages = new OutageTable();
  readonly suspected = new SuspectedTable();
  readonly calls = new CallTable();
  readonly pings: PingTracker;
  private tail?: TailFeed<'CommandResult'>;
  private encodeCall?: (c: CallRecord) => Buffer;
  private history: Outage[] = [];
  private historyTimer?: NodeJS.Timeout;
  private feed?: CompactedFeed;
  private producer?: Producer;
  private encode?: (c: MeterCommand) => Buffer;
  private ch?: ClickHouseClient;
  /** Signs in as CLICKHOUSE_AUDIT_USER: the command audit is written with that user only. */
  private auditCh?: ClickHouseClient;
  private users?: UserSource;
  server?: WebServer;

  constructor(
    private readonly cfg: WebConfig,
    private readonly logger: Logger,
    private readonly metrics = new ServiceMetrics('web'),
  ) {
    this.pings = new PingTracker(cfg.WEB_PING_TIMEOUT_S * 1000);
  }

  async start(): Promise<{ port: number }> {
    const users = loadUsers(this.cfg, this.logger);
    this.users = users;
    if (users.list().length === 0)
      this.logger.warn('no users in AMI_WEB_USERS: the command API refuses everyone');
    const topics = topicNames(this.cfg.AMI_TOPIC_PREFIX);
    const kafka = createKafka(this.cfg, this.logger, `${this.cfg.KAFKA_CLIENT_ID}-web`);
    const codec = new AvroCodec(createRegistry(this.cfg));
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, this.cfg.AMI_TOPIC_PREFIX, { partitions: 6 }, [
        'meters',
        'outages',
        'suspectedOutages',
        'meterStatus',
        'commands',
        'commandResults',
        // Reads and events (the head-end writes a ping's on-demand read and relay events there):
        // created together they share a partition count.
        'reads',
        'events',
        'calls',
        'dlq',
      ]);
    } finally {
      await admin.disconnect();
    }
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await this.producer.connect();
    this.encode = codec.encoder(
      'MeterCommand',
      await codec.register('MeterCommand', valueSubject(topics.commands)),
    );
    this.encodeCall = codec.encoder(
      'CallRecord',
      await codec.register('CallRecord', valueSubject(topics.calls)),
    );
    this.ch = createClickHouse(this.cfg, this.cfg.CLICKHOUSE_DB);
    this.auditCh = createClickHouse({
      CLICKHOUSE_URL: this.cfg.CLICKHOUSE_URL,
      CLICKHOUSE_USER: this.cfg.CLICKHOUSE_AUDIT_USER,
      CLICKHOUSE_PASSWORD: this.cfg.CLICKHOUSE_AUDIT_PASSWORD,
    });
    this.server = new WebServer(this.cfg, users, this.backend(), this.logger, this.metrics);
    this.outages.onChange(() => this.server?.outagesChanged());
    this.suspected.onChange(() => this.server?.outagesChanged());
    this.feed = new CompactedFeed(
      kafka,
      codec,
      [
        feedSource(topics.meters, 'MeterProfile', this.profiles),
        feedSource(topics.meterStatus, 'MeterStatus', this.statuses),
        feedSource(topics.outages, 'Outage', this.outages),
        feedSource(topics.suspectedOutages, 'SuspectedOutage', this.suspected),
        feedSource(topics.calls, 'CallRecord', this.calls),
      ],
      this.logger,
      {
        groupPrefix: this.cfg.WEB_GROUP_PREFIX,
        metrics: this.metrics,
        dlq: new DeadLetterQueue(this.producer, topics.dlq, 'web', this.logger, this.metrics),
      },
    );
    await this.feed.start();
    // The head-end's answers: to operators' commands and agents' pings (READ_NOW results carry the read).
    this.tail = new TailFeed(
      kafka,
      codec,
      topics.commandResults,
      'CommandResult',
      (r) => this.pings.onResult(r, Date.now()),
      this.logger,
      { groupPrefix: this.cfg.WEB_GROUP_PREFIX },
    );
    await this.tail.start();
    void this.refreshHistory();
    this.historyTimer = setInterval(() => void this.refreshHistory(), this.cfg.WEB_HISTORY_REFRESH_S * 1000);
    const address = await this.server.listen();
    return { port: address.port };
  }

  /** Outage history from ClickHouse for the chart window; the live view goes on without it. */
  private async refreshHistory(): Promise<void> {
    const windowMs = Math.max(this.cfg.WEB_CHART_HOURS, this.cfg.WEB_RESTORED_WINDOW_H) * 3_600_000;
    try {
      this.history = await outageHistory(this.ch!, this.cfg.CLICKHOUSE_DB, Date.now() - windowMs);
      this.outages.prune(Date.now(), windowMs);
      this.pings.prune(Date.now());
      this.server?.outagesChanged();
    } catch (err) {
      this.logger.warn({ err }, 'outage history from ClickHouse unavailable; showing the live view only');
    }
  }

  private backend(): WebBackend {
    const db = this.cfg.CLICKHOUSE_DB;
    const topic = topicNames(this.cfg.AMI_TOPIC_PREFIX).commands;
    const callsTopic = topicNames(this.cfg.AMI_TOPIC_PREFIX).calls;
    return {
      profiles: this.profiles,
      status: (id) => this.statuses.get(id),
      outage: (id) => this.outages.get(id) ?? this.history.find((o) => o.outage_id === id),
      outages: () => mergeLatest(this.history, this.outages.values()).values(),
      suspected: () => this.suspected.values(),
      billing: (p, period) => billingOf(this.ch!, db, p.meter_id, period),
      audit: (rows) => insertAudit(this.auditCh!, db, rows),
      send: async (commands) => {
        await this.producer!.send({
          topic,
          acks: -1,
          messages: commands.map((c) => ({ key: c.meter_id, value: this.encode!(c) })),
        });
        this.metrics.produced.inc({ topic }, commands.length);
      },
      ready: () => this.feed?.isCaughtUp === true,
      calls: this.calls,
      sendCall: async (record) => {
        await this.producer!.send({
          topic: callsTopic,
          acks: -1,
          messages: [{ key: record.idpel, value: this.encodeCall!(record) }],
        });
        this.metrics.produced.inc({ topic: callsTopic }, 1);
        this.calls.apply(record.idpel, record);
      },
      pings: this.pings,
      story: (p, now) => storyOf(this.ch!, db, p, now),
      controlRoom: (now) => controlRoomOf(this.ch!, db, now),
    };
  }

  async stop(): Promise<void> {
    clearInterval(this.historyTimer);
    await this.server?.close();
    this.users?.stop();
    await this.feed?.stop();
    await this.tail?.stop();
    await this.producer?.disconnect();
    await this.ch?.close();
    await this.auditCh?.close();
  }
}
