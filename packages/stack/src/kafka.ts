import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonComponent } from './component.js';
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
 * Apache Kafka 3.9 (the last line whose every API version kafkajs 2.2 speaks),
 * single node in KRaft mode (broker and controller in one process), run from
 * the jars that Maven fetches from Maven Central into AMI_HOME.
 */
export class KafkaComponent extends DaemonComponent {
  constructor(s: StackSettings) {
    super('kafka', s, 'kafka', 30_000);
  }

  get address(): string {
    return `${this.s.STACK_HOST}:${this.s.KAFKA_PORT}`;
  }

  get libs(): string {
    return join(this.home, 'libs');
  }

  async install(): Promise<void> {
    if (existsSync(this.libs) && readdirSync(this.libs).some((f) => f.startsWith('kafka_2.13-'))) return;
    this.maven('kafka/pom.xml', 'dependency:copy-dependencies', {
      outputDirectory: this.libs,
      includeScope: 'runtime',
    });
  }

  /** Run a Kafka tool class (StorageTool, ProducerPerformance, ...) from the same jars. */
  javaArgs(mainClass: string, args: string[], heap = '512m'): string[] {
    return [
      `-Xmx${heap}`,
      `-Dlog4j.configuration=file:${join(this.home, 'log4j.properties')}`,
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
    writeFileSync(
      join(this.home, 'log4j.properties'),
      `log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
`,
    );
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
