import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { Admin } from 'kafkajs';
import {
  AvroCodec,
  createClickHouse,
  createKafka,
  createLogger,
  createRegistry,
  DeadlineError,
  ensureTopics,
  loadCommonConfig,
  ProcessError,
  serviceGroupId,
  sqlIdent,
  formatZoned,
  topicNames,
  ValidationError,
  type CommonConfig,
  type MeterStatus,
  type RunningChild,
} from '@ami/lib';
import { loadStackSettings, stackUp } from '@ami/stack';
import { formatOutage } from '@ami/detector/cli';
import { newToken } from '@ami/web/auth';

import { startAmi } from './children.js';

/** The demo's gardu are in Bali: its times are WITA (Asia/Makassar), as the customers read them. */
const DEMO_ZONE = 'Asia/Makassar';

/**
 * The web command for this run, with one user per role (CC 123 agent, ULP staff, operator) in a
 * users file of the run (hashes only) and their tokens printed once, valid for a day.
 */
function sayWebCommand(prefix: string, logs: string): void {
  const users = [newToken('sri', 'agent', 1), newToken('wayan', 'unit', 1), newToken('ani', 'operator', 1)];
  const file = join(logs, `${prefix}-web-users.json`);
  writeFileSync(
    file,
    JSON.stringify(
      users.map((u) => u.entry),
      null,
      2,
    ),
    { mode: 0o600 },
  );
  say('\nDashboard, call centre (CC 123) and ULP complaints, in Bahasa Indonesia (?lang=en for English):');
  say(
    `  AMI_TOPIC_PREFIX=${prefix} AMI_WEB_USERS_FILE=${file} WEB_VIEWS_REQUIRE_AUTH=true \\\n` +
      '  CLICKHOUSE_AUDIT_PASSWORD=$(grep CLICKHOUSE_AUDIT_PASSWORD .ami/secrets.env | cut -d= -f2) npx ami web',
  );
  say(
    '  then http://127.0.0.1:8080/callcentre, signed in with one of these tokens (shown once, valid 1 day):',
  );
  for (const u of users) say(`    ${u.entry.user.padEnd(6)} ${u.entry.role.padEnd(9)} ${u.token}`);
}

interface DemoOptions {
  scenario: string;
  prefix?: string;
  keep?: boolean;
}

const say = (line: string) => console.log(line);

/** Sum of (high watermark - committed offset) of a consumer group over topics. */
async function groupLag(admin: Admin, groupId: string, topics: string[]): Promise<number> {
  let lag = 0;
  const committed = await admin.fetchOffsets({ groupId, topics });
  for (const t of committed) {
    const high = await admin.fetchTopicOffsets(t.topic);
    for (const p of t.partitions) {
      const h = Number(high.find((x) => x.partition === p.partition)?.high ?? 0);
      const c = Number(p.offset);
      lag += c < 0 ? h : Math.max(0, h - c);
    }
  }
  return lag;
}

async function waitForGroup(admin: Admin, groupId: string, topics: string[], what: string): Promise<void> {
  const deadline = Date.now() + 180_000;
  let zeroSince = 0;
  for (;;) {
    const lag = await groupLag(admin, groupId, topics).catch(() => Number.POSITIVE_INFINITY);
    if (lag === 0) {
      zeroSince ||= Date.now();
      if (Date.now() - zeroSince > 3000) return;
    } else zeroSince = 0;
    if (Date.now() > deadline)
      throw new DeadlineError(`${what} did not catch up within 3 minutes (lag ${lag})`);
    await sleep(500);
  }
}

/** The local billing months (WIB and WITA) that the simulated span touches. */
function billingPeriodsOf(truthFile: string): string[] {
  const summary = readFileSync(truthFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { kind: string; start?: number; end?: number })
    .find((l) => l.kind === 'summary');
  if (!summary?.start || !summary.end) throw new ValidationError(`no summary line in ${truthFile}`);
  const periods = new Set<string>();
  for (const tz of ['Asia/Jakarta', 'Asia/Makassar'])
    for (const t of [summary.start, summary.end - 1])
      periods.add(
        new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit' })
          .format(t)
          .slice(0, 7),
      );
  return [...periods].sort();
}

