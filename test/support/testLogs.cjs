// Where a test file's service logs go during `npm test`: one file per test file under .tmp/test-logs/,
// so parallel test files never mix. Shared by the test environment (which writes them) and the reporter
// (which prints a failing test's part).
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..');
const DIR = path.join(REPO, '.tmp', 'test-logs');

function logFileFor(testPath) {
  const rel = path.relative(REPO, testPath).replace(/[\\/]/g, '__');
  return path.join(DIR, `${rel}.log`);
}

const failuresFileFor = (testPath) => `${logFileFor(testPath)}.failures.json`;

module.exports = { DIR, logFileFor, failuresFileFor };
