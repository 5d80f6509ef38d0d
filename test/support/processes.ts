import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

/** dist/ root of the compiled project (tests run from dist/test/...). */
export const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The repository root: the nearest folder above dist/ holding package.json. */
export const REPO = (() => {
  let dir = path.dirname(DIST);
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();
export const SHARED_DATA = path.resolve(REPO, '..', 'shared', 'data');

export function sharedFile(name: string): string {
  const p = path.join(SHARED_DATA, name);
  if (!fs.existsSync(p)) throw new Error(`test data ${p} is missing: the shared/ folder must sit beside the repository`);
  return p;
}

/**
 * Each integration test file owns one Redis logical database, so BullMQ queues and keys of
 * concurrently running files never meet. The database is flushed before use.
 */
export async function freshRedis(db: number): Promise<{ url: string; redis: Redis }> {
  const url = `redis://127.0.0.1:6379/${db}`;
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  await redis.flushdb();
  return { url, redis };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `rag-${prefix}-`));
}

export interface Spawned {
  child: ChildProcess;
  port?: number;
  output: () => string;
  kill: (signal?: NodeJS.Signals) => Promise<void>;
}

/** Fork a compiled entry point (e.g. services/main.js) and wait for its IPC ready/listening message. */
export async function spawnService(entry: string, env: Record<string, string>, waitFor: 'ready' | 'listening', timeoutMs = 60_000): Promise<Spawned> {
  let out = '';
  const child = fork(path.join(DIST, entry), [], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const port = await new Promise<number | undefined>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${entry} did not become ${waitFor} in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m?.type === waitFor) {
        clearTimeout(t);
        resolve(m.port);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${entry} exited with ${code} before it was ${waitFor}:\n${out}`));
    });
  });
  return {
    child,
    port,
    output: () => out,
    kill: (signal = 'SIGTERM') =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill(signal);
      }),
  };
}

export async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 250): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
