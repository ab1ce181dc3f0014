-- Contract tables fed by the loader. `{{db}}` is replaced by the escaped database name.
-- Times are DateTime('UTC') (second precision: 18.16 has no DateTime64).
-- Redelivery safety: every table is a ReplacingMergeTree keyed by the natural
-- key, and every query that counts uses FINAL, argMax or uniq, so a batch
-- inserted twice never counts twice.

-- MeterProfile per Kafka record. `version` is the Kafka offset (the topic is
-- compacted and keyed by meter_id, so a later offset is a later profile);
-- a tombstone is a row with deleted = 1.
CREATE TABLE IF NOT EXISTS {{db}}.meters (
    meter_id String,
    idpel String,
    kdpm Enum8('L' = 0, 'R' = 1, 'S' = 2, 'F' = 3, 'A' = 4),
    phases UInt8,
    tariff String,
    daya_va UInt32,
    gardu_id String,
    feeder_id String,
    ulp String,
    region String,
    timezone String,
    installed_at DateTime('UTC'),
    deleted UInt8,
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY meter_id;

-- The latest live profile of each meter; `removed` = 1 after a tombstone
-- (the meter keeps its last profile so its last bills can still be made).
CREATE VIEW IF NOT EXISTS {{db}}.meters_latest AS
SELECT
    meter_id,
    argMaxIf(idpel, version, deleted = 0) AS idpel,
    argMaxIf(kdpm, version, deleted = 0) AS kdpm,
    argMaxIf(phases, version, deleted = 0) AS phases,
    argMaxIf(tariff, version, deleted = 0) AS tariff,
    argMaxIf(daya_va, version, deleted = 0) AS daya_va,
    argMaxIf(gardu_id, version, deleted = 0) AS gardu_id,
    argMaxIf(feeder_id, version, deleted = 0) AS feeder_id,
    argMaxIf(ulp, version, deleted = 0) AS ulp,
    argMaxIf(region, version, deleted = 0) AS region,
    argMaxIf(timezone, version, deleted = 0) AS timezone,
    argMaxIf(installed_at, version, deleted = 0) AS installed_at,
    argMax(deleted, version) AS removed
FROM {{db}}.meters
GROUP BY meter_id
HAVING countIf(deleted = 0) > 0;

-- Reads: a redelivered read has the same (meter_id, read_at) and collapses.
CREATE TABLE IF NOT EXISTS {{db}}.reads (
    meter_id String,
    gardu_id String,
    read_at DateTime('UTC'),
    interval_s UInt32,
    energy_import_wh Int64,
    demand_w Int32,
    voltage_v Float32,
    relay Enum8('CLOSED' = 0, 'OPEN' = 1),
    power_limit_va Int32,
    kind Enum8('INTERVAL' = 0, 'ON_DEMAND' = 1)
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(read_at)
ORDER BY (meter_id, read_at);

CREATE TABLE IF NOT EXISTS {{db}}.events (
    event_id String,
    meter_id String,
    gardu_id String,
    occurred_at DateTime('UTC'),
    type Enum8('LAST_GASP' = 0, 'POWER_RESTORE' = 1, 'RELAY_OPENED' = 2, 'RELAY_CLOSED' = 3, 'RECONNECT_ENABLED' = 4, 'POWER_LIMIT_CHANGED' = 5),
    relay Enum8('CLOSED' = 0, 'OPEN' = 1),
    cause Enum8('NONE' = 0, 'REMOTE_DISCONNECT' = 1, 'REMOTE_CONNECT' = 2, 'BUTTON' = 3, 'POWER_LIMIT_TRIP' = 4),
    power_limit_va Nullable(Int32)
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (meter_id, occurred_at, event_id);

-- One row per Outage record; `version` is emitted_at in milliseconds so two
-- changes in the same second still order. Latest state: `outages_latest`.
CREATE TABLE IF NOT EXISTS {{db}}.outages (
    outage_id String,
    scope Enum8('METER' = 0, 'GARDU' = 1, 'FEEDER' = 2),
    status Enum8('OPEN' = 0, 'UPDATED' = 1, 'RESTORED' = 2),
    region String,
    ulp String,
    feeder_id String,
    gardu_id Nullable(String),
    meter_ids Array(String),
    parent_outage_id Nullable(String),
    started_at DateTime('UTC'),
    confirmed_at DateTime('UTC'),
    restored_at Nullable(DateTime('UTC')),
    customers_affected Int32,
    customers_total Int32,
    last_gasps Int32,
    tusbung_excluded Int32,
    emitted_at DateTime('UTC'),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(started_at)
ORDER BY (region, ulp, outage_id);

-- Latest state per outage_id. argMax, not FINAL: an outage whose started_at
-- is revised into another month has rows in two partitions.
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
    max(emitted_at) AS emitted_at
FROM {{db}}.outages
GROUP BY outage_id;
