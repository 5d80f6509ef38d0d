import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';

/**
 * Starting this project's own processes on this machine: a free loopback port, a compiled service
 * forked with an IPC readiness message, a redis-server (the embedded one of `npm start`, and the private ones of
 * the load benchmark and the integration tests, which must run real processes).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

export interface ForkedService {
  child: ChildProcess;
  /** The port a service reported with its `listening` message. */
  port?: number;
  /** Everything the process printed so far (when its output is captured). */
  output: () => string;
  /** Signal the process and wait until it has exited. */
  kill: (signal?: NodeJS.Signals) => Promise<void>;
}

export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** Fork a compiled entry point and wait for its IPC `ready`/`listening` message (services/main.js, workers/main.js). */
export function forkService(
  script: string,
  env: Record<string, string>,
  waitFor: 'ready' | 'listening',
  opts: { timeoutMs?: number; captureOutput?: boolean } = {},
): Promise<ForkedService> {
  let out = '';
  const capture = opts.captureOutput ?? true;
  const child = fork(script, [], {
    // Captured output includes the service's logs (tests read them), so they are not sent to a LOG_FILE.
    env: { ...process.env, LOG_LEVEL: 'warn', ...(capture ? { LOG_FILE: '' } : {}), ...env },
    stdio: capture ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  // This process's log file (if it has one) gets the child's captured logs too, whole lines at a time.
  const logFile = process.env.LOG_FILE?.trim();
  if (capture && logFile) {
    let partial = '';
    child.stderr?.on('data', (d: Buffer) => {
      const text = partial + d.toString();
      const cut = text.lastIndexOf('\n') + 1;
      partial = text.slice(cut);
      if (cut > 0) fs.appendFileSync(logFile, text.slice(0, cut));
    });
  }
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${script} did not become ${waitFor} in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    child.on('message', (m: { type?: string; port?: number }) => {
      if (m?.type === waitFor) {
        clearTimeout(t);
        resolve({ child, port: m.port, output: () => out, kill: (signal) => stopProcess(child, signal) });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${script} exited with ${code} before it was ${waitFor}:\n${out}`));
    });
  });
}

export function hasRedisServer(): boolean {
  return spawnSync('sh', ['-c', 'command -v redis-server']).status === 0;
}

export interface RedisServerOptions {
  /** Detach it (it outlives this process; the embedded Redis of `npm start`), logging to dir/redis.log. */
  daemonize?: boolean;
  timeoutMs?: number;
}

/**
 * The one place a redis-server is started: on 127.0.0.1:`port` with append-only persistence in `dir` (the project's
 * data lives in Redis, so durability matters); resolves once it answers PING. Returns the child process, or null for
 * a daemonized server (its launcher has exited).
 */
export function startRedisServer(port: number, dir: string, opts?: RedisServerOptions & { daemonize?: false }): Promise<ChildProcess>;
export function startRedisServer(port: number, dir: string, opts: RedisServerOptions & { daemonize: true }): Promise<null>;
export async function startRedisServer(port: number, dir: string, opts: RedisServerOptions = {}): Promise<ChildProcess | null> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''];
  if (opts.daemonize) args.push('--daemonize', 'yes', '--logfile', path.join(dir, 'redis.log'));
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  const launcherExited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (opts.daemonize) await launcherExited;
  const probe = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, retryStrategy: () => 100, maxRetriesPerRequest: null });
  probe.on('error', () => undefined);
  const end = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (!opts.daemonize && child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`);
      if ((await probe.ping().catch(() => '')) === 'PONG') return opts.daemonize ? null : child;
      if (Date.now() > end) throw new Error(`redis-server on port ${port} did not answer in ${timeoutMs} ms${opts.daemonize ? `; see ${path.join(dir, 'redis.log')}` : ''}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    probe.disconnect();
  }
}
