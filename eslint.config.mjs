// Type-aware checks tsc cannot make: a promise left floating (an un-awaited
// database call used as a statement) or used where a value or a void
// callback is expected (an async predicate in .filter, a promise in a
// condition). Tests are left out: tap's t.test() returns a promise by design.
import tseslint from 'typescript-eslint';

export default [
  {
    files: ['lib/**/*.ts', 'bench/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true }],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: true, attributes: false, properties: false, returns: false, variables: false } }],
    },
  },
];
