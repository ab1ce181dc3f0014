import { readFileSync } from 'node:fs';

/**
 * The records of the compressed-batch fixtures (fixtures/compressed/): what
 * was produced, regenerated here so a fixture is checked record by record.
 * Varied enough that the codecs work (IDPEL-like keys, readings, a few
 * pseudo-random bytes), with null keys, tombstones and headers among them,
 * and long enough (~90 kB) for several xerial snappy (32 kB) and LZ4 (64 kB) blocks.
 */
export interface FixtureRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
}

export const FIXTURE_RECORDS = 1_000;

export function fixtureRecords(n = FIXTURE_RECORDS): FixtureRecord[] {
  let seed = 18;
  const noise = () => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed & 0xff;
  };
  return Array.from({ length: n }, (_, i): FixtureRecord => {
    const idpel = `5${String(10_000_000_000 + i * 37)}`;
    const text = `read ${i} idpel=${idpel} kwh=${(i * 7919) % 100_000} gardu=GD-${i % 13} `;
    const value = Buffer.concat([Buffer.from(text), Buffer.from(Array.from({ length: 12 }, noise))]);
    return {
      key: i % 97 === 0 ? null : Buffer.from(idpel),
      value: i % 89 === 5 ? null : value,
      headers: i % 50 === 0 ? { source: Buffer.from(`fixture-${i}`) } : {},
    };
  });
}

/** One captured record set: a fetch answer's records for partition 0 from offset 0. */
export interface CapturedSet {
  /** File under fixtures/compressed/. */
  file: string;
  codec: 'gzip' | 'snappy' | 'lz4' | 'zstd';
  /** librdkafka (python3-confluent-kafka) or the broker (Java, recompressing for the topic's compression.type). */
  writer: 'librdkafka' | 'broker';
  batches: number;
}

export interface CompressedManifest {
  _about: string;
  kafka: string;
  captured: string;
  records: number;
  sets: CapturedSet[];
  /** A whole Fetch v11 answer (body after the header) for partition 0 of `topic`, whose records are `set`. */
  fetchV11: { file: string; topic: string; set: string };
}

const dir = new URL('../fixtures/compressed/', import.meta.url);

export function compressedManifest(): CompressedManifest {
  return JSON.parse(readFileSync(new URL('manifest.json', dir), 'utf8')) as CompressedManifest;
}

export function capturedRecords(set: Pick<CapturedSet, 'file'>): Buffer {
  return readFileSync(new URL(set.file, dir));
}

export const fixtureDir = dir;
