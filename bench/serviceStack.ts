import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { forkService, freePort, startRedisServer, stopProcess, type ForkedService } from '../infra/localProcesses.js';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** An API process and a worker on a Redis of their own, in a scratch directory: what the over-HTTP benches time. */
export interface ServiceStack {
  work: string;
  redisPort: number;
  base: string;
  api: ForkedService;
  worker: ForkedService;
  /** Stop the worker early (e.g. so timed asks do not share the cores with it). */
  stopWorker(): Promise<void>;
  /** Stop everything started and delete the scratch directory. */
  close(): Promise<void>;
}

/**
 * Start the stack: `prepare` may fill the scratch directory first (e.g. build models); `env` is the services'
 * settings on top of the ones every bench shares (Redis, DATA_DIR, loopback on a free port, workers in their own process, no rate limits).
 */
export async function startServiceStack(opts: {
  prefix: string;
  env: (work: string) => Record<string, string>;
  prepare?: (work: string) => void;
}): Promise<ServiceStack> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), opts.prefix));
  const children: ChildProcess[] = [];
  let redis: ChildProcess | null = null;
  const close = async () => {
    await Promise.all(children.splice(0).map((c) => stopProcess(c)));
    if (redis) await stopProcess(redis, 'SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
  };
  try {
    opts.prepare?.(work);
    const redisPort = await freePort();
    const redisDir = path.join(work, 'redis');
    fs.mkdirSync(redisDir);
    redis = await startRedisServer(redisPort, redisDir);
    const env = {
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      DATA_DIR: path.join(work, 'data'),
      HOST: '127.0.0.1',
      PORT: '0',
      RUN_WORKERS: 'false',
      RATE_LIMIT_REQUESTS: '0',
      RATE_LIMIT_ASK_REQUESTS: '0',
      ...opts.env(work),
    };
    const api = await forkService(path.join(DIST, 'services/main.js'), env, 'listening', { timeoutMs: 120_000, captureOutput: false });
    children.push(api.child);
    const worker = await forkService(path.join(DIST, 'services/workers/main.js'), env, 'ready', { timeoutMs: 120_000, captureOutput: false });
    children.push(worker.child);
    const base = `http://127.0.0.1:${api.port}`;
    await until(async () => (await json(base, 'GET', '/readyz')).status === 200, 120_000, 'API readiness');
    const stopWorker = async () => {
      const i = children.indexOf(worker.child);
      if (i >= 0) children.splice(i, 1);
      await stopProcess(worker.child);
    };
    return { work, redisPort, base, api, worker, stopWorker, close };
  } catch (e) {
    await close();
    throw e;
  }
}

export async function json(base: string, method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(base + p, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(120_000) }).catch(
    (e: Error & { cause?: Error }) => {
      // fetch's own message ("fetch failed") hides why: name the request and the socket error.
      throw new Error(`${method} ${base}${p}: ${e.message}${e.cause ? ` (${e.cause.message})` : ''}`);
    },
  );
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

export async function until(cond: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 500): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function indexedCount(base: string, collection: string): Promise<number> {
  const r = await json(base, 'GET', `/v1/collections/${collection}`);
  return r.status === 200 ? Number(r.body.documents ?? 0) : 0;
}
