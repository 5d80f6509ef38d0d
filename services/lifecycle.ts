import fs from 'node:fs';
import path from 'node:path';
import type { Server } from 'node:http';
import { ConfigError } from '../infra/config.js';
import { componentLogger } from '../infra/logger.js';
import type { ServiceContext } from './context.js';

const log = componentLogger('lifecycle');

/** Fail at start-up, naming the variable, when a directory the process must write to cannot be written. */
export function assertWritableDir(dir: string, variable: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    const probe = path.join(dir, `.write-check-${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (e) {
    throw new ConfigError([`${variable}=${JSON.stringify(dir)}: not a writable directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`]);
  }
}

/**
 * Stop taking connections and let in-flight requests finish. Idle keep-alive sockets would hold `close()`
 * open forever, so they are closed at once and again as each in-flight request ends (its socket turns idle);
 * whatever still runs after `timeoutMs` is cut off.
 */
export async function drainHttpServer(server: Server, timeoutMs: number): Promise<{ forced: boolean }> {
  let forced = false;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  const timer = setTimeout(() => {
    forced = true;
    server.closeAllConnections();
  }, timeoutMs);
  await closed;
  clearInterval(sweep);
  clearTimeout(timer);
  return { forced };
}

/** Resolves with `fallback` if `work` takes longer than `ms`. */
export function within<T>(work: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => resolve(fallback), ms);
    work.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/**
 * Loads every collection's search index at start-up (newest snapshot + change-log replay), so a new
 * replica reports ready only once its first searches will not pay for that. A collection that fails to
 * load is logged and retried on its first search, as before.
 */
export class IndexWarmup {
  private finished = false;
  private collections = 0;

  constructor(private readonly ctx: Pick<ServiceContext, 'store' | 'registry'>) {}

  start(): Promise<void> {
    return (async () => {
      const started = performance.now();
      for (const info of await this.ctx.store.listCollections()) {
        try {
          await this.ctx.registry.current(info.name);
          this.collections++;
        } catch (err) {
          log.warn({ collection: info.name, err: (err as Error).message }, 'index warm-up failed; it will load on first use');
        }
      }
      log.info({ collections: this.collections, ms: Math.round(performance.now() - started) }, 'indexes loaded');
    })()
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'index warm-up could not list collections'))
      .finally(() => (this.finished = true));
  }

  get done(): boolean {
    return this.finished;
  }
}
