import { defineConfig } from 'vitest/config';

// `@ami/*` resolve as npm workspaces through each package's `exports` (no aliases to keep in step).

/**
 * Tests that start their own processes (a private stack, a 3-broker cluster, a ClickHouse cluster, the
 * pipeline's services as children) and mostly wait on them. `scripts/test.sh` runs this project in a
 * second vitest process beside the `integration` one when both use the local stack.
 */
const OWN_PROCESSES = [
  'tests/integration/faults.test.ts',
  'tests/integration/kafkaClusterFailover.test.ts',
  'tests/integration/clickhouseCluster.test.ts',
  'tests/integration/reliabilityScenarios.test.ts',
  'tests/integration/loadtest.test.ts',
  'tests/integration/detectorScaleOut.test.ts',
];

const integration = {
  environment: 'node' as const,
  globalSetup: ['tests/support/globalSetup.ts'],
  testTimeout: 120_000,
  hookTimeout: 180_000,
  // The services are shared; within a project files run one after another to keep a 2-core machine honest.
  fileParallelism: false,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          // Each package's tests beside it (test/ mirrors src/); tests/contract checks that packages agree.
          include: [
            'packages/*/test/**/*.test.ts',
            'services/*/test/**/*.test.ts',
            'loadtest/test/**/*.test.ts',
            'tests/contract/**/*.test.ts',
            'tests/support/**/*.test.ts',
          ],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          exclude: OWN_PROCESSES,
          ...integration,
        },
      },
      {
        test: {
          name: 'integration-own-processes',
          include: OWN_PROCESSES,
          ...integration,
        },
      },
    ],
  },
});
