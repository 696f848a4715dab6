import oclif from 'eslint-config-oclif'
import prettier from 'eslint-config-prettier'

export default [
  {ignores: ['dist/', 'tmp/', 'node_modules/', 'test/fixtures/', 'plugins/*/dist/', 'plugins/*/node_modules/']},
  ...oclif,
  prettier,
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
      'max-depth': 'off',
      'complexity': 'off',
      'no-warning-comments': 'off',
    },
  },
]
