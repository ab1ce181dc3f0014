import { UnsupportedVersionError } from './kafkaErrors.js';

/**
 * The Kafka APIs this client speaks, each with the versions it implements
 * (encoders and decoders in messages/) and the first flexible version (compact
 * strings and arrays, tagged fields, request header v2). A request's version is
 * the highest one both sides accept (`chooseVersion`, from the broker's
 * ApiVersions answer at connect).
 *
 * Every API keeps a version that both Kafka 3.9 and 4.x accept: Kafka 4.0
 * removed Produce v0-2 and Fetch v0-3 (KIP-896), the lowest kept here are
 * Produce v3 and Fetch v4.
 */
export interface ApiSpec {
  key: number;
  name: string;
  /** Versions with an encoder and decoder here, ascending. */
  implemented: readonly number[];
  /** First flexible version (Infinity: none here is). */
  flexibleFrom: number;
}

function api(key: number, name: string, from: number, to: number, flexibleFrom: number): ApiSpec {
  return { key, name, implemented: Array.from({ length: to - from + 1 }, (_, i) => from + i), flexibleFrom };
}

export const APIS = {
  produce: api(0, 'Produce', 3, 8, 9),
  fetch: api(1, 'Fetch', 4, 11, 12),
  metadata: api(3, 'Metadata', 1, 1, 9),
  findCoordinator: api(10, 'FindCoordinator', 1, 2, 3),
  saslHandshake: api(17, 'SaslHandshake', 1, 1, Infinity),
  apiVersions: api(18, 'ApiVersions', 0, 3, 3),
  initProducerId: api(22, 'InitProducerId', 0, 1, 2),
  addPartitionsToTxn: api(24, 'AddPartitionsToTxn', 0, 2, 3),
  addOffsetsToTxn: api(25, 'AddOffsetsToTxn', 0, 2, 3),
  endTxn: api(26, 'EndTxn', 0, 2, 3),
  txnOffsetCommit: api(28, 'TxnOffsetCommit', 0, 3, 3),
  saslAuthenticate: api(36, 'SaslAuthenticate', 0, 2, 2),
} as const satisfies Record<string, ApiSpec>;

const BY_KEY = new Map<number, ApiSpec>(Object.values(APIS).map((a) => [a.key, a]));

/** Whether `version` of API `key` is flexible (request header v2, response header v1). */
export function isFlexible(key: number, version: number): boolean {
  return version >= (BY_KEY.get(key)?.flexibleFrom ?? Infinity);
}

/** A broker's ApiVersions answer: api key -> [min, max]. */
export type BrokerVersions = ReadonlyMap<number, readonly [number, number]>;

/**
 * The highest version of `spec` this client implements within the broker's
 * range; UnsupportedVersionError (not retriable) when there is none.
 */
export function chooseVersion(spec: ApiSpec, broker: BrokerVersions): number {
  const range = broker.get(spec.key);
  if (range)
    for (let i = spec.implemented.length - 1; i >= 0; i--) {
      const v = spec.implemented[i]!;
      if (v >= range[0] && v <= range[1]) return v;
    }
  throw new UnsupportedVersionError(spec.name, spec.implemented, range);
}
