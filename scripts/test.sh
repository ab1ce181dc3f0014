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
vitest run --project integration --reporter=default --reporter=json --outputFile.json=test-artifacts/integration.json || status=1

# One closing line over both projects.
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const f of ["test-artifacts/unit.json", "test-artifacts/integration.json"]) {
    if (!fs.existsSync(f)) { failed++; continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  }
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
'
exit $status
