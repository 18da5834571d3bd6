import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'out/', 'media/', 'test-results/', '.convbert/', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The pure core runs in the trainer, the CLI, the extension host and the browser: no DOM. (No editor either:
    // dependency-cruiser's only-extension-imports-vscode rule, in `npm run lint`, keeps `vscode` in src/extension.)
    files: ['src/core/**/*.ts', 'src/protocol/**/*.ts', 'src/format/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', 'window', 'document', 'navigator', 'HTMLElement'],
    },
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.mjs', '*.mjs', '*.cjs'],
    languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
