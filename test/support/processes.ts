import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { forkService, type ForkedService } from '../../infra/localProcesses.js';

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
 * The shared Redis the integration tier uses: 127.0.0.1:6379, or TEST_REDIS_URL (without a database number)
 * so two checkouts can run their suites at once against different servers.
 */
export const TEST_REDIS_BASE = (process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379').replace(/\/+$/, '');

/**
 * Each integration test file owns one Redis logical database, so BullMQ queues and keys of
 * concurrently running files never meet. The database is flushed before use.
 */
export async function freshRedis(db: number): Promise<{ url: string; redis: Redis }> {
  const url = `${TEST_REDIS_BASE}/${db}`;
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  await redis.flushdb();
  return { url, redis };
}

/** A fresh temporary directory under the OS temp folder, named `rag-<prefix>-…`. */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `rag-${prefix}-`));
}

export type Spawned = ForkedService;

/** Fork a compiled entry point (e.g. services/main.js) and wait for its IPC ready/listening message. */
export function spawnService(entry: string, env: Record<string, string>, waitFor: 'ready' | 'listening', timeoutMs = 60_000, opts: { processGroup?: boolean } = {}): Promise<Spawned> {
  return forkService(path.join(DIST, entry), env, waitFor, { timeoutMs, ...opts });
}

export async function waitUntil(cond: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 250): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
