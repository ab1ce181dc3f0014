-- Per-meter read summaries that billing scans instead of every read.
--
-- Buckets are aligned so that local midnight in WIT (15:00 UTC), WITA (16:00
-- UTC) and WIB (17:00 UTC) is always a bucket start: two one-hour buckets at
-- 15:00 and 16:00 UTC and one 22-hour bucket from 17:00 UTC to 15:00 UTC next
-- day. A local month boundary B then splits buckets cleanly: every read in a
-- bucket starting before B is before B, every read in a bucket starting at or
-- after B is at or after B. Three rows per meter per day instead of 96 reads.
--
-- The columns and the view's query are services/loader/src/readBuckets.ts (008
-- writes the same buckets), the bucket expression timezones.ts' bucketSql.
-- Every state is idempotent under duplicates (min, max, argMin, argMax,
-- uniqExact), so a redelivered batch, which the materialized view sees again
-- before ReplacingMergeTree collapses it in `reads`, changes nothing.
CREATE TABLE IF NOT EXISTS {{db}}.reads_buckets ({{read_bucket_columns}}) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(bucket)
ORDER BY (meter_id, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.reads_buckets_mv TO {{db}}.reads_buckets AS
{{read_buckets_select}};
