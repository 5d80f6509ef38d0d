import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { componentLogger } from './logger.js';

const log = componentLogger('redis');

/** BullMQ needs `maxRetriesPerRequest: null` on connections used by workers; we use it everywhere for one behaviour. */
export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false, ...extra });
}

export async function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

export class RedisUnavailableError extends Error {}

function redisServerBinary(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : null;
}

/**
 * Make sure Redis answers at `url`. If it does not, the URL points at this machine and a
 * `redis-server` binary exists, start an embedded one with append-only persistence under dataDir
 * (documents, chunks and vectors live in Redis, so durability matters).
 */
export async function ensureRedis(url: string, dataDir: string): Promise<{ embedded: boolean }> {
  if (await redisAnswers(url)) return { embedded: false };
  const u = new URL(url);
  const local = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(u.hostname);
  const bin = redisServerBinary();
  if (!local || !bin) {
    throw new RedisUnavailableError(
      `Redis does not answer at ${url}. Start one (e.g. \`redis-server --appendonly yes\`), ` +
        `point REDIS_URL at a reachable server, or install redis-server so the service can start an embedded one.`,
    );
  }
  const dir = path.resolve(dataDir, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const port = u.port || '6379';
  log.info({ dir, port }, 'starting embedded redis-server with append-only persistence');
  const child = spawn(
    bin,
    ['--port', port, '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--daemonize', 'yes', '--logfile', path.join(dir, 'redis.log')],
    { stdio: 'ignore' },
  );
  await new Promise<void>((resolve) => child.on('exit', () => resolve()));
  for (let i = 0; i < 100; i++) {
    if (await redisAnswers(url, 500)) return { embedded: true };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new RedisUnavailableError(`Started redis-server in ${dir} but it does not answer at ${url}; see ${path.join(dir, 'redis.log')}.`);
}

/** Ends a client connection that was created here and handed to BullMQ, which closes only connections it made itself. */
export function releaseConnection(connection: unknown): void {
  const c = connection as { disconnect?: () => void } | undefined;
  if (typeof c?.disconnect === 'function') c.disconnect();
}
