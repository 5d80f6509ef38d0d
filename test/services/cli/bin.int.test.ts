import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DIST, REPO } from '../../support/processes.js';

const run = promisify(execFile);
const BIN = path.join(DIST, 'services', 'cli', 'rag.js');

/** `npx rag` and a direct `dist/services/cli/rag.js` work right after `npm run build` (which `npm test` runs first). */
describe('the rag executable', () => {
  it('is built executable, with a node shebang', () => {
    // Checked before anything below runs npx, which would fix the mode itself.
    expect(fs.statSync(BIN).mode & 0o111).toBe(0o111);
    expect(fs.readFileSync(BIN, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it('runs directly', async () => {
    const { stdout } = await run(BIN, ['--help'], { env: { ...process.env, LOG_LEVEL: 'silent' } });
    expect(stdout).toMatch(/^Usage: rag \[options\] \[command\]/);
  });

  it('runs as `npx rag` from the package folder (the package bin, nothing fetched)', async () => {
    const { stdout } = await run('npx', ['--no-install', 'rag', 'ingest', '--help'], { cwd: REPO, env: { ...process.env, LOG_LEVEL: 'silent' }, timeout: 60_000 });
    expect(stdout).toMatch(/^Usage: rag ingest \[options\] <input>/);
  });
});
