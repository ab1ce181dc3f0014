import { describe, expect, it } from 'vitest';
import { chooseEnvironment } from './environment.js';

describe('chooseEnvironment', () => {
  const all = {
    KAFKA_BROKERS: 'k:9092',
    SCHEMA_REGISTRY_URL: 'http://r:8081',
    CLICKHOUSE_URL: 'http://c:8123',
  };

  it('uses the given addresses when all three are set, even with Docker', () => {
    expect(chooseEnvironment(all, true)).toBe('external');
  });

  it('starts containers when an address is missing and Docker answers', () => {
    expect(chooseEnvironment({ ...all, CLICKHOUSE_URL: undefined }, true)).toBe('containers');
  });

  it('falls back to the local stack without Docker', () => {
    expect(chooseEnvironment({}, false)).toBe('local-stack');
    expect(chooseEnvironment({ KAFKA_BROKERS: 'k:9092' }, false)).toBe('local-stack');
  });
});
