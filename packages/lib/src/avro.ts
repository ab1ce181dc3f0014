import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
// The client's error classes are not re-exported by its index.
import { ConfluentSchemaRegistryCompatibilityError } from '@kafkajs/confluent-schema-registry/dist/errors.js';
import { setTimeout as delay } from 'node:timers/promises';
import { BadRecordError, UnavailableError } from './errors.js';
import type { RecordName, RecordTypes } from './records.js';

/**
 * The two ways a service loses the race to register a subject first: it read the subject's config
 * before the winner set BACKWARD (the client refuses the mismatch), or both set it and the registry
 * refuses the second setting with 409 (a 409 on the version itself, an incompatible schema, is not this).
 */
function lostFirstRegistrationRace(err: unknown): boolean {
  if (err instanceof ConfluentSchemaRegistryCompatibilityError) return true;
  const { status, url } = (err ?? {}) as { status?: unknown; url?: unknown };
  return status === 409 && typeof url === 'string' && url.startsWith('put ') && url.includes('/config/');
}

/** Registrations racing another service's first one on the same subject (see `registerOnce`). */
const REGISTER_ATTEMPTS = 5;
const REGISTER_RETRY_MS = 200;

export const SCHEMA_DIR = fileURLToPath(new URL('../../../schemas/', import.meta.url));
export const RECORD_NAMES: readonly RecordName[] = [
  'MeterProfile',
  'MeterRead',
  'MeterEvent',
  'MeterCommand',
  'Outage',
  'MeterStatus',
  'CommandResult',
  'CallRecord',
  'SuspectedOutage',
];

const localTypes = new Map<RecordName, avro.Type>();

/** The schema text of `schemas/<name>.avsc`, the source of truth. */
export function schemaText(name: RecordName): string {
  return readFileSync(`${SCHEMA_DIR}${name}.avsc`, 'utf8');
}

/** avsc Type of a local schema; longs stay JS numbers (epoch ms and Wh fit in 2^53). */
export function avroType(name: RecordName): avro.Type {
  let type = localTypes.get(name);
  if (!type) {
    type = avro.Type.forSchema(JSON.parse(schemaText(name)) as avro.Schema);
    localTypes.set(name, type);
  }
  return type;
}

const MAGIC_BYTE = 0;

/** Confluent wire format: magic byte 0, 4-byte big-endian schema id, Avro binary. */
export function frame(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out.writeUInt8(MAGIC_BYTE, 0);
  out.writeInt32BE(schemaId, 1);
  body.copy(out, 5);
  return out;
}

export function schemaIdOf(buf: Buffer): number {
  if (buf.length < 5)
    throw new BadRecordError(
      'too-short',
      `message of ${buf.length} bytes is not in the Confluent wire format`,
    );
  if (buf[0] !== MAGIC_BYTE)
    throw new BadRecordError('bad-magic-byte', `magic byte is ${buf[0]}, expected 0`);
  return buf.readInt32BE(1);
}

/**
 * Encodes and decodes contract records in the Confluent wire format.
 * Writer schemas are fetched from the registry once per id and cached, so a
 * registry outage does not stop a running service.
 */
export class AvroCodec {
  private readonly writers = new Map<number, avro.Type>();
  private readonly resolvers = new Map<string, avro.Resolver>();
  private readonly ids = new Map<string, number>();

  constructor(private readonly registry: SchemaRegistry) {}

  /** Registers the local schema of `name` under `subject` and returns its id. */
  async register(name: RecordName, subject: string): Promise<number> {
    const key = `${subject}\u0000${name}`;
    const cached = this.ids.get(key);
    if (cached !== undefined) return cached;
    try {
      const id = await this.registerOnce(name, subject);
      this.ids.set(key, id);
      this.writers.set(id, avroType(name));
      return id;
    } catch (err) {
      throw new UnavailableError(
        'schema-registry',
        `could not register ${name} under ${subject}: ${(err as Error).message}`,
        err,
      );
    }
  }

  /**
   * Services starting together on a new subject race: the first registers the schema and then sets
   * the subject's compatibility to BACKWARD, and another may see the registry's default (NONE) in
   * between or set it a second time (`lostFirstRegistrationRace`). Registering the same schema again
   * is idempotent, so those are retried a few times; anything else fails at once.
   */
  private async registerOnce(name: RecordName, subject: string): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        const { id } = await this.registry.register(
          { type: 'AVRO' as never, schema: schemaText(name) },
          { subject },
        );
        return id;
      } catch (err) {
        if (!lostFirstRegistrationRace(err) || attempt >= REGISTER_ATTEMPTS) throw err;
        await delay(REGISTER_RETRY_MS * attempt);
      }
    }
  }

  /** A synchronous encoder bound to a registered id: the hot path of producers. */
  encoder<N extends RecordName>(name: N, schemaId: number): (value: RecordTypes[N]) => Buffer {
    const type = avroType(name);
    return (value) => frame(schemaId, type.toBuffer(value));
  }

  /** Decode with the writer schema, resolved to the local reader schema of `name`. */
  async decode<N extends RecordName>(name: N, buf: Buffer): Promise<RecordTypes[N]> {
    const id = schemaIdOf(buf);
    if (!this.writers.has(id)) await this.fetchWriter(id);
    return this.decodeKnown(name, id, buf);
  }

  /** Decode when the writer id is already cached; undefined otherwise (then call `decode`). */
  decodeCached<N extends RecordName>(name: N, buf: Buffer): RecordTypes[N] | undefined {
    const id = schemaIdOf(buf);
    if (!this.writers.has(id)) return undefined;
    return this.decodeKnown(name, id, buf);
  }

  /** True when schema id `id` is cached and is exactly the local schema of `name` (its bytes need no resolution). */
  isLocalSchema(name: RecordName, id: number): boolean {
    return this.writers.get(id) === avroType(name);
  }

  private decodeKnown<N extends RecordName>(name: N, id: number, buf: Buffer): RecordTypes[N] {
    const writer = this.writers.get(id)!;
    const reader = avroType(name);
    const body = buf.subarray(5);
    try {
      if (writer === reader) return reader.fromBuffer(body) as RecordTypes[N];
      const key = `${id}\u0000${name}`;
      let resolver = this.resolvers.get(key);
      if (!resolver) {
        resolver = reader.createResolver(writer);
        this.resolvers.set(key, resolver);
      }
      return reader.fromBuffer(body, resolver) as RecordTypes[N];
    } catch (err) {
      throw new BadRecordError(
        'schema-mismatch',
        `not a valid ${name} (schema id ${id}): ${(err as Error).message}`,
        err,
      );
    }
  }

  private async fetchWriter(id: number): Promise<void> {
    try {
      const type = (await this.registry.getSchema(id)) as unknown as avro.Type;
      // Same canonical schema as a local one: decode with it directly, no resolver.
      const local = RECORD_NAMES.map(avroType).find((t) => t.equals(type));
      this.writers.set(id, local ?? type);
    } catch (err) {
      const status = (err as { status?: number }).status;
      const msg = (err as Error).message ?? String(err);
      if (status === 404 || /not found/i.test(msg)) {
        throw new BadRecordError('unknown-schema-id', `schema id ${id} is not in the registry`, err);
      }
      throw new UnavailableError('schema-registry', `could not fetch schema id ${id}: ${msg}`, err);
    }
  }
}
