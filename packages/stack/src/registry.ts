import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonComponent } from './component.js';
import { httpOk } from './processes.js';
import { CCOMPAT_PATH, type StackSettings } from './settings.js';
import { NotInstalledError } from '@ami/lib';

/**
 * Apicurio Registry 3.0.9 (the newest release built for Java 17), from
 * Maven Central, serving the Confluent REST API. Schemas are stored in Kafka
 * topics (kafkasql storage) with unlimited retention, so they survive
 * restarts exactly like Confluent's `_schemas` topic.
 */
export class RegistryComponent extends DaemonComponent {
  /**
   * `kafka`: the bootstrap list and the Kafka client properties of its storage
   * (SASL_SSL on the secured cluster); default the single plain node.
   */
  constructor(
    s: StackSettings,
    private readonly kafka?: { bootstrap: string; properties: Record<string, string> },
  ) {
    super('schema-registry', s, 'registry', 15_000);
  }

  get address(): string {
    return `http://${this.s.STACK_HOST}:${this.s.SCHEMA_REGISTRY_PORT}${CCOMPAT_PATH}`;
  }

  private runnerJar(): string | undefined {
    if (!existsSync(this.home)) return undefined;
    const jar = readdirSync(this.home).find((f) => /^apicurio-registry-app-.*-runner\.jar$/.test(f));
    return jar && join(this.home, jar);
  }

  async install(): Promise<void> {
    if (this.runnerJar()) return;
    this.maven('registry/pom.xml', 'dependency:unpack', { 'registry.dir': this.home });
  }

  async start(): Promise<void> {
    if (this.running()) return;
    const jar = this.runnerJar();
    if (!jar)
      throw new NotInstalledError(
        `schema registry is not installed in ${this.home} (ami stack up installs it)`,
      );
    const kafka = this.kafka?.bootstrap ?? `${this.s.STACK_HOST}:${this.s.KAFKA_PORT}`;
    // The same client properties for its producer, consumer, admin and events producer.
    const clientProps = Object.entries(this.kafka?.properties ?? {}).flatMap(([k, v]) =>
      [
        'apicurio.kafkasql.producer',
        'apicurio.kafkasql.consumer',
        'apicurio.kafkasql.admin',
        'apicurio.events.kafka.config',
      ].map((prefix) => [`${prefix}.${k}`, v] as const),
    );
    const props: Record<string, string> = {
      ...Object.fromEntries(clientProps),
      'quarkus.http.host': this.s.STACK_HOST,
      'quarkus.http.port': String(this.s.SCHEMA_REGISTRY_PORT),
      'apicurio.storage.kind': 'kafkasql',
      'apicurio.kafkasql.bootstrap.servers': kafka,
      'apicurio.kafkasql.topic': '_ami-registry-journal',
      'apicurio.kafkasql.snapshots.topic': '_ami-registry-snapshots',
      'apicurio.events.kafka.topic': '_ami-registry-events',
      'apicurio.events.kafka.config.bootstrap.servers': kafka,
      // The broker default (7 days) would silently delete the schemas.
      'apicurio.kafkasql.topic.retention.ms': '-1',
      'apicurio.kafkasql.topic.retention.bytes': '-1',
      // Confluent's default; `ami schemas register` also sets it per subject.
      'apicurio.rules.global.compatibility': 'BACKWARD',
    };
    this.spawn({
      command: 'java',
      args: [
        '-Xmx256m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        ...Object.entries(props).map(([k, v]) => `-D${k}=${v}`),
        '-jar',
        jar,
      ],
      cwd: this.home,
    });
  }

  async healthy(): Promise<boolean> {
    return this.running() && (await httpOk(`${this.address}/subjects`));
  }
}
