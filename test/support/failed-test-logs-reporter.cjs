// Prints, after a test file's result, the service logs written while each of its failing tests ran
// (kept by test/support/jest-environment.cjs). Passing tests print nothing: their logs stay in
// .tmp/test-logs/.
const fs = require('node:fs');
const { failuresFileFor } = require('./testLogs.cjs');

const LEVELS = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** A pino JSON line as `time LEVEL component: message {other fields}`; anything else as it is. */
function readable(line) {
  try {
    const { time, level, msg, component, pid, hostname, ...rest } = JSON.parse(line);
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    return `${String(time ?? '').slice(11, 23)} ${LEVELS[level] ?? level} ${component ? `${component}: ` : ''}${msg ?? ''}${extra}`;
  } catch {
    return line;
  }
}

class FailedTestLogsReporter {
  onTestResult(test, result) {
    const file = failuresFileFor(result.testFilePath);
    if (!fs.existsSync(file)) return;
    const { logFile, tests } = JSON.parse(fs.readFileSync(file, 'utf8'));
    const out = [];
    for (const [name, { lines, dropped }] of Object.entries(tests)) {
      out.push(`\n  ── service logs while "${name}" ran${dropped ? ` (last ${lines.length} lines; ${dropped} earlier ones in ${logFile})` : ''}:`);
      for (const l of lines) out.push(`    ${readable(l)}`);
    }
    process.stderr.write(`${out.join('\n')}\n`);
  }
}

module.exports = FailedTestLogsReporter;
