import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ClickHouseComponent,
  KafkaComponent,
  RegistryComponent,
  freePorts,
  loadStackSettings,
  stackDown,
  stackUp,
  type StackSettings,
} from '@ami/stack';
import { readPid } from '@ami/stack/processes';

/**
 * A second Kafka + registry + ClickHouse beside the main stack, on free ports,
 * with its own AMI_HOME under /tmp. Jars come from the main stack's AMI_HOME
 * (AMI_HOME, default .ami) by symlink (nothing is downloaded twice). Fault tests kill and stop its parts
 * without disturbing the stack the other tests use.
 */
export class PrivateStack {
  readonly settings: StackSettings;
  readonly kafka: KafkaComponent;
  readonly registry: RegistryComponent;
  readonly clickhouse: ClickHouseComponent;
  /** KAFKA_BROKERS, SCHEMA_REGISTRY_URL, CLICKHOUSE_URL of this stack. */
  env: Record<string, string> = {};

  private constructor(
    readonly home: string,
    ports: number[],
  ) {
    const [kafka, controller, registry, http, tcp] = ports as [number, number, number, number, number];
    this.settings = loadStackSettings({
      AMI_HOME: home,
      KAFKA_PORT: String(kafka),
      KAFKA_CONTROLLER_PORT: String(controller),
      SCHEMA_REGISTRY_PORT: String(registry),
      CLICKHOUSE_HTTP_PORT: String(http),
      CLICKHOUSE_TCP_PORT: String(tcp),
      KAFKA_HEAP: '512m',
      STACK_START_TIMEOUT_S: '150',
    });
    this.kafka = new KafkaComponent(this.settings);
    this.registry = new RegistryComponent(this.settings);
    this.clickhouse = new ClickHouseComponent(this.settings);
  }

  static async start(tag: string, mainHome = loadStackSettings().AMI_HOME): Promise<PrivateStack> {
    const home = mkdtempSync(join(tmpdir(), `ami-${tag}-`));
    const stack = new PrivateStack(home, await freePorts(5));
    // The main stack's Kafka jars (fetched there if missing) and registry.
    const mainKafka = new KafkaComponent(loadStackSettings({ AMI_HOME: mainHome }));
    await mainKafka.install();
    mkdirSync(join(home, 'kafka'), { recursive: true });
    symlinkSync(mainKafka.libs, stack.kafka.libs);
    symlinkSync(join(mainHome, 'registry'), join(home, 'registry'));
    PrivateStack.running.add(stack);
    try {
      stack.env = await stackUp(stack.settings);
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  private static readonly running = new Set<PrivateStack>();
  static {
    // A test runner that dies without afterAll must not leave JVMs behind.
    process.once('exit', () => {
      for (const s of PrivateStack.running) s.killAll();
    });
  }

  /** SIGKILL the broker (no clean shutdown), wait until it is gone. */
  async killKafka(): Promise<void> {
    const pid = readPid(join(this.home, 'run', 'kafka.pid'));
    if (pid === undefined) throw new Error('kafka is not running');
    process.kill(pid, 'SIGKILL');
    while (this.kafka.running()) await sleep(50);
  }

  /** Start a component again and wait until it answers. */
  async restart(
    c: KafkaComponent | RegistryComponent | ClickHouseComponent,
    timeoutMs = 120_000,
  ): Promise<number> {
    const t0 = Date.now();
    await c.start();
    while (!(await c.healthy().catch(() => false))) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`${c.name} not healthy after ${timeoutMs} ms`);
      await sleep(250);
    }
    return Date.now() - t0;
  }

  async stop(): Promise<void> {
    await stackDown(this.settings).catch(() => undefined);
    PrivateStack.running.delete(this);
    rmSync(this.home, { recursive: true, force: true });
  }

  /** Last resort on process exit: SIGKILL every process group of this stack. */
  private killAll(): void {
    for (const name of ['kafka', 'schema-registry', 'clickhouse']) {
      const pid = readPid(join(this.home, 'run', `${name}.pid`));
      if (pid === undefined) continue;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }
}
