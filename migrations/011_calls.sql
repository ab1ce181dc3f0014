-- CC 123 calls (services/web, topic `<prefix>.calls`, schemas/CallRecord.avsc) and the
-- head-end's answers to remote commands (topic `<prefix>.command-results`).
-- `calls`: one row per CallRecord, every change of a call and its complaint (logged by the
-- agent, work started and closed by the unit): the history who-did-what-when. `version` is
-- the Kafka offset (one call's records share the IDPEL key, so one partition, in order);
-- a redelivered record has the same version and collapses. Latest state: `calls_latest`.
CREATE TABLE IF NOT EXISTS {{db}}.calls (
    call_id String,
    idpel String,
    meter_id String,
    region String,
    ulp String,
    gardu_id String,
    keyword String,
    complaint_type String,
    complaint_subtype String,
    outcome Enum8('ISSUE_CLOSED' = 0, 'FORWARDED_TO_UNIT' = 1),
    status Enum8('ISSUE_CLOSED' = 0, 'OPEN' = 1, 'IN_PROGRESS' = 2, 'CLOSED' = 3),
    ptl UInt8,
    agent String,
    called_at DateTime('UTC'),
    notes String,
    action Enum8('LOGGED' = 0, 'WORK_STARTED' = 1, 'CLOSED' = 2),
    actor String,
    actor_role String,
    updated_at DateTime('UTC'),
    resolution Nullable(String),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(called_at)
ORDER BY (ulp, call_id, version);

-- The state of each call (a complaint's status, PTL, who closed it), latest record per call_id.
CREATE VIEW IF NOT EXISTS {{db}}.calls_latest AS
SELECT
    call_id,
    argMax(idpel, version) AS idpel,
    argMax(meter_id, version) AS meter_id,
    argMax(region, version) AS region,
    argMax(ulp, version) AS ulp,
    argMax(gardu_id, version) AS gardu_id,
    argMax(keyword, version) AS keyword,
    argMax(complaint_type, version) AS complaint_type,
    argMax(complaint_subtype, version) AS complaint_subtype,
    argMax(outcome, version) AS outcome,
    argMax(status, version) AS status,
    argMax(ptl, version) AS ptl,
    argMax(agent, version) AS agent,
    min(called_at) AS called_at,
    argMax(notes, version) AS notes,
    argMax(actor, version) AS last_actor,
    max(updated_at) AS updated_at,
    argMax(resolution, version) AS resolution
FROM {{db}}.calls
GROUP BY call_id;

-- The head-end's answer to each MeterCommand (schemas/CommandResult.avsc): joined to the
-- command audit by command_id, it says what became of a command an operator sent.
CREATE TABLE IF NOT EXISTS {{db}}.command_results (
    command_id String,
    meter_id String,
    type Enum8('DISCONNECT' = 0, 'ENABLE_RECONNECT' = 1, 'SET_POWER_LIMIT' = 2, 'READ_NOW' = 3),
    status Enum8('ACCEPTED' = 0, 'REFUSED' = 1),
    reason Nullable(String),
    decided_at DateTime('UTC'),
    event_id Nullable(String)
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(decided_at)
ORDER BY (meter_id, command_id);
