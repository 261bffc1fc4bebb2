/** Unit tests run alone; integration tests share one Temporal dev server and test database (globalSetup). */
const transform = { '^.+\\.ts$': ['ts-jest', {}] };

module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/helpers/global-setup.ts',
      setupFiles: ['<rootDir>/test/helpers/quiet-temporal-logs.ts'],
      globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
      testTimeout: 60_000,
    },
  ],
};
