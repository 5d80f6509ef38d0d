import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { Redis } from 'ioredis';
import { freePort, hasRedisServer, startRedisServer } from '../../infra/localProcesses.js';
import { tempDir } from '../support/processes.js';

/**
 * A redis-server owned by one test file: its own port and data folder, so nothing another test run (or
 * another person's run on the same machine) does to the shared Redis on 6379 can reach it, and the test
 * may kill and restart it. Append-only persistence as in production.
 */
export class OwnRedis {
  private child: ChildProcess | null = null;
  readonly dir = tempDir('redis');
  redis!: Redis;

  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    if (!hasRedisServer()) throw new Error('these tests start their own redis-server: install it (apt-get install redis-server)');
    const r = new OwnRedis(await freePort());
    await r.startServer();
    r.redis = new Redis(r.url, { maxRetriesPerRequest: null });
    r.redis.on('error', () => undefined);
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Start the server (again) on the same port and files. */
  async startServer(): Promise<void> {
    this.child = await startRedisServer(this.port, this.dir);
  }

  /** Stop the server with `signal` (SIGKILL: no shutdown work, no final fsync) and wait for it to exit. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  /** Send `signal` without waiting (SIGSTOP freezes the server with its connections open: a hung Redis; SIGCONT resumes it). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  /** Stop the server and delete its files. */
  async stop(): Promise<void> {
    this.redis?.disconnect();
    await this.kill('SIGTERM');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
