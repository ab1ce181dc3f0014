-- Tariff table: data from services/loader/tariffs/*.json, loaded by `ami db migrate`.
-- One row per (version, class, power band). Money in integer sen (1/100 rupiah).
-- The version in force for a period is the one with the latest valid_from
-- on or before the period's first day.
CREATE TABLE IF NOT EXISTS {{db}}.tariffs (
    version String,
    valid_from Date,
    tariff String,
    daya_min_va UInt32,
    daya_max_va UInt32,
    rate_sen_per_kwh UInt64,
    subsidised UInt8,
    -- Minimum charge in hours of use at the contracted power (0: no minimum).
    min_charge_hours UInt16,
    loaded_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY (version, tariff, daya_min_va);

-- Billing per meter and local month, written by `ami billing refresh` (and by
-- the loader for the current and previous month). The query is in
-- services/loader/src/billing-sql.ts; the arithmetic is mirrored and
-- unit-tested in services/loader/src/billing.ts. A refresh rewrites rows with
-- a newer computed_at: read with FINAL (or through the `billing` view).
CREATE TABLE IF NOT EXISTS {{db}}.billing_usage (
    meter_id String,
    idpel String,
    region String,
    ulp String,
    tariff String,
    daya_va UInt32,
    billing_period Date,
    period_start DateTime('UTC'),
    period_end DateTime('UTC'),
    energy_start_wh Int64,
    energy_end_wh Int64,
    kwh Decimal(18, 3),
    reads_received UInt32,
    reads_expected UInt32,
    estimated UInt8,
    start_estimated UInt8,
    end_estimated UInt8,
    period_complete UInt8,
    max_demand_w Int32,
    tariff_version String,
    rate_sen_per_kwh UInt64,
    energy_charge_sen Int64,
    minimum_charge_sen Int64,
    minimum_applied UInt8,
    amount_sen Int64,
    amount_rp Decimal(18, 2),
    computed_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(computed_at)
PARTITION BY toYYYYMM(billing_period)
ORDER BY (meter_id, billing_period);

CREATE VIEW IF NOT EXISTS {{db}}.billing AS
SELECT * FROM {{db}}.billing_usage FINAL;
