import oclif from 'eslint-config-oclif'
import prettier from 'eslint-config-prettier'

export default [
  {ignores: ['dist/', 'tmp/', 'node_modules/', 'test/fixtures/', 'plugins/*/dist/', 'plugins/*/node_modules/']},
  ...oclif,
  prettier,
  // bin/run.js is published ("files" lists it); the rule misreads the leading slash.
  {files: ['bin/run.js'], rules: {'n/no-unpublished-bin': 'off'}},
  {
    rules: {
      'no-await-in-loop': 'off',
      'unicorn/no-process-exit': 'off',
      'n/no-process-exit': 'off',
      'perfectionist/sort-objects': 'off',
      'perfectionist/sort-classes': 'off',
      'perfectionist/sort-object-types': 'off',
      'perfectionist/sort-interfaces': 'off',
      'perfectionist/sort-union-types': 'off',
      'perfectionist/sort-named-imports': 'off',
      'perfectionist/sort-modules': 'off',
      'unicorn/prefer-string-raw': 'off',
      // Functions a newcomer can read: split what goes over (docs/architecture.md).
      complexity: ['error', 20],
      'max-depth': ['error', 4],
      'no-warning-comments': 'off',
      // `() => undefined` in .catch() says "ignore this failure" on purpose.
      'unicorn/no-useless-undefined': 'off',
      'prefer-destructuring': 'off',
      'unicorn/prefer-switch': 'off',
      'unicorn/consistent-function-scoping': 'off',
      // new Promise((r) => setTimeout(r, ms)) is the idiom for a delay.
      'no-promise-executor-return': 'off',
      // fetch and Response are stable in Node 20 (the rule's data marks them experimental until 21).
      'n/no-unsupported-features/node-builtins': ['error', {ignores: ['fetch', 'Response']}],
    },
  },
]
