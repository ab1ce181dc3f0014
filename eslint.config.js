import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.ami/**', 'reports/**', 'test-artifacts/**', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'off',
      // One package uses another through its name and `exports` (package.json), never by a path into its folders.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(packages|services)/[^/]+/(src|test|bench)(/|$)',
              message: 'Import the package by name (`@ami/<package>/<entry>`, see its package.json exports).',
            },
            {
              regex: '^(\\.\\./)+loadtest/(src|test)(/|$)',
              message: 'Import the package by name (`@ami/loadtest/<entry>`, see its package.json exports).',
            },
            {
              regex: '^@ami/[^/]+/(src|test)/',
              message: "Use an entry of the package's exports, not a path into it.",
            },
          ],
        },
      ],
    },
  },
);
