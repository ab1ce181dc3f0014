import type { Producer } from 'kafkajs';
import {
  auditDatabases,
  AvroCodec,
  createClickHouse,
  createKafka,
  createRegistry,
  sqlIdent,
  topicNames,
  valueSubject,
  type RecordName,
  type RecordTypes,
  type Topics,
} from '@ami/lib';
import { migrate } from '@ami/loader/migrate';
import { newToken } from '@ami/web/auth';
import { loadWebConfig, type WebConfig } from '@ami/web/config';
import { WebService } from '@ami/web/service';
import { eventually, testConfig, testLogger, uniqueName } from './fixtures.js';

/** A web service on a random topic prefix and database, with its own users and a producer for test records. */
export interface WebHarness {
  base: string;
  cfg: WebConfig;
  db: string;
  topics: Topics;
  operatorToken: string;
  viewerToken: string;
  /** CC 123 agent `sri`; unit staff `wayan` of ULP DENPASAR and `made` of ULP SANUR. */
  agentToken: string;
  unitToken: string;
  otherUnitToken: string;
  service: WebService;
  ch: ReturnType<typeof createClickHouse>;
  produce<N extends RecordName>(
    record: N,
    topic: string,
    key: string,
    value: RecordTypes[N] | null,
  ): Promise<void>;
  stop(): Promise<void>;
}

export async function startWeb(env: Record<string, string> = {}): Promise<WebHarness> {
  const common = testConfig();
  const db = uniqueName('it_web');
  const ch = createClickHouse(common);
  await migrate(ch, db, testLogger);
  const operator = newToken('ani', 'operator');
  const viewer = newToken('budi', 'viewer');
  const agent = newToken('sri', 'agent');
  const unit = newToken('wayan', 'unit', 1, Date.now(), { ulps: ['DENPASAR'] });
  const otherUnit = newToken('made', 'unit', 1, Date.now(), { ulps: ['SANUR'] });
  const cfg = loadWebConfig({
    ...process.env,
    AMI_TOPIC_PREFIX: common.AMI_TOPIC_PREFIX,
    CLICKHOUSE_DB: db,
    WEB_PORT: '0',
    LOG_LEVEL: 'warn',
    AMI_WEB_USERS: JSON.stringify([operator.entry, viewer.entry, agent.entry, unit.entry, otherUnit.entry]),
    // The stack's ami_audit user may use only ami_audit_inbox: a random database's audit is written as the admin.
    CLICKHOUSE_AUDIT_USER: common.CLICKHOUSE_USER,
    CLICKHOUSE_AUDIT_PASSWORD: common.CLICKHOUSE_PASSWORD,
    ...env,
  });
  const service = new WebService(cfg, testLogger);
  const { port } = await service.start();
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => ((await fetch(`${base}/readyz`)).ok ? true : undefined), {
    what: 'web service ready',
  });

  const kafka = createKafka(cfg, testLogger, 'web-test-producer');
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const codec = new AvroCodec(createRegistry(cfg));
  return {
    base,
    cfg,
    db,
    topics: topicNames(cfg.AMI_TOPIC_PREFIX),
    operatorToken: operator.token,
    viewerToken: viewer.token,
    agentToken: agent.token,
    unitToken: unit.token,
    otherUnitToken: otherUnit.token,
    service,
    ch,
    async produce(record, topic, key, value) {
      const id = await codec.register(record, valueSubject(topic));
      await producer.send({
        topic,
        acks: -1,
        messages: [{ key, value: value === null ? null : codec.encoder(record, id)(value) }],
      });
    },
    async stop() {
      await producer.disconnect();
      await service.stop();
      for (const d of [db, auditDatabases(db).trail, auditDatabases(db).inbox])
        await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(d)}` });
      await ch.close();
    },
  };
}
