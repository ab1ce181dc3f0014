import { execSync } from 'node:child_process';
import { chooseEnvironment, type ServiceAddresses } from '../support/environment.js';

function dockerAnswers(): boolean {
  try {
    execSync('docker info', { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
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
    const { startContainers } = await import('../support/containers.js');
    const started = await startContainers();
    env = started.env;
    teardown = started.stop;
  } else {
    const { stackUp, loadStackSettings } = await import('@ami/stack');
    env = (await stackUp(loadStackSettings())) as unknown as ServiceAddresses;
  }
  Object.assign(process.env, env);
  process.stdout.write(`integration tests use ${source}: ${JSON.stringify(env)}\n`);
  return teardown;
}
