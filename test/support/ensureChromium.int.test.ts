import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './processes.js';

/**
 * The check `npm test` runs before anything else (package.json `pretest`). Here Chromium is installed,
 * so a missing one is simulated by pointing CHROMIUM_PATH at a path that does not exist; the user that
 * cannot install is the real `nobody` (setpriv), so the branch taken is the one a developer without root hits.
 */
const SCRIPT = path.join(REPO, 'test', 'support', 'ensure-chromium.mjs');
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

function check(env: Record<string, string>, asNobody: boolean): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, args] = asNobody ? ['setpriv', [...NOBODY, process.execPath, SCRIPT]] : [process.execPath, [SCRIPT]];
  return new Promise((resolve) => {
    execFile(cmd, args as string[], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe('the Chromium check before npm test', () => {
  it('is what npm test runs first', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.pretest).toBe('node test/support/ensure-chromium.mjs');
  });

  it('passes silently when Chromium is there', async () => {
    expect(await check({}, true)).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('stops with one line saying what to run when Chromium is missing and the user cannot install it', async () => {
    const r = await check({ CHROMIUM_PATH: '/nonexistent/chromium' }, true);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'npm test: the browser tests need Chromium at /nonexistent/chromium: run `sudo apt-get update && sudo apt-get install -y chromium` (Debian/Ubuntu; it installs /usr/bin/chromium) or set CHROMIUM_PATH to a Chromium binary, then run npm test again',
    ]);
  });

  it('as root, installs only Debian’s own path: a wrong CHROMIUM_PATH is reported, not papered over', async () => {
    const r = await check({ CHROMIUM_PATH: '/nonexistent/chromium' }, false);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^npm test: CHROMIUM_PATH=\/nonexistent\/chromium is not an executable file/);
  });
});
