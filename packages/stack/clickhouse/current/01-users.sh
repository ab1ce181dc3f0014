#!/bin/bash
# The pipeline's ClickHouse users on CURRENT ClickHouse (SQL access control), the equivalent
# of users.xml for Debian's 18.16. docker-compose.yml mounts this folder as the image's
# /docker-entrypoint-initdb.d, which runs it once on an empty data directory as the
# administrator. By hand: CLICKHOUSE_*_PASSWORD=... bash 01-users.sh (clickhouse client on PATH).
# Grants on databases and tables that `ami db migrate` creates later are valid already.
set -euo pipefail

db="${AMI_CLICKHOUSE_DB:-ami}"
[[ "$db" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "AMI_CLICKHOUSE_DB: a plain identifier" >&2; exit 1; }
# A password as an SQL string literal.
quote() { printf "'%s'" "$(printf '%s' "$1" | sed -e "s/\\\\/\\\\\\\\/g" -e "s/'/\\\\'/g")"; }
writer=$(quote "${CLICKHOUSE_WRITER_PASSWORD:?CLICKHOUSE_WRITER_PASSWORD is required}")
audit=$(quote "${CLICKHOUSE_AUDIT_PASSWORD:?CLICKHOUSE_AUDIT_PASSWORD is required}")
analyst=$(quote "${CLICKHOUSE_ANALYST_PASSWORD:?CLICKHOUSE_ANALYST_PASSWORD is required}")

clickhouse client --multiquery <<SQL
-- The loader: reads and appends the pipeline's tables. No CREATE, ALTER (so no ALTER ... DELETE),
-- DROP or TRUNCATE, and nothing in ${db}_audit.
CREATE USER IF NOT EXISTS ami_writer IDENTIFIED WITH sha256_password BY ${writer};
GRANT SELECT, INSERT ON ${db}.* TO ami_writer;

-- The web service's command audit: append only. It inserts through the Buffer in
-- ${db}_audit_inbox, which writes straight into the trail; it may not read, alter or drop either.
CREATE USER IF NOT EXISTS ami_audit IDENTIFIED WITH sha256_password BY ${audit};
GRANT INSERT ON ${db}_audit_inbox.command_audit TO ami_audit;
GRANT INSERT ON ${db}_audit.command_audit TO ami_audit;

-- Analysts and the dashboard's history: SELECT only, the pipeline and the audit trail.
CREATE USER IF NOT EXISTS ami_analyst IDENTIFIED WITH sha256_password BY ${analyst};
GRANT SELECT ON ${db}.* TO ami_analyst;
GRANT SELECT ON ${db}_audit.* TO ami_analyst;
SQL
