#!/usr/bin/env node
// `npm test` runs this first (the `pretest` script): the dashboard and API-reference tests drive a real
// Chromium through playwright-core, which never downloads a browser. When Debian's chromium is missing,
// root installs it with apt-get (as CI does); anyone else gets one line saying what to run, before any
// test starts. CHROMIUM_PATH points the tests (and this check) at another Chromium binary.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const DEFAULT = '/usr/bin/chromium';
const chromium = process.env.CHROMIUM_PATH || DEFAULT;
const runnable = (p) => {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
};
const stop = (line) => {
  process.stderr.write(`npm test: ${line}\n`);
  process.exit(1);
};

if (!runnable(chromium)) {
  const isRoot = process.getuid?.() === 0;
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) {
    stop(`the browser tests need Chromium at ${chromium}: run \`sudo apt-get update && sudo apt-get install -y chromium\` (Debian/Ubuntu; it installs ${DEFAULT}) or set CHROMIUM_PATH to a Chromium binary, then run npm test again`);
  }
  if (chromium !== DEFAULT) stop(`CHROMIUM_PATH=${chromium} is not an executable file; point it at a Chromium binary (or unset it to use Debian's ${DEFAULT}), then run npm test again`);
  process.stderr.write(`npm test: installing Debian's chromium for the browser tests (apt-get update && apt-get install -y chromium) ...\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const out = spawnSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq chromium'], { env, encoding: 'utf8' });
  if (out.status !== 0 || !runnable(DEFAULT)) {
    process.stderr.write(`${out.stdout ?? ''}${out.stderr ?? ''}`.split('\n').slice(-15).join('\n'));
    stop(`could not install chromium with apt-get (output above); install it and run npm test again`);
  }
  process.stderr.write(`npm test: chromium installed at ${DEFAULT}\n`);
}
