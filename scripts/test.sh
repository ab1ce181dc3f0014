#!/usr/bin/env bash
# The whole test suite: install, lint, typecheck, unit tests, then the local
# stack and the integration tests against real Kafka, registry and ClickHouse.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export PATH="$PWD/node_modules/.bin:$PATH"
mkdir -p test-artifacts

echo "== lint and typecheck"
eslint . --max-warnings=0
prettier --check . >/dev/null || { prettier --check . | tail -20; exit 1; }
tsc --noEmit

status=0
echo "== unit tests"
vitest run --project unit --reporter=default --reporter=json --outputFile.json=test-artifacts/unit.json || status=1

echo "== integration tests (local stack unless KAFKA_BROKERS, SCHEMA_REGISTRY_URL, CLICKHOUSE_URL are set)"
integration() {
  vitest run --project "$1" --reporter=default --reporter=json --outputFile.json="test-artifacts/$1.json"
}
if [ -z "${KAFKA_BROKERS:-}" ] && ! docker info >/dev/null 2>&1; then
  # The local stack, started once here: the tests that run their own processes (mostly
  # waiting on them) go in a second process beside the rest, their output printed after it.
  tsx packages/cli/src/ami.ts stack up >/dev/null
  integration integration-own-processes >test-artifacts/integration-own-processes.log 2>&1 &
  own=$!
  integration integration || status=1
  wait "$own" || status=1
  echo "== integration tests with their own processes"
  cat test-artifacts/integration-own-processes.log
else
  integration integration || status=1
  integration integration-own-processes || status=1
fi

# One closing line over both projects.
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const f of ["test-artifacts/unit.json", "test-artifacts/integration.json", "test-artifacts/integration-own-processes.json"]) {
    if (!fs.existsSync(f)) { failed++; continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  }
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
'
exit $status