/** Print outages as they open and close, and tusbung customers apart, live from Kafka. */
async function watchPipeline(cfg: CommonConfig) {
  const logger = createLogger('demo', 'warn');
  const topics = topicNames(cfg.AMI_TOPIC_PREFIX);
  const codec = new AvroCodec(createRegistry(cfg));
  const consumer = createKafka(cfg, logger).consumer({
    groupId: `${serviceGroupId(cfg.AMI_TOPIC_PREFIX, 'demo-watch')}.${randomUUID()}`,
  });
  const tusbung = new Map<string, MeterStatus['state']>();
  await consumer.connect();
  await consumer.subscribe({
    topics: [topics.outages, topics.momentary, topics.meterStatus],
    fromBeginning: true,
  });
  await consumer.run({
    eachMessage: async ({ topic, message }) => {
      if (!message.value) return;
      if (topic === topics.meterStatus) {
        const s = await codec.decode('MeterStatus', message.value);
        const customerSide = ['DISCONNECTED', 'RECONNECT_ENABLED', 'POWER_LIMIT_TRIP'].includes(s.state);
        const was = tusbung.get(s.meter_id);
        if (customerSide && was !== s.state) {
          say(
            `  tusbung  ${s.state.padEnd(17)} meter ${s.meter_id} (gardu ${s.gardu_id}) since ${formatZoned(s.since, DEMO_ZONE, 'en-GB')}: relay ${s.relay}, not an outage`,
          );
          tusbung.set(s.meter_id, s.state);
        } else if (!customerSide && was && s.state === 'ENERGIZED') {
          say(
            `  tusbung  ENERGIZED         meter ${s.meter_id}: the customer pressed the buttons, power is back`,
          );
          tusbung.delete(s.meter_id);
        }
        return;
      }
      say(
        `  outage   ${formatOutage(await codec.decode('Outage', message.value), topic === topics.momentary)}`,
      );
    },
  });
  return consumer;
}

async function printClickHouseSummary(cfg: CommonConfig): Promise<void> {
  const ch = createClickHouse(cfg);
  const db = sqlIdent(cfg.CLICKHOUSE_DB);
  const rows = async (query: string) =>
    (await (await ch.query({ query, format: 'JSONEachRow' })).json()) as Record<string, unknown>[];
  say('\nClickHouse, for analysts (database ' + cfg.CLICKHOUSE_DB + '):');
  console.table(
    await rows(
      `SELECT count() AS reads, uniqExact(meter_id) AS meters, min(read_at) AS first, max(read_at) AS last FROM ${db}.reads`,
    ),
  );
  console.table(
    await rows(
      `SELECT scope, gardu_id, started_at, restored_at, customers_affected, tusbung_excluded, last_gasps FROM ${db}.outages_latest ORDER BY started_at LIMIT 10`,
    ),
  );
  console.table(
    await rows(
      `SELECT tariff, count() AS customers, round(sum(toFloat64(kwh)), 1) AS kwh, sum(estimated) AS estimated, round(sum(toFloat64(amount_rp)), 0) AS amount_rp FROM ${db}.billing GROUP BY tariff ORDER BY tariff`,
    ),
  );
  console.table(
    await rows(
      `SELECT region, ulp, month, customers_served, round(saidi_minutes, 2) AS saidi_min, round(saifi, 3) AS saifi,
              round(caidi_minutes, 1) AS caidi_min, round(maifi, 3) AS maifi
       FROM ${db}.reliability_monthly ORDER BY region, ulp, month LIMIT 10`,
    ),
  );
  const one = await rows(`SELECT idpel, toString(billing_period) AS period FROM ${db}.billing LIMIT 1`);
  if (one[0]) {
    const from = String(one[0].period);
    say(
      `\nA customer's usage this period: npx ami usage ${String(one[0].idpel)} --from ${from} --to ${from.slice(0, 8)}28`,
    );
  }
  await ch.close();
}

