import { execSync } from 'node:child_process';
import { chooseEnvironment, type ServiceAddresses } from './environment.js';

function dockerAnswers(): boolean {
  try {
    execSync('docker info', { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Every migrated test database `<name>_<time>_<hex>` has its command audit beside it
 * (`auditDatabases`); tests drop their own database. Drop the audit databases left without one.
 */
async function dropOrphanAuditDatabases(): Promise<void> {
  const { createClickHouse, loadCommonConfig, sqlIdent } = await import('@ami/lib');
  const ch = createClickHouse(loadCommonConfig());
  try {
    const rs = await ch.query({
      query: `SELECT name FROM system.databases WHERE match(name, '_[0-9a-z]{8}_[0-9a-f]{6}_audit(_inbox)?$')
                AND replaceRegexpOne(name, '_audit(_inbox)?$', '') NOT IN (SELECT name FROM system.databases)`,
      format: 'JSONEachRow',
    });
    for (const { name } of await rs.json<{ name: string }>())
      await ch.command({ query: `DROP DATABASE IF EXISTS ${sqlIdent(name)}` });
  } finally {
    await ch.close();
  }
}

/** Runs once before the integration project: makes sure the services answer. */
export default async function setup(): Promise<() => Promise<void>> {
  const source = chooseEnvironment(process.env, dockerAnswers());
  let env: ServiceAddresses;
  let teardown = async () => undefined as void;
  if (source === 'external') {
    env = {
      KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
      SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL!,
      CLICKHOUSE_URL: process.env.CLICKHOUSE_URL!,
    };
  } else if (source === 'containers') {
    const { startContainers } = await import('./containers.js');
    const started = await startContainers();
    env = started.env;
    teardown = started.stop;
  } else {
    const { stackUp, loadStackSettings } = await import('@ami/stack');
    env = (await stackUp(loadStackSettings())) as unknown as ServiceAddresses;
  }
  Object.assign(process.env, env);
  process.stdout.write(`integration tests use ${source}: ${JSON.stringify(env)}\n`);
  return async () => {
    await dropOrphanAuditDatabases().catch((err: unknown) =>
      process.stderr.write(`orphan audit databases not dropped: ${String(err)}\n`),
    );
    await teardown();
  };
}
