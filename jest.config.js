/**
 * NestJS 12 and a few of its dependencies ship ES modules only; Jest's CommonJS
 * runtime cannot load them, so ts-jest transpiles them to CommonJS alongside our code.
 * The Swagger plugin's AST transformer runs here as it does in `nest build`.
 */
const esmOnly = [
  '@nestjs',
  'base-x',
  'lru-cache',
  'content-disposition',
  'cookie',
  'file-type',
  'strtok3',
  '@electric-sql',
  'token-types',
  'peek-readable',
  'uint8array-extras',
  '@tokenizer',
  'es-toolkit',
];

/** @type {import('jest').Config} */
module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts', '<rootDir>/packages/*/test/**/*.spec.ts'],
  // The client package imports its own modules as `./x.js` (as ES modules must) and is imported by name in its tests.
  moduleNameMapper: {
    '^@keyhouse/client$': '<rootDir>/packages/client/src/index.ts',
    '^@keyhouse/client/(.*)$': '<rootDir>/packages/client/src/$1.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      {
        tsconfig: '<rootDir>/tsconfig.json',
        isolatedModules: false,
        astTransformers: { before: ['<rootDir>/test/support/swagger-plugin.js'] },
      },
    ],
    '^.+\\.[mc]?js$': '<rootDir>/test/support/esm-transformer.js',
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  testTimeout: 60000,
  maxWorkers: 2,
};
