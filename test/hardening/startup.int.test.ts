import { fork } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../../infra/localProcesses.js';
import { DIST, TEST_REDIS_BASE, tempDir } from '../support/processes.js';

/** Run an entry point to its exit; it must not get as far as listening. */
function runToExit(entry: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string; listened: boolean }> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    let listened = false;
    const child = fork(path.join(DIST, entry), [], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('message', () => (listened = true));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} still running after 60 s:\n${stderr}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stderr, listened });
    });
  });
}

const notADir = () => {
  const file = path.join(tempDir('startup'), 'a-file');
  fs.writeFileSync(file, '');
  return path.join(file, 'data');
};

describe('start-up fails fast, naming the problem', () => {
  it.each(['services/main.js', 'services/workers/main.js'])('%s: every invalid variable in one message, exit code 2', async (entry) => {
    const r = await runToExit(entry, { PORT: 'eighty', JOB_LOCK_MS: '5', RATE_LIMIT_REQUESTS: '-1', REDIS_URL: 'http://localhost' });
    expect(r.code).toBe(2);
    expect(r.listened).toBe(false);
    expect(r.stderr).toMatch(/Invalid configuration/);
    for (const v of ['PORT="eighty"', 'JOB_LOCK_MS="5"', 'RATE_LIMIT_REQUESTS="-1"', 'REDIS_URL="http://localhost"']) expect(r.stderr).toContain(v);
  });

  it.each(['services/main.js', 'services/workers/main.js'])('%s: a DATA_DIR that cannot be written', async (entry) => {
    const dir = notADir();
    const r = await runToExit(entry, { DATA_DIR: dir, REDIS_URL: `${TEST_REDIS_BASE}/0` });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`DATA_DIR=${JSON.stringify(path.resolve(dir))}: not a writable directory (ENOTDIR)`);
  });

  it('the API: a Redis on another host that does not answer', async () => {
    // 192.0.2.0/24 is reserved for documentation: nothing answers there.
    const r = await runToExit('services/main.js', { REDIS_URL: 'redis://192.0.2.1:6379', DATA_DIR: tempDir('startup') });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Redis does not answer at redis:\/\/192\.0\.2\.1:6379/);
  });

  it.each(['services/main.js', 'services/workers/main.js'])('%s: a malformed REDIS_CLUSTER_NODES names the bad entry', async (entry) => {
    const r = await runToExit(entry, { REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('REDIS_CLUSTER_NODES="127.0.0.1:7000,127.0.0.1": entry 2 "127.0.0.1" is not host:port');
  });

  it('the API: cluster nodes where nothing listens, and a Redis that is not a cluster node; no embedded Redis is started', async () => {
    const port = await freePort();
    const none = await runToExit('services/main.js', { REDIS_CLUSTER_NODES: `127.0.0.1:${port}`, DATA_DIR: tempDir('startup') });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`Redis Cluster is not usable at REDIS_CLUSTER_NODES="127.0.0.1:${port}"`);
    const plain = new URL(TEST_REDIS_BASE);
    const dataDir = tempDir('startup');
    const notCluster = await runToExit('services/main.js', { REDIS_CLUSTER_NODES: `${plain.hostname}:${plain.port || 6379}`, DATA_DIR: dataDir });
    expect(notCluster.code).toBe(2);
    expect(notCluster.stderr).toMatch(/Redis Cluster is not usable at .*cluster support disabled/);
    expect(fs.existsSync(path.join(dataDir, 'redis'))).toBe(false);
  });
});
