// ESLint settles what the compiler does not: typescript-eslint's recommended rules over the product,
// its scripts and its tests. Formatting is Prettier's (.prettierrc.json), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const node = {
  require: 'readonly',
  module: 'writable',
  exports: 'writable',
  __dirname: 'readonly',
  process: 'readonly',
  console: 'readonly',
  Buffer: 'readonly',
  setTimeout: 'readonly',
  clearTimeout: 'readonly',
  URL: 'readonly',
};

export default tseslint.config(
  { ignores: ['build/', 'dist/', 'node_modules/', 'tasks/*/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: node },
    rules: {
      // A leading underscore marks a value taken only to leave it out (`const { a: _a, ...rest }`).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // The build scripts are plain CommonJS run by node.
    files: ['scripts/**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Tests load the plain build scripts and some modules lazily, by path, on purpose; the post-job
    // entry runs the main bundle by path rather than shipping a second copy of it.
    files: ['tests/**/*.ts', 'tools/**/*.ts', 'tasks/*/post.ts'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
