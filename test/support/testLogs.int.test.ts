import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DIST, REPO } from './processes.js';

/** `npm test` shows the runner's report; a test's service logs appear only when that test fails. */
describe('service logs during tests', () => {
  it('go to a log file, and are printed for the failing test only', async () => {
    const config = {
      rootDir: DIST,
      testEnvironment: path.join(REPO, 'test', 'support', 'jest-environment.cjs'),
      testMatch: ['**/test/support/fixtures/serviceLogs.fixture.js'],
      reporters: ['default', path.join(REPO, 'test', 'support', 'failed-test-logs-reporter.cjs')],
      transform: {},
    };
    const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--experimental-vm-modules', path.join(REPO, 'node_modules', 'jest', 'bin', 'jest.js'), '--config', JSON.stringify(config)],
        { cwd: REPO, env: { ...process.env, LOG_LEVEL: 'info', LOG_FILE: '' }, timeout: 120_000 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
      );
    });
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/Tests:\s+1 failed, 1 passed, 2 total/);
    expect(run.out).toContain('service logs while "fails loudly" ran');
    expect(run.out).toMatch(/WARN fixture: logged by the failing test \{"marker":"loud-fail"\}/);
    expect(run.out).not.toContain('quiet-pass');
    // No raw JSON log line reaches the report.
    expect(run.out).not.toMatch(/^\{"level"/m);
    const logFile = path.join(REPO, '.tmp', 'test-logs', 'dist__test__support__fixtures__serviceLogs.fixture.js.log');
    const logged = fs.readFileSync(logFile, 'utf8');
    expect(logged).toContain('"marker":"quiet-pass"');
    expect(logged).toContain('"marker":"loud-fail"');
  });
});
