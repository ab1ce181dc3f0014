import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, envBoolean, loadCommonConfig, parseConfig, serviceGroupId } from '@ami/lib';
import { loadDetectorConfig } from '../../services/detector/src/config.js';
import { loadLoaderConfig } from '../../services/loader/src/config.js';
import { loadSimulatorConfig } from '../../services/simulator/src/config.js';
import { loadWebConfig } from '../../services/web/src/config.js';

/** The Kafka security settings are checked at start-up, before any connection. */
describe('loadCommonConfig: Kafka SASL and TLS', () => {
  it('needs no credentials without a mechanism', () => {
    const cfg = loadCommonConfig({});
    expect(cfg.KAFKA_SASL_MECHANISM).toBe('none');
    expect(cfg.KAFKA_SSL).toBe(false);
  });

  it.each([
    ['no username and no password', {}],
    ['no password', { KAFKA_SASL_USERNAME: 'simulator' }],
    ['no username', { KAFKA_SASL_PASSWORD: 's3cret-value' }],
    ['an empty password', { KAFKA_SASL_USERNAME: 'simulator', KAFKA_SASL_PASSWORD: '' }],
  ])('refuses a mechanism with %s, naming both variables', (_what, creds: Record<string, string>) => {
    const load = () => loadCommonConfig({ KAFKA_SASL_MECHANISM: 'scram-sha-512', ...creds });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(
      /KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required when KAFKA_SASL_MECHANISM is set/,
    );
  });

  it('never puts the password in the error', () => {
    const password = 'do-not-print-me-7f3a';
    try {
      loadCommonConfig({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_PASSWORD: password });
      expect.unreachable();
    } catch (err) {
      expect(String((err as Error).message)).not.toContain(password);
    }
  });

  it('accepts SCRAM-SHA-512 over TLS with both credentials', () => {
    const cfg = loadCommonConfig({
      KAFKA_BROKERS: 'kafka-1:9094,kafka-2:9094',
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'dashboard',
      KAFKA_SASL_PASSWORD: 'pw',
    });
    expect(cfg).toMatchObject({
      KAFKA_SSL: true,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'dashboard',
    });
  });

  it('refuses an unknown mechanism or TLS flag with the variable named', () => {
    expect(() => loadCommonConfig({ KAFKA_SASL_MECHANISM: 'SCRAM-SHA-1' })).toThrow(/KAFKA_SASL_MECHANISM/);
    expect(() => loadCommonConfig({ KAFKA_SSL: 'maybe' })).toThrow(/KAFKA_SSL/);
  });
});

describe('group and transactional ids follow the topic prefix (issue 19)', () => {
  it('each service derives its consumer group from AMI_TOPIC_PREFIX unless set explicitly', () => {
    const env = { AMI_TOPIC_PREFIX: 'pilot-bali' };
    expect(loadDetectorConfig(env).DETECTOR_GROUP_ID).toBe('pilot-bali-detector');
    expect(loadLoaderConfig(env).LOADER_GROUP_ID).toBe('pilot-bali-loader');
    expect(loadSimulatorConfig(env).HEADEND_GROUP_ID).toBe('pilot-bali-headend');
    expect(loadWebConfig(env).WEB_GROUP_PREFIX).toBe('pilot-bali-web');
    // The default prefix keeps the names used before.
    expect(loadDetectorConfig({}).DETECTOR_GROUP_ID).toBe('ami-detector');
    expect(loadLoaderConfig({}).LOADER_GROUP_ID).toBe('ami-loader');
    expect(loadSimulatorConfig({}).HEADEND_GROUP_ID).toBe('ami-headend');
    expect(loadWebConfig({}).WEB_GROUP_PREFIX).toBe('ami-web');
    expect(loadDetectorConfig({ ...env, DETECTOR_GROUP_ID: 'mine' }).DETECTOR_GROUP_ID).toBe('mine');
  });

  it('two prefixes never share a detector group or transactional id', () => {
    const a = loadDetectorConfig({ AMI_TOPIC_PREFIX: 'a', DETECTOR_INSTANCE_ID: 'host1' });
    const b = loadDetectorConfig({ AMI_TOPIC_PREFIX: 'b', DETECTOR_INSTANCE_ID: 'host1' });
    expect(a.DETECTOR_GROUP_ID).not.toBe(b.DETECTOR_GROUP_ID);
    // output.ts: the transactional id is `<DETECTOR_GROUP_ID>-<DETECTOR_INSTANCE_ID>`.
    expect(`${a.DETECTOR_GROUP_ID}-${a.DETECTOR_INSTANCE_ID}`).not.toBe(
      `${b.DETECTOR_GROUP_ID}-${b.DETECTOR_INSTANCE_ID}`,
    );
    expect(serviceGroupId('a', 'detector')).toBe(a.DETECTOR_GROUP_ID);
  });
});

describe('envBoolean: booleans as booleans', () => {
  const schema = z.object({ FLAG: envBoolean(false), ON: envBoolean(true) });

  it.each([
    ['true', true],
    ['TRUE', true],
    [' yes ', true],
    ['1', true],
    ['false', false],
    ['No', false],
    ['0', false],
  ])('reads %j as %s', (text, value) => {
    expect(parseConfig(schema, { FLAG: text }).FLAG).toBe(value);
  });

  it('gives the documented default when unset', () => {
    expect(parseConfig(schema, {})).toEqual({ FLAG: false, ON: true });
  });

  it.each(['', 'maybe', 'on', '2', 'tru'])(
    'refuses %j with a ConfigError naming the variable and the accepted words',
    (text) => {
      const load = () => parseConfig(schema, { FLAG: text });
      expect(load).toThrow(ConfigError);
      expect(load).toThrow(/FLAG: expected a boolean \(true\/false, 1\/0 or yes\/no\)/);
    },
  );

  it('types every switch of every service as a boolean', () => {
    const env = {
      LOADER_RAW_FETCH: 'no',
      DETECTOR_RAW_FETCH: '0',
      WEB_VIEWS_REQUIRE_AUTH: 'yes',
      KAFKA_SSL: '1',
    };
    expect(loadLoaderConfig(env)).toMatchObject({ LOADER_RAW_FETCH: false, KAFKA_SSL: true });
    expect(loadDetectorConfig(env)).toMatchObject({ DETECTOR_RAW_FETCH: false, DETECTOR_TRACE_STEPS: false });
    expect(loadWebConfig(env)).toMatchObject({ WEB_VIEWS_REQUIRE_AUTH: true, WEB_COOKIE_SECURE: false });
  });

  it('keeps fault injection out of the production configuration', () => {
    for (const cfg of [
      loadLoaderConfig({}),
      loadDetectorConfig({}),
      loadSimulatorConfig({}),
      loadWebConfig({}),
    ])
      expect(Object.keys(cfg).filter((k) => /FAULT|CRASH|INJECT/.test(k))).toEqual([]);
  });
});
