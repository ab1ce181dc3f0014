-- Momentary interruptions (IEEE 1366: supply lost for 5 minutes or less) that
-- the detector reports apart from outages. One row per interruption, keyed by
-- interruption_id so a redelivered record collapses. Momentaries that arrive
-- as ordinary Outage records (restored within 5 minutes) are counted from
-- `outages` instead; a producer must use one path or the other, not both.
CREATE TABLE IF NOT EXISTS {{db}}.momentary_interruptions (
    interruption_id String,
    region String,
    ulp String,
    feeder_id String,
    gardu_id Nullable(String),
    started_at DateTime('UTC'),
    duration_s UInt32,
    customers_affected Int32,
    emitted_at DateTime('UTC'),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(started_at)
ORDER BY (region, ulp, interruption_id);

-- Reliability indices per region, ULP and local month (IEEE 1366-2012).
--   N_T  customers_served: meters of the ULP installed in or before the month
--        (local month of installed_at), tombstoned meters excluded.
--   An interruption counts in the local month (region's time zone) in which
--   it started. Only root outages count (parent_outage_id is null): a GARDU
--   outage that rolls up to a FEEDER outage is inside the feeder's figures.
--   Only RESTORED outages count: an open outage has no duration yet.
--   Sustained: restored_at - started_at > 300 s; momentary: <= 300 s.
--   CI   customers_interrupted = sum of customers_affected over sustained.
--   CMI  customer_minutes = sum of customers_affected x duration in minutes.
--   CMO  customer_momentary = sum of customers_affected over momentaries.
--   SAIFI = CI / N_T            SAIDI = CMI / N_T (minutes)
--   CAIDI = CMI / CI = SAIDI / SAIFI (minutes, 0 when CI = 0)
--   MAIFI = CMO / N_T           (all 0 when N_T = 0)
CREATE VIEW IF NOT EXISTS {{db}}.reliability_monthly AS
SELECT
    region,
    ulp,
    month,
    toUInt64(arrayCount(m -> m <= month, install_months)) AS customers_served,
    sustained_interruptions,
    momentary_interruptions,
    customers_interrupted,
    customer_minutes,
    customer_momentary,
    if(customers_served = 0, 0, customer_minutes / customers_served) AS saidi_minutes,
    if(customers_served = 0, 0, customers_interrupted / customers_served) AS saifi,
    if(customers_interrupted = 0, 0, customer_minutes / customers_interrupted) AS caidi_minutes,
    if(customers_served = 0, 0, customer_momentary / customers_served) AS maifi
FROM
(
    SELECT
        region,
        ulp,
        multiIf(
            tz = 'Asia/Makassar', toStartOfMonth(toTimeZone(started_at, 'Asia/Makassar')),
            tz = 'Asia/Jayapura', toStartOfMonth(toTimeZone(started_at, 'Asia/Jayapura')),
            toStartOfMonth(toTimeZone(started_at, 'Asia/Jakarta'))) AS month,
        toUInt64(countIf(duration_s > 300)) AS sustained_interruptions,
        toUInt64(countIf(duration_s <= 300)) AS momentary_interruptions,
        toUInt64(sumIf(customers, duration_s > 300)) AS customers_interrupted,
        sumIf(customers * duration_s / 60, duration_s > 300) AS customer_minutes,
        toUInt64(sumIf(customers, duration_s <= 300)) AS customer_momentary
    FROM
    (
        SELECT region, ulp, started_at, toUInt32(assumeNotNull(restored_at) - started_at) AS duration_s, customers_affected AS customers
        FROM {{db}}.outages_latest
        WHERE isNull(parent_outage_id) AND status = 'RESTORED' AND isNotNull(restored_at)
        UNION ALL
        SELECT region, ulp, started_at, duration_s, customers_affected AS customers
        FROM {{db}}.momentary_interruptions FINAL
        WHERE duration_s <= 300
    ) AS interruptions
    ANY LEFT JOIN
    (
        -- The region's time zone (all meters of a region share one).
        SELECT region, any(timezone) AS tz FROM {{db}}.meters_latest GROUP BY region
    ) AS zones USING region
    GROUP BY region, ulp, month
) AS by_month
ANY LEFT JOIN
(
    SELECT
        region,
        ulp,
        groupArrayIf(multiIf(
            timezone = 'Asia/Makassar', toStartOfMonth(toTimeZone(installed_at, 'Asia/Makassar')),
            timezone = 'Asia/Jayapura', toStartOfMonth(toTimeZone(installed_at, 'Asia/Jayapura')),
            toStartOfMonth(toTimeZone(installed_at, 'Asia/Jakarta'))), removed = 0) AS install_months
    FROM {{db}}.meters_latest
    GROUP BY region, ulp
) AS installs USING region, ulp;
