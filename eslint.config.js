// ESLint for every package: the recommended JavaScript and typescript-eslint rules, with formatting
// left to Prettier (`npm run format:check`) and the package graph to dependency-cruiser.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const shared = [
  'URL',
  'URLSearchParams',
  'TextEncoder',
  'TextDecoder',
  'fetch',
  'AbortController',
  'AbortSignal',
  'WebAssembly',
  'console',
  'performance',
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'queueMicrotask',
  'structuredClone',
];
const node = ['process', 'Buffer', 'globalThis', ...shared];
const browser = ['window', 'document', 'location', 'navigator', 'createImageBitmap', 'ImageData', 'Worker', 'Blob', 'requestAnimationFrame', ...shared];
const readonly = (names) => Object.fromEntries(names.map((n) => [n, 'readonly']));

export default tseslint.config(
  {
    // Built output, and AssemblyScript (its decorators and types are not TypeScript's).
    ignores: ['**/dist/**', '**/node_modules/**', 'packages/*/assembly/**', '**/*.tmp.*'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: readonly(node) },
    rules: {
      // `_name` marks a parameter or binding that is there for its position.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  { files: ['packages/runtime/demo/**'], languageOptions: { globals: readonly(browser) } },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: readonly(['require', 'module', '__dirname', ...node]) },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // Tests build malformed documents on purpose.
  { files: ['**/*.test.ts', '**/test-helpers.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  prettier,
);
