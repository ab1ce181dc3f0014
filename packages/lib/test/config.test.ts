import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, envBoolean, loadCommonConfig, parseConfig } from '../src/index.js';

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
});
