import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonComponent, installJarsOnce } from './component.js';
import { kafkaClusterAnswers } from './processes.js';
import type { StackSettings } from './settings.js';

/**
 * A KRaft cluster id: 16 random bytes, base64url without padding. One in 64 starts with '-',
 * which the storage tool's argument parser takes for an option: draw again.
 */
export function newKraftClusterId(): string {
  let id = randomBytes(16).toString('base64url');
  while (id.startsWith('-')) id = randomBytes(16).toString('base64url');
  return id;
}

/**
 * The Kafka release the stack installs (the newest 4.x on Maven Central). Its jars go to
 * `AMI_HOME/kafka/libs-<version>`, so a broker still running from another release's jars
 * is not disturbed by an install; it runs the new release from its next start.
 */
export const KAFKA_VERSION = '4.4.0';

/** Kafka's jars for `version` under `kafkaHome`, fetched from Maven Central when missing. */
export function installKafkaJars(
  kafkaHome: string,
  maven: (outputDirectory: string) => void,
  version = KAFKA_VERSION,
): string {
  return installJarsOnce(join(kafkaHome, `libs-${version}`), `kafka_2.13-${version}.jar`, maven);
}

/** log4j2 configuration of the broker and its tools: warnings, plus the start-up lines of `extraLoggers`. */
export function log4j2Properties(extraLoggers: Record<string, string> = {}): string {
  const loggers = Object.entries({
    'kafka.server.KafkaRaftServer': 'INFO',
    'kafka.server.BrokerServer': 'INFO',
    ...extraLoggers,
  });
  return `# Written by packages/stack/src/kafka.ts.
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=WARN
rootLogger.appenderRef.stdout.ref=STDOUT
${loggers
  .map(
    ([name, level], i) => `logger.l${i}.name=${name}
logger.l${i}.level=${level}
`,
  )
  .join('')}`;
}

/**
 * Apache Kafka 4.x, single node in KRaft mode (broker and controller in one
 * process), run from the jars that Maven fetches from Maven Central into
 * AMI_HOME. Kafka 4 removed the protocol versions older than 2.1's (KIP-896):
 * the wire client starts at Produce v3 and Fetch v4, and kafkajs 2.2.4's
 * group, offset and admin requests are still served (tests/integration/kafka.test.ts).
 */
export class KafkaComponent extends DaemonComponent {
  constructor(s: StackSettings) {
    super('kafka', s, 'kafka', 30_000);
  }

  get address(): string {
    return `${this.s.STACK_HOST}:${this.s.KAFKA_PORT}`;
  }

  /** The jars of KAFKA_VERSION (present once `install` ran). */
  get libs(): string {
    return join(this.home, `libs-${KAFKA_VERSION}`);
  }

  async install(): Promise<void> {
    installKafkaJars(this.home, (outputDirectory) =>
      this.maven('kafka/pom.xml', 'dependency:copy-dependencies', {
        outputDirectory,
        includeScope: 'runtime',
        'kafka.version': KAFKA_VERSION,
      }),
    );
  }

  /** Run a Kafka tool class (StorageTool, ProducerPerformance, ...) from the same jars. */
  javaArgs(mainClass: string, args: string[], heap = '512m'): string[] {
    return [
      `-Xmx${heap}`,
      `-Dlog4j2.configurationFile=${join(this.home, 'log4j2.properties')}`,
      '-cp',
      `${this.libs}/*`,
      mainClass,
      ...args,
    ];
  }

  private writeConfig(): string {
    const dataDir = join(this.home, 'data');
    const { STACK_HOST: host, KAFKA_PORT: port, KAFKA_CONTROLLER_PORT: cport } = this.s;
    const props = `# Written by \`ami stack up\`; edit packages/stack/src/kafka.ts instead.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${host}:${cport}
listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${cport}
advertised.listeners=PLAINTEXT://${host}:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${dataDir}
num.partitions=6
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
message.max.bytes=10485760
log.retention.hours=168
log.segment.bytes=268435456
`;
    mkdirSync(this.home, { recursive: true });
    const file = join(this.home, 'server.properties');
    writeFileSync(file, props);
    writeFileSync(join(this.home, 'log4j2.properties'), log4j2Properties());
    return file;
  }

  private formatStorage(configFile: string): void {
    if (existsSync(join(this.home, 'data', 'meta.properties'))) return;
    execFileSync(
      'java',
      this.javaArgs('kafka.tools.StorageTool', ['format', '-t', newKraftClusterId(), '-c', configFile]),
      {
        stdio: 'pipe',
      },
    );
  }

  async start(): Promise<void> {
    if (this.running()) return;
    const configFile = this.writeConfig();
    this.formatStorage(configFile);
    this.spawn({
      command: 'java',
      args: [`-Xms${this.s.KAFKA_HEAP}`, ...this.javaArgs('kafka.Kafka', [configFile], this.s.KAFKA_HEAP)],
    });
  }

  async healthy(): Promise<boolean> {
    return this.running() && (await kafkaClusterAnswers(this.address));
  }
}