/** The main job: the whole pipeline on a small fleet, shown as it runs. */
export async function runDemo(opts: DemoOptions): Promise<void> {
  say('Starting the local stack (Kafka, schema registry, ClickHouse)...');
  const stackEnv = await stackUp(loadStackSettings(), (l) => say(`  ${l}`));
  const prefix = opts.prefix ?? `demo-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '')}`;
  // Consumer groups belong to this run's topics (the services' defaults), so runs never steal each other's partitions.
  const env = {
    ...process.env,
    ...stackEnv,
    AMI_TOPIC_PREFIX: prefix,
    DETECTOR_GROUP_ID: serviceGroupId(prefix, 'detector'),
    LOADER_GROUP_ID: serviceGroupId(prefix, 'loader'),
    HEADEND_GROUP_ID: serviceGroupId(prefix, 'headend'),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  };
  Object.assign(process.env, env);
  const cfg = loadCommonConfig(env);
  const logs = join(loadStackSettings().AMI_HOME, 'logs');
  const run = (name: string, args: string[]) =>
    startAmi(name, args, { env, logFile: join(logs, `${prefix}-${name}.log`) });
  const once = async (name: string, args: string[]) => {
    const code = await run(name, args).exited;
    if (code !== 0)
      throw new ProcessError(
        `ami ${args.join(' ')} failed (exit ${code}); log: ${join(logs, `${prefix}-${name}.log`)}`,
      );
  };

  say(`\nTopics ami-style under prefix "${prefix}", ClickHouse database "${cfg.CLICKHOUSE_DB}".`);
  await once('migrate', ['db', 'migrate']);
  await once('schemas', ['schemas', 'register']);
  const admin = createKafka(cfg, createLogger('demo', 'warn')).admin();
  await admin.connect();
  await ensureTopics(admin, prefix, { partitions: 3 });
  const services: RunningChild[] = [];
  let watcher: Awaited<ReturnType<typeof watchPipeline>> | undefined;
  try {
    services.push(
      run('detector', ['detector', 'run']),
      run('loader', ['loader', 'run']),
      run('headend', ['headend']),
    );
    watcher = await watchPipeline(cfg);
    say(`\nSimulating scenario "${opts.scenario}" (a few gardu in Bali, one outage, one tusbung campaign):`);
    const truth = join(logs, `${prefix}-truth.jsonl`);
    await once('simulate', ['simulate', '--scenario', opts.scenario, '--speed', 'max', '--truth', truth]);
    const topics = topicNames(prefix);
    await waitForGroup(admin, env.DETECTOR_GROUP_ID, [topics.reads, topics.events], 'detector');
    await waitForGroup(admin, env.LOADER_GROUP_ID, [topics.reads, topics.events, topics.outages], 'loader');
    for (const period of billingPeriodsOf(truth))
      await once('billing', ['billing', 'refresh', '--period', period]);
    await printClickHouseSummary(cfg);
    say(`\nGround truth of the simulation: ${truth}`);
    sayWebCommand(prefix, logs);
    say('The stack keeps running; stop it with: npx ami stack down');
  } finally {
    await watcher?.disconnect();
    await admin.disconnect();
    if (!opts.keep) await Promise.all(services.map((s) => s.stop()));
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'the main job: start the stack and run the whole pipeline on a small fleet, showing what happens',
    )
    .option('-s, --scenario <name>', 'simulator scenario', 'demo')
    .option('--prefix <prefix>', 'topic prefix (default: a fresh one per run)')
    .option('--keep', 'leave detector, loader and head-end running')
    .action(async (opts: DemoOptions) => runDemo(opts));
}
