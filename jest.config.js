// Tests are compiled by tsc with the rest of the project and run as plain ES modules from dist/,
// so the processes that tests spawn (workers, CLI, server) run the same JavaScript as the tests.
const common = {
  // Host typed arrays in the test context, so onnxruntime-node tensors pass instanceof checks.
  testEnvironment: '<rootDir>/../test/support/jest-environment.cjs',
  rootDir: 'dist',
  transform: {},
  moduleFileExtensions: ['js', 'json', 'node'],
  testTimeout: 120000,
};

export default {
  maxWorkers: 2,
  // The runner's report; service logs go to .tmp/test-logs/ and are printed for failing tests only.
  reporters: ['default', '<rootDir>/test/support/failed-test-logs-reporter.cjs'],
  testTimeout: 120000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/**/*.test.js'],
      testPathIgnorePatterns: ['\\.int\\.test\\.js$'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.int.test.js'],
    },
  ],
};
