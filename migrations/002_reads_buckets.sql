-- Per-meter read summaries that billing scans instead of every read.
--
-- Buckets are aligned so that local midnight in WIT (15:00 UTC), WITA (16:00
-- UTC) and WIB (17:00 UTC) is always a bucket start: two one-hour buckets at
-- 15:00 and 16:00 UTC and one 22-hour bucket from 17:00 UTC to 15:00 UTC next
-- day. A local month boundary B then splits buckets cleanly: every read in a
-- bucket starting before B is before B, every read in a bucket starting at or
-- after B is at or after B. Three rows per meter per day instead of 96 reads.
--
-- Every state is idempotent under duplicates (min, max, argMin, argMax,
-- uniqExact), so a redelivered batch, which the materialized view sees again
-- before ReplacingMergeTree collapses it in `reads`, changes nothing.
CREATE TABLE IF NOT EXISTS {{db}}.reads_buckets (
    meter_id String,
    bucket DateTime('UTC'),
    first_at AggregateFunction(min, DateTime('UTC')),
    first_wh AggregateFunction(argMin, Int64, DateTime('UTC')),
    last_at AggregateFunction(max, DateTime('UTC')),
    last_wh AggregateFunction(argMax, Int64, DateTime('UTC')),
    interval_reads AggregateFunction(uniqExactIf, DateTime('UTC'), UInt8),
    interval_s AggregateFunction(minIf, UInt32, UInt8),
    max_demand_w AggregateFunction(max, Int32)
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(bucket)
ORDER BY (meter_id, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.reads_buckets_mv TO {{db}}.reads_buckets AS
SELECT
    meter_id,
    if(toHour(read_at) IN (15, 16), toStartOfHour(read_at), toStartOfDay(read_at - 61200) + 61200) AS bucket,
    minState(read_at) AS first_at,
    argMinState(energy_import_wh, read_at) AS first_wh,
    maxState(read_at) AS last_at,
    argMaxState(energy_import_wh, read_at) AS last_wh,
    uniqExactIfState(read_at, kind = 'INTERVAL') AS interval_reads,
    minIfState(interval_s, kind = 'INTERVAL') AS interval_s,
    maxState(demand_w) AS max_demand_w
FROM {{db}}.reads
GROUP BY meter_id, bucket;
