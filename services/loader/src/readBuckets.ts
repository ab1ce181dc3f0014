import { bucketSql } from './timezones.js';

/**
 * The read buckets' table and view, stated once for the two migrations that write them (002 created
 * them, 008 moved them to day partitions) as `{{read_bucket_columns}}` and `{{read_buckets_select}}`.
 * Their bucket expression comes from the local-day boundary of timezones.ts: no migration carries
 * hours of its own.
 */

/** The read buckets' columns: aggregate states, each idempotent under a redelivered read. */
export const READ_BUCKET_COLUMNS = `
    meter_id String,
    bucket DateTime('UTC'),
    first_at AggregateFunction(min, DateTime('UTC')),
    first_wh AggregateFunction(argMin, Int64, DateTime('UTC')),
    last_at AggregateFunction(max, DateTime('UTC')),
    last_wh AggregateFunction(argMax, Int64, DateTime('UTC')),
    interval_reads AggregateFunction(uniqExactIf, DateTime('UTC'), UInt8),
    interval_s AggregateFunction(minIf, UInt32, UInt8),
    max_demand_w AggregateFunction(max, Int32)
`;

/** The view query that fills a read buckets table from `reads` ({{db}} filled after). */
export const READ_BUCKETS_SELECT = `SELECT
    meter_id,
    ${bucketSql('read_at')} AS bucket,
    minState(read_at) AS first_at,
    argMinState(energy_import_wh, read_at) AS first_wh,
    maxState(read_at) AS last_at,
    argMaxState(energy_import_wh, read_at) AS last_wh,
    uniqExactIfState(read_at, kind = 'INTERVAL') AS interval_reads,
    minIfState(interval_s, kind = 'INTERVAL') AS interval_s,
    maxState(demand_w) AS max_demand_w
FROM {{db}}.reads
GROUP BY meter_id, bucket`;
