import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const alias = {
  '@ami/lib': fileURLToPath(new URL('./packages/lib/src/index.ts', import.meta.url)),
  '@ami/stack': fileURLToPath(new URL('./packages/stack/src/index.ts', import.meta.url)),
};

/**
 * Tests that start their own processes (a private stack, a 3-broker cluster, a ClickHouse cluster, the
 * pipeline's services as children) and mostly wait on them. `scripts/test.sh` runs this project in a
 * second vitest process beside the `integration` one when both use the local stack.
 */
const OWN_PROCESSES = [
  'tests/integration/faults.test.ts',
  'tests/integration/kafka-cluster-failover.test.ts',
  'tests/integration/clickhouse-cluster.test.ts',
  'tests/integration/reliability-scenarios.test.ts',
  'tests/integration/loadtest.test.ts',
];

const integration = {
  environment: 'node' as const,
  globalSetup: ['tests/integration/global-setup.ts'],
  testTimeout: 120_000,
  hookTimeout: 180_000,
  // The services are shared; within a project files run one after another to keep a 2-core machine honest.
  fileParallelism: false,
};

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: [
            'tests/unit/**/*.test.ts',
            'services/*/test/**/*.test.ts',
            'packages/*/test/**/*.test.ts',
          ],
          environment: 'node',
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          exclude: OWN_PROCESSES,
          ...integration,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration-own-processes',
          include: OWN_PROCESSES,
          ...integration,
        },
      },
    ],
  },
});
