/** Unit tests run alone; integration tests share one Temporal dev server and test database (globalSetup). */
// Dependencies that ship ESM only (jose; content-disposition under @fastify/static; cookie under light-my-request):
// compiled to CommonJS like our code.
const esmOnly = ['jose', 'content-disposition', 'cookie'];
const transform = {
  '^.+\\.ts$': ['ts-jest', {}],
  [`^.+/node_modules/(${esmOnly.join('|')})/.+\\.js$`]: [
    'ts-jest',
    { tsconfig: { allowJs: true, module: 'commonjs' } },
  ],
};
const transformIgnorePatterns = [`/node_modules/(?!(${esmOnly.join('|')})/)`];

module.exports = {
  // A global option: jest ignores testTimeout inside a project.
  testTimeout: 60_000,
  // `--shard` deals files by measured duration (test/durations.json), not by path hash.
  testSequencer: '<rootDir>/test/helpers/balanced-sequencer.js',
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      transformIgnorePatterns,
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      transformIgnorePatterns,
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/helpers/global-setup.ts',
      setupFiles: ['<rootDir>/test/helpers/quiet-temporal-logs.ts'],
      globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
    },
  ],
};
