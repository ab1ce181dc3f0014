#!/usr/bin/env bash
# Installs what the project needs on a fresh machine, idempotently:
# npm packages (from package-lock.json), Debian packages for the local stack and
# the independent Avro client used by the tests. Kafka jars are fetched by
# `ami stack up` itself (Maven, into .ami/).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -x /usr/sbin/clickhouse-server ] || need_apt+=(clickhouse-server)
command -v clickhouse-client >/dev/null || need_apt+=(clickhouse-client)
command -v java >/dev/null || need_apt+=(default-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
if [ "${AMI_SKIP_TEST_TOOLS:-}" != 1 ]; then
  # The independent Confluent-wire-format decoder of the tests, and the browser of the UI tests.
  /usr/bin/python3 -c 'import confluent_kafka, avro, requests' 2>/dev/null ||
    need_apt+=(python3-confluent-kafka python3-avro python3-requests)
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# npm ci only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "bootstrap: installing npm packages"
  npm ci --engine-strict --no-audit --no-fund --loglevel=error
fi
