-- The command audit becomes append-only for every service user (docs/security.md).
-- ClickHouse 18.16 grants access per database (users.xml `allow_databases`), not per
-- table, and any user that may INSERT can also switch DDL back on for one query. So the
-- trail moves out of {{db}}, where the loader writes, into a database of its own that no
-- service user may use: {{audit_db}}.command_audit (the columns and meaning of 005).
-- The web service's audit user may use only {{audit_inbox_db}}, whose one table is a
-- Buffer with zero thresholds: every INSERT goes straight through to the trail, and the
-- Buffer itself cannot be read, altered, mutated or truncated.
-- Run as an administrator. Every step can run again after an interrupted run.
CREATE DATABASE IF NOT EXISTS {{audit_db}};

-- The columns, engine and keys of 005's table, spelled out: `AS {{db}}.command_audit`
-- would fail on a second run, once the old table is gone.
CREATE TABLE IF NOT EXISTS {{audit_db}}.command_audit (
    request_id String,
    command_id String,
    at DateTime('UTC'),
    issued_by String,
    role String,
    type Enum8('DISCONNECT' = 0, 'ENABLE_RECONNECT' = 1, 'SET_POWER_LIMIT' = 2, 'READ_NOW' = 3),
    target String,
    meter_id String,
    idpel String,
    power_limit_va Nullable(Int32),
    reason Nullable(String),
    result Enum8('SENT' = 0, 'REFUSED' = 1, 'SEND_FAILED' = 2),
    detail String,
    recorded_at DateTime('UTC')
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (at, request_id, target);

-- Keep every row written before this migration. The old table is created (empty) if an
-- interrupted run already dropped it, so that the copy can run again; rows already copied
-- are not copied twice.
CREATE TABLE IF NOT EXISTS {{db}}.command_audit AS {{audit_db}}.command_audit;

INSERT INTO {{audit_db}}.command_audit
SELECT *
FROM {{db}}.command_audit
WHERE (request_id, target, result, recorded_at) NOT IN (
    SELECT request_id, target, result, recorded_at FROM {{audit_db}}.command_audit
);

-- No table of that name stays where the loader's user may write or create tables.
DROP TABLE IF EXISTS {{db}}.command_audit;

CREATE DATABASE IF NOT EXISTS {{audit_inbox_db}};

-- Buffer(database, table, layers, min_time, max_time, min_rows, max_rows, min_bytes,
-- max_bytes): a block above the max thresholds (here any block) is written to the
-- destination within the INSERT, so nothing waits in memory and a failed write fails it.
CREATE TABLE IF NOT EXISTS {{audit_inbox_db}}.command_audit AS {{audit_db}}.command_audit
ENGINE = Buffer({{audit_db}}, command_audit, 1, 0, 0, 0, 0, 0, 0);
