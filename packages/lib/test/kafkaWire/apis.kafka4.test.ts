import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { APIS, chooseVersion } from '../../src/kafkaWire/index.js';
import { decodeApiVersionsResponse } from '../../src/kafkaWire/messages/apiVersions.js';
import { decodeMetadataResponse } from '../../src/kafkaWire/messages/metadata.js';

/** Response bodies captured from real brokers by `fixtures/captureResponses.ts`. */
const captured = (release: string) => {
  const json = JSON.parse(
    readFileSync(new URL(`../fixtures/kafka-${release}-responses.json`, import.meta.url), 'utf8'),
  ) as Record<string, string>;
  return (name: string) => Buffer.from(json[name]!, 'hex');
};

describe('the stack moved from Kafka 3.9.1 to 4.4.0: negotiation against both', () => {
  const chosenOn = (release: string) => {
    const versions = decodeApiVersionsResponse(captured(release)('apiVersionsV3'), 3).versions;
    return Object.fromEntries(
      Object.entries(APIS).map(([name, spec]) => [name, chooseVersion(spec, versions)]),
    );
  };

  // Kafka 4 removed Fetch v0-3 (KIP-896); it still advertises Produce v0-2 (KAFKA-18659) but serves them no more.
  it.each([
    ['3.9.1', { produce: [0, 11], fetch: [0, 17], txnOffsetCommit: [0, 4] }],
    ['4.4.0', { produce: [0, 13], fetch: [4, 18], txnOffsetCommit: [0, 6] }],
  ] as const)(
    'Kafka %s: ranges decoded alike from ApiVersions v3 and v0; every API at the highest version both sides implement',
    (release, ranges) => {
      const hex = captured(release);
      const v3 = decodeApiVersionsResponse(hex('apiVersionsV3'), 3);
      expect(v3.code).toBe(0);
      expect(decodeApiVersionsResponse(hex('apiVersionsV0'), 0).versions).toEqual(v3.versions);
      for (const [api, range] of Object.entries(ranges))
        expect(v3.versions.get(APIS[api as keyof typeof APIS].key), api).toEqual(range);
      for (const [name, spec] of Object.entries(APIS)) {
        const [min, max] = v3.versions.get(spec.key)!;
        const both = spec.implemented.filter((v) => v >= min && v <= max);
        expect(chooseVersion(spec, v3.versions), name).toBe(Math.max(...both));
      }
    },
  );

  it('sends the same versions to 4.4.0 as to 3.9.1: the upgrade changes nothing on the wire', () => {
    expect(chosenOn('4.4.0')).toEqual(chosenOn('3.9.1'));
  });

  it('decodes Kafka 4.4.0’s Metadata v1 answers: an unknown topic, the leaders of a topic of 3 partitions', () => {
    const hex = captured('4.4.0');
    const missing = decodeMetadataResponse(hex('metadataV1'), 1);
    expect(missing.brokers.get(1)?.host).toBe('127.0.0.1');
    expect([...missing.topics.values()]).toEqual([{ code: 3, leaders: [] }]);
    const topic = decodeMetadataResponse(hex('metadataV1Topic'), 1);
    expect(topic.topics.get('fixture-reads')).toEqual({ code: 0, leaders: [1, 1, 1] });
  });
});
