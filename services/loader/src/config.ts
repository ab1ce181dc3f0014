import { z } from 'zod';
import { commonConfigSchema, envBoolean, parseConfig, serviceGroupId } from '@ami/lib';

/** Loader settings; defaults fit the local stack (see README.md). */
const loaderFields = commonConfigSchema.extend({
  /**
   * Consumer group of the loaders of one pipeline; default `<AMI_TOPIC_PREFIX>-loader`
   * (`ami-loader`), so loaders of other prefixes on the same cluster never share it.
   */
  LOADER_GROUP_ID: z.string().min(1).optional(),
  /**
   * The ClickHouse cluster (a `remote_servers` name) that `ami db migrate` creates the tables on:
   * Replicated*MergeTree `<table>_local` on every replica and a Distributed `<table>` over them,
   * ON CLUSTER (services/loader/src/migrateCluster.ts). Default none: one server, tables as
   * the migration files say. The loader itself writes `<table>` either way.
   */
  CLICKHOUSE_CLUSTER: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a plain identifier')
    .optional(),
  /** Partitions of the contract topics the loader creates when they are missing (tests, local stack). */
  LOADER_PARTITIONS: z.coerce.number().int().min(1).default(6),
  /**
   * A table's buffer is flushed when it holds this many rows... (200k: fewer, bigger parts;
   * at ~400k reads/s still about two inserts a second. Rows waiting for ClickHouse are
   * capped at twice this: ~20 MB of RowBinary.)
   */
  LOADER_BATCH_ROWS: z.coerce.number().int().positive().default(200_000),
  /** ...or when its oldest row waited this long (about one insert per second per table). */
  LOADER_FLUSH_MS: z.coerce.number().int().positive().default(1000),
  /** A big flush of one table is split into up to this many concurrent INSERTs. */
  LOADER_PARALLEL_INSERTS: z.coerce.number().int().min(1).max(8).default(2),
  /** Backoff while ClickHouse refuses inserts: doubles from min to max. */
  LOADER_RETRY_MIN_MS: z.coerce.number().int().positive().default(500),
  LOADER_RETRY_MAX_MS: z.coerce.number().int().positive().default(30_000),
  /** Wall-clock ms between pings of ClickHouse: readiness says not-ready while it refuses, even when idle. */
  LOADER_HEALTH_PROBE_MS: z.coerce.number().int().positive().default(5_000),
  /** Kafka group session timeout: how soon a dead loader's partitions move to a live one. */
  LOADER_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).default(30_000),
  /** Refresh billing_usage for the current and previous month this often; 0 disables. */
  LOADER_BILLING_REFRESH_S: z.coerce.number().int().min(0).default(300),
  /** Days before and after a period searched for a boundary's neighbour reads. */
  BILLING_LOOKAROUND_DAYS: z.coerce.number().int().positive().max(366).default(31),
  /**
   * A day already summarised for billing (reads_days) is summarised again when reads arrived
   * for it this many seconds before its summary or later: the bound on the time between an
   * INSERT stamping its arrival and its buckets becoming visible (one block's views).
   */
  BILLING_SETTLE_S: z.coerce.number().int().min(0).max(3600).default(60),
  /**
   * A read whose demand_w is above daya_va (contracted VA) times this factor is
   * dead-lettered as demand-above-rating. 1.5: W is not VA, the MCB trips a
   * little above daya and a meter's interval mean can overshoot with its
   * accuracy class; a higher factor only lets through more nonsense.
   */
  LOADER_DEMAND_RATING_FACTOR: z.coerce.number().min(1).max(100).default(1.5),
  /**
   * A read or event that fails a meters-table check waits up to this long for
   * the in-memory meters table to reach the meters topic's end (a profile
   * published just before it); longer counts as Kafka unavailable (retried).
   */
  LOADER_METERS_CATCHUP_MS: z.coerce.number().int().positive().default(30_000),
  /**
   * Fetch the reads topic with the raw wire-protocol fetch (packages/lib/src/kafkaWire/fetch.ts)
   * instead of kafkajs messages: kafkajs keeps the group and the commits. With and without
   * SASL/TLS, compressed batches included.
   */
  LOADER_RAW_FETCH: envBoolean(true),
});

export const loaderConfigSchema = loaderFields.transform((c) => ({
  ...c,
  LOADER_GROUP_ID: c.LOADER_GROUP_ID ?? serviceGroupId(c.AMI_TOPIC_PREFIX, 'loader'),
}));

export type LoaderConfig = z.infer<typeof loaderConfigSchema>;

export function loadLoaderConfig(env: Record<string, string | undefined> = process.env): LoaderConfig {
  return parseConfig(loaderConfigSchema, env);
}
