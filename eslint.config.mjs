// @ts-check
// As the NestJS starter sets it up: ESLint's recommended rules, typescript-eslint's type-checked
// set, eslint-config-prettier last so that no style rule fights the formatter (Prettier runs on
// its own: `prettier --check .` in `npm run lint`).
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'dist/',
      'console/dist/',
      'packages/*/dist/',
      'packages/client/src/generated/',
      'bench/results/',
      'coverage/',
      'test-artifacts/',
      'data/',
      'openapi/',
      'test/fixtures/',
    ],
  },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      sourceType: 'commonjs',
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A variable a closure reads before its one assignment (the server's hand-over to the hot path) stays a let.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // A promise nobody awaits hides its failure; a switch over a union that forgets a member
      // compiles and does nothing.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
      // `_name` marks a parameter a signature needs and the body does not (Nest hooks, filters).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Nest's decorators and `reflect-metadata` need classes with only static members now and then.
      '@typescript-eslint/no-extraneous-class': 'off',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // Tests read replies as `any` (light-my-request, supertest-like `body`) and poke at internals.
    files: ['test/**/*.ts', 'packages/*/test/**/*.ts', '**/*.spec.ts'],
    languageOptions: { globals: { ...globals.jest } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off', // expect(mock.method).toHaveBeenCalled()
      '@typescript-eslint/require-await': 'off', // fakes that stand in for async methods
    },
  },
  {
    // The console runs in the browser, as ES modules (console/tsconfig.json).
    files: ['console/**/*.{ts,tsx,mts}'],
    languageOptions: { globals: { ...globals.browser }, sourceType: 'module' },
  },
  {
    // Plain CommonJS tooling files (jest.config.js, the ts-jest transformers) are not in a tsconfig.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
      'no-redeclare': ['error', { builtinGlobals: false }], // `const crypto = require('node:crypto')`
    },
  },
  prettier,
);
