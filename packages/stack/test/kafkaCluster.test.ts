import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaClusterComponent, kafkaOfStack } from '../src/kafkaCluster.js';
import { KafkaComponent } from '../src/kafka.js';
import { loadStackSettings } from '../src/settings.js';

describe('the stack’s Kafka: one plain node or a secured cluster', () => {
  const homes: string[] = [];
  afterEach(() => {
    for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
  });
  const settings = (count?: string) => {
    const home = mkdtempSync(join(tmpdir(), 'ami-stack-unit-'));
    homes.push(home);
    return loadStackSettings({ AMI_HOME: home, ...(count ? { KAFKA_BROKERS_COUNT: count } : {}) });
  };

  it('is the single plain node by default', () => {
    expect(kafkaOfStack(settings())).toBeInstanceOf(KafkaComponent);
  });

  it('with 3 brokers: SASL_SSL on 9092/9192/9292, a password per user in secrets.env (0600), the CA for Node', () => {
    const s = settings('3');
    const kafka = kafkaOfStack(s) as KafkaClusterComponent;
    expect(kafka).toBeInstanceOf(KafkaClusterComponent);
    expect(kafka.clientEnv()).toEqual({
      KAFKA_BROKERS: '127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292',
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      NODE_EXTRA_CA_CERTS: join(s.AMI_HOME, 'kafka-cluster', 'tls', 'ca.pem'),
    });
    const secrets = readFileSync(join(s.AMI_HOME, 'secrets.env'), 'utf8');
    for (const user of ['ADMIN', 'REGISTRY', 'SIMULATOR', 'DETECTOR', 'LOADER', 'DASHBOARD'])
      expect(secrets).toMatch(new RegExp(`^KAFKA_${user}_PASSWORD=[A-Za-z0-9_-]{24}$`, 'm'));
    expect(statSync(join(s.AMI_HOME, 'secrets.env')).mode & 0o777).toBe(0o600);
    // The same passwords at the next start.
    expect(new KafkaClusterComponent(s).password('detector')).toBe(kafka.password('detector'));
    expect(kafka.registryClientProperties()['sasl.jaas.config']).toContain('username="registry"');
  });
});
