import { Reader, Writer } from '../protocol.js';
import { UNSUPPORTED_VERSION } from '../kafkaErrors.js';

/** ApiVersions v0-3: the version range of every API the broker serves. */

export const CLIENT_SOFTWARE_NAME = 'ami-pipeline-wire';
export const CLIENT_SOFTWARE_VERSION = '1.0.0';

export function encodeApiVersionsRequest(version: number): Buffer[] {
  if (version < 3) return [];
  return new Writer()
    .compactString(CLIENT_SOFTWARE_NAME)
    .compactString(CLIENT_SOFTWARE_VERSION)
    .tags()
    .done();
}

export interface ApiVersionsAnswer {
  code: number;
  versions: Map<number, readonly [number, number]>;
}

/**
 * An ApiVersions answer. A broker that does not serve the version asked for
 * answers UNSUPPORTED_VERSION in the v0 layout, with its ApiVersions range
 * among the keys, so the client can ask again at a version it accepts.
 */
export function decodeApiVersionsResponse(body: Buffer, version: number): ApiVersionsAnswer {
  const r = new Reader(body);
  const code = r.int16();
  const versions = new Map<number, readonly [number, number]>();
  const flexible = version >= 3 && code !== UNSUPPORTED_VERSION;
  for (let n = flexible ? r.compactArray() : r.int32(); n > 0; n--) {
    const key = r.int16();
    versions.set(key, [r.int16(), r.int16()]);
    if (flexible) r.skipTags();
  }
  return { code, versions };
}
