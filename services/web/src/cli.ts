import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  AmiError,
  AvroCodec,
  ConfigError,
  createKafka,
  createLogger,
  createRegistry,
  ensureTopics,
  topicNames,
  ValidationError,
} from '@ami/lib';
import { newToken, ROLES, TOKEN_LIFETIME_DAYS, type Role } from './auth.js';
import type { CommandReport } from './campaign.js';
import { commandBody, formatReport, VERBS, type CommandOptions } from './cliCore.js';
import { loadWebConfig } from './config.js';
import { CompactedFeed, feedSource } from './feed.js';
import { buildView } from './outagesView.js';
import { renderOutageTable } from './render.js';
import { WebService } from './service.js';
import { buildSuspectedView } from './suspectedView.js';
import { OutageTable, SuspectedTable } from './tables.js';

const collect = (v: string, prev: string[] = []) => [
  ...prev,
  ...v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

export function registerWebCommands(program: Command): void {
  const web = program
    .command('web')
    .description('serve the operators dashboard, the call-centre lookup and the command API')
    .option('-p, --port <port>', 'port (WEB_PORT, default 8080)')
    .option('--bind <address>', 'address to listen on (WEB_BIND, default 127.0.0.1)')
    .action(async (o: { port?: string; bind?: string }) => serve(o));

  web
    .command('token')
    .description('make a new API token and the AMI_WEB_USERS entry that accepts it (only the hash is stored)')
    .requiredOption('--user <name>', 'user name')
    .requiredOption('--role <role>', ROLES.join(', '))
    .option('--ulps <list>', 'comma-separated ULPs the user works for (unit staff, operators); default all')
    .option('--regions <list>', 'comma-separated regions an operator may command; default all')
    .option('--days <days>', `days until the token expires (default ${TOKEN_LIFETIME_DAYS})`)
    .action((o: { user: string; role: string; days?: string; ulps?: string; regions?: string }) => {
      if (!(ROLES as readonly string[]).includes(o.role))
        throw new ValidationError(`--role must be one of ${ROLES.join(', ')}`);
      const days = Number(o.days ?? TOKEN_LIFETIME_DAYS);
      if (!(days > 0 && days <= 3660))
        throw new ValidationError('--days must be a number of days from 1 to 3660');
      const { token, entry } = newToken(o.user, o.role as Role, days, Date.now(), {
        ulps: listOption(o.ulps),
        regions: listOption(o.regions),
      });
      console.log(`token (give it to ${o.user}, it is shown once): ${token}`);
      console.log(`AMI_WEB_USERS entry: ${JSON.stringify(entry)}`);
    });

  program
    .command('outages')
    .description('active and recently restored outages from the outages topic')
    .option('-f, --follow', 'keep the table on screen, updating in place')
    .option('--region <region>', 'only this region')
    .action(async (o: { follow?: boolean; region?: string }) => outages(o));

  program
    .command('command')
    .description('send a remote command through the web service API (token in AMI_TOKEN)')
    .argument('<verb>', Object.keys(VERBS).join(' | '))
    .option('--idpel <idpel>', 'customer IDPEL (repeat, or comma-separated)', collect)
    .option('--meter <id>', 'meter id (repeat, or comma-separated)', collect)
    .option('--file <path>', 'campaign file: one IDPEL per line, # comments')
    .option('--limit-va <va>', 'power limit in VA (power-limit)')
    .option('--reason <text>', 'why (kept in the audit trail)')
    .option('--url <url>', 'web service URL', process.env.AMI_WEB_URL ?? 'http://127.0.0.1:8080')
    .action(async (verb: string, o: CommandOptions & { file?: string; url: string }) => command(verb, o));
}

async function serve(o: { port?: string; bind?: string }): Promise<void> {
  const cfg = loadWebConfig({
    ...process.env,
    ...(o.port ? { WEB_PORT: o.port } : {}),
    ...(o.bind ? { WEB_BIND: o.bind } : {}),
  });
  const logger = createLogger('web', cfg.LOG_LEVEL);
  // A rejected promise that nothing awaited is a bug to log, not a reason to stop serving the call centre.
  process.on('unhandledRejection', (err) =>
    logger.error({ err }, 'unhandled promise rejection; the web service goes on'),
  );
  const service = new WebService(cfg, logger);
  const { port } = await service.start();
  console.log(`web service on http://${cfg.WEB_BIND}:${port}/ (call centre: /callcentre)`);
  const stop = () => void service.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function outages(o: { follow?: boolean; region?: string }): Promise<void> {
  const cfg = loadWebConfig();
  const logger = createLogger('ami-outages', process.env.LOG_LEVEL ?? 'warn');
  const table = new OutageTable();
  const suspected = new SuspectedTable();
  const topics = topicNames(cfg.AMI_TOPIC_PREFIX);
  const kafka = createKafka(cfg, logger, `${cfg.KAFKA_CLIENT_ID}-outages-cli`);
  // A pipeline whose detector predates suspected outages has no such topic: create it empty.
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, cfg.AMI_TOPIC_PREFIX, { partitions: 6 }, ['suspectedOutages']).finally(() =>
    admin.disconnect(),
  );
  const feed = new CompactedFeed(
    kafka,
    new AvroCodec(createRegistry(cfg)),
    [
      feedSource(topics.outages, 'Outage', table),
      feedSource(topics.suspectedOutages, 'SuspectedOutage', suspected),
    ],
    logger,
    { groupPrefix: `${cfg.WEB_GROUP_PREFIX}-cli` },
  );
  await feed.start();
  await feed.caughtUp;
  const draw = () => {
    const now = Date.now();
    const ids = new Set([...table.values()].map((x) => x.outage_id));
    const pending = buildSuspectedView(suspected.values(), ids, o.region ?? null);
    const view = buildView(table.values(), {
      now,
      region: o.region ?? null,
      restoredWindowMs: cfg.WEB_RESTORED_WINDOW_H * 3_600_000,
      chartWindowMs: 3_600_000,
    });
    const text = renderOutageTable(view, now, 'Asia/Jakarta', pending.rows);
    // Cursor home and clear: the table updates in place.
    process.stdout.write(o.follow && process.stdout.isTTY ? `\x1b[H\x1b[2J${text}` : `${text}\n`);
  };
  draw();
  if (!o.follow) return void (await feed.stop());
  let dirty = false;
  table.onChange(() => (dirty = true));
  suspected.onChange(() => (dirty = true));
  // Redraw every second (durations tick) and at once after a change.
  setInterval(() => {
    if (process.stdout.isTTY || dirty) draw();
    dirty = false;
  }, 1000);
  await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  await feed.stop();
}

async function command(verb: string, o: CommandOptions & { file?: string; url: string }): Promise<void> {
  const token = process.env.AMI_TOKEN;
  if (!token) throw new ConfigError('set AMI_TOKEN to your API token (ask an admin for one: ami web token)');
  const body = commandBody(verb, o, o.file ? readFileSync(o.file, 'utf8') : undefined);
  const res = await fetch(new URL('/api/commands', o.url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as CommandReport & { error?: string };
  // A refusal (4xx) stays one; a server or gateway failure (5xx) may pass.
  if (answer.error)
    throw new AmiError(`${res.status}: ${answer.error}`, {
      retriable: res.status >= 500,
      code: `http-${res.status}`,
    });
  console.log(formatReport(answer));
  // 0: all sent; 2: something refused or not sent (the report says which).
  if (answer.refused > 0 || answer.failed > 0) process.exitCode = 2;
}

function listOption(v: string | undefined): string[] | undefined {
  const items = (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items.length > 0 ? items : undefined;
}
