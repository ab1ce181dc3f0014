import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const alias = {
  '@ami/lib': fileURLToPath(new URL('./packages/lib/src/index.ts', import.meta.url)),
  '@ami/stack': fileURLToPath(new URL('./packages/stack/src/index.ts', import.meta.url)),
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
          environment: 'node',
          globalSetup: ['tests/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // The services are shared; files run one after another to keep a 2-core machine honest.
          fileParallelism: false,
        },
      },
    ],
  },
});
