-- Billing summaries by day (services/loader/README.md "Billing speed").
--
-- 1. reads_buckets_daily replaces reads_buckets (002): the same buckets and
--    states, partitioned by day unit instead of month. The key starts with
--    meter_id, so a time range alone cannot skip granules: reading one day of
--    a month-partitioned table read (and merged, FINAL) the whole month. With a
--    partition per unit a day is read alone. reads_buckets is backfilled into
--    it and no longer fed (its view is dropped: one bucket view per insert);
--    the old table stays for reading and can be dropped by hand.
CREATE TABLE IF NOT EXISTS {{db}}.reads_buckets_daily ({{read_bucket_columns}}) ENGINE = AggregatingMergeTree()
PARTITION BY {{day_unit:bucket}}
ORDER BY (meter_id, bucket);

-- The view first, then the backfill: a read inserted in between lands in both
-- ways, which the idempotent states absorb; none is missed.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.reads_buckets_daily_mv TO {{db}}.reads_buckets_daily AS
{{read_buckets_select}};

INSERT INTO {{db}}.reads_buckets_daily
SELECT meter_id, bucket, first_at, first_wh, last_at, last_wh, interval_reads, interval_s, max_demand_w
FROM {{db}}.reads_buckets;

DROP TABLE IF EXISTS {{db}}.reads_buckets_mv;

-- 2. Per-meter day summaries that a month's billing refresh reads instead of
--    the bucket states.
--
-- A day unit D is [D 15:00 UTC, D+1 15:00 UTC): the three buckets that start on D at 15:00, 16:00 and 17:00 UTC. Only the
-- unit before the 1st of a month holds local month boundaries (WIT 15:00, WITA
-- 16:00, WIB 17:00 UTC), so that unit is summarised bucket by bucket and every
-- other unit in one row. Plain columns: no aggregate states to merge when read.
-- `rising_wh` and `resets` fold the registers inside a row into monotonic
-- segments as billing.ts does (appendSegment), so the fold of the rows equals
-- the fold of the buckets, exactly.
--
-- Written by the billing refresh (billing-days.ts), never by the loader's
-- inserts: a row is replaced (ReplacingMergeTree on `version`, the server time
-- of the summary) when its unit is summarised again.
CREATE TABLE IF NOT EXISTS {{db}}.reads_days (
    meter_id String,
    start DateTime('UTC'),
    unit Date,
    first_at DateTime('UTC'),
    first_wh Int64,
    last_at DateTime('UTC'),
    last_wh Int64,
    rising_wh Int64,
    resets UInt32,
    interval_reads UInt32,
    interval_s UInt32,
    max_demand_w Int32,
    version UInt32
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(unit)
ORDER BY (meter_id, start);

-- Which units are summarised, and as of when (server time taken before the
-- summary read its buckets).
CREATE TABLE IF NOT EXISTS {{db}}.reads_days_summarised (
    unit Date,
    summarised_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(summarised_at)
ORDER BY unit;

-- 3. When reads last arrived for each unit: every insert into `reads` stamps the
-- units it touches with the server time. A unit whose reads arrived after (or
-- just before: README) its summary is summarised again at the next refresh.
-- 18.16 does not run the views of a view's target table, so this view is on
-- `reads` beside reads_buckets_daily_mv, not on its table.
CREATE TABLE IF NOT EXISTS {{db}}.reads_arrivals (
    unit Date,
    arrived_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(arrived_at)
ORDER BY unit;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.reads_arrivals_mv TO {{db}}.reads_arrivals AS
SELECT {{day_unit:read_at}} AS unit, max(now()) AS arrived_at
FROM {{db}}.reads
GROUP BY unit;
