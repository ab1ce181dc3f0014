-- Customer-based reliability (IEEE 1366 per customer): every interrupted customer and every
-- customer-second counted once, whatever outage records overlap. Outage and momentary records
-- carry two fields (schemas/Outage.avsc):
--   customers_interrupted     customers whose interruption this record is the first to count
--                             (GARDU and root METER: theirs; FEEDER and nested METER: 0)
--   customer_interruption_s   customer-seconds that this record, and no other, accounts for
--                             (final on RESTORED, 0 before)
-- Rows loaded before this migration read 0 in both. (18.16 has no DROP VIEW: DROP TABLE drops a view.)
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: one column a statement, and the runner
-- (services/loader/src/migrate.ts) skips an ADD COLUMN whose column is already there.
ALTER TABLE {{db}}.outages ADD COLUMN customers_interrupted Int32 DEFAULT 0;
ALTER TABLE {{db}}.outages ADD COLUMN customer_interruption_s Int64 DEFAULT 0;
ALTER TABLE {{db}}.momentary_interruptions ADD COLUMN customers_interrupted Int32 DEFAULT 0;
ALTER TABLE {{db}}.momentary_interruptions ADD COLUMN customer_interruption_s Int64 DEFAULT 0;

DROP TABLE IF EXISTS {{db}}.outages_latest;

-- Latest state per outage_id (as in 001, with the two new fields).
CREATE VIEW IF NOT EXISTS {{db}}.outages_latest AS
SELECT
    outage_id,
    argMax(scope, version) AS scope,
    argMax(status, version) AS status,
    argMax(region, version) AS region,
    argMax(ulp, version) AS ulp,
    argMax(feeder_id, version) AS feeder_id,
    argMax(gardu_id, version) AS gardu_id,
    argMax(meter_ids, version) AS meter_ids,
    argMax(parent_outage_id, version) AS parent_outage_id,
    argMax(started_at, version) AS started_at,
    argMax(confirmed_at, version) AS confirmed_at,
    argMax(restored_at, version) AS restored_at,
    argMax(customers_affected, version) AS customers_affected,
    argMax(customers_total, version) AS customers_total,
    argMax(last_gasps, version) AS last_gasps,
    argMax(tusbung_excluded, version) AS tusbung_excluded,
    argMax(customers_interrupted, version) AS customers_interrupted,
    argMax(customer_interruption_s, version) AS customer_interruption_s,
    max(emitted_at) AS emitted_at
FROM {{db}}.outages
GROUP BY outage_id;

DROP TABLE IF EXISTS {{db}}.reliability_monthly;

-- Reliability indices per region, ULP and local month (IEEE 1366-2012), per customer.
--   N_T  customers_served: meters of the ULP installed in or before the month
--        (local month of installed_at), tombstoned meters excluded.
--   A record counts in the local month (region's time zone) in which its outage started.
--   Only RESTORED outages count (an open one has no duration yet); every scope counts (each
--   record carries only the customers and customer-seconds no other record counts).
--   Sustained: a nested record (it extends an interruption its parent began), or a root
--   restored more than 300 s after it started; momentary: a root restored within 300 s, and
--   every row of momentary_interruptions (the detector's momentaries, <= 300 s).
--   CI   customers_interrupted = sum of customers_interrupted over sustained records.
--   CMI  customer_minutes = sum of customer_interruption_s / 60 over sustained records.
--   CMO  customer_momentary = sum of customers_interrupted over momentary records.
--   sustained_interruptions / momentary_interruptions: root events (parent_outage_id null).
--   SAIFI = CI / N_T            SAIDI = CMI / N_T (minutes)
--   CAIDI = CMI / CI = SAIDI / SAIFI (minutes, 0 when CI = 0)
--   MAIFI = CMO / N_T           (all 0 when N_T = 0)
-- Every joined subquery has an alias: current ClickHouse refuses one without (code 206).
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
        toUInt64(countIf(is_root AND sustained)) AS sustained_interruptions,
        toUInt64(countIf(is_root AND NOT sustained)) AS momentary_interruptions,
        toUInt64(sumIf(customers, sustained)) AS customers_interrupted,
        sumIf(customer_s, sustained) / 60 AS customer_minutes,
        toUInt64(sumIf(customers, NOT sustained)) AS customer_momentary
    FROM
    (
        SELECT
            region,
            ulp,
            started_at,
            isNull(parent_outage_id) AS is_root,
            NOT is_root OR assumeNotNull(restored_at) - started_at > 300 AS sustained,
            customers_interrupted AS customers,
            customer_interruption_s AS customer_s
        FROM {{db}}.outages_latest
        WHERE status = 'RESTORED' AND isNotNull(restored_at)
        UNION ALL
        SELECT region, ulp, started_at, toUInt8(1) AS is_root, toUInt8(0) AS sustained, customers_interrupted AS customers, customer_interruption_s AS customer_s
        FROM {{db}}.momentary_interruptions FINAL
        WHERE duration_s <= 300
    ) AS interruptions
    ANY LEFT JOIN
    (
        -- The region's time zone (all meters of a region share one).
        SELECT region, any(timezone) AS tz FROM {{db}}.meters_latest GROUP BY region
    ) AS zones USING region
    GROUP BY region, ulp, month
) AS indices
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
) AS served USING region, ulp;
