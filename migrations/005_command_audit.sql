-- Audit trail of remote commands (services/web): who, when, what, which meters,
-- result. One row per meter targeted by a request (a tusbung campaign is one
-- request_id). The row is written BEFORE the command goes to Kafka, so no
-- command leaves without a record:
--   SENT         handed to `<prefix>.commands` (command_id is the MeterCommand's)
--   REFUSED      not sent, `detail` says why (UNKNOWN_IDPEL, AMR_METER, ...)
--   SEND_FAILED  a second row for the same command_id: Kafka refused the batch
-- The latest row per command_id (by recorded_at) is its outcome.
CREATE TABLE IF NOT EXISTS {{db}}.command_audit (
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
