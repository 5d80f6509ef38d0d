import fs from 'node:fs';
import path from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { componentLogger } from './logger.js';
import { hasRedisServer, startRedisServer } from './localProcesses.js';

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

/**
 * Make sure Redis answers at `url`. If it does not, the URL points at this machine and a
 * `redis-server` binary exists, start an embedded one with append-only persistence under dataDir
 * (documents, chunks and vectors live in Redis, so durability matters).
 */
export async function ensureRedis(url: string, dataDir: string): Promise<{ embedded: boolean }> {
  if (await redisAnswers(url)) return { embedded: false };
  const u = new URL(url);
  const local = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(u.hostname);
  if (!local || !hasRedisServer()) {
    throw new RedisUnavailableError(
      `Redis does not answer at ${url}. Start one (e.g. \`redis-server --appendonly yes\`), ` +
        `point REDIS_URL at a reachable server, or install redis-server so the service can start an embedded one.`,
    );
  }
  const dir = path.resolve(dataDir, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const port = Number(u.port || '6379');
  log.info({ dir, port }, 'starting embedded redis-server with append-only persistence');
  try {
    await startRedisServer(port, dir, { daemonize: true, timeoutMs: 10_000 });
  } catch (err) {
    throw new RedisUnavailableError(`Started redis-server in ${dir} but it does not answer at ${url}: ${(err as Error).message}`);
  }
  return { embedded: true };
}
