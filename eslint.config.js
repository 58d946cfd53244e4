// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/results/', 'docs/api/'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', queueMicrotask: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', SharedArrayBuffer: 'readonly', Atomics: 'readonly', performance: 'readonly', Buffer: 'readonly', setImmediate: 'readonly', structuredClone: 'readonly', fetch: 'readonly' },
    },
  },
  {
    // Tests assert on values they just checked exist.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
