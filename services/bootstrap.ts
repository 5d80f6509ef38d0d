import path from 'node:path';
import type { ConnectionOptions } from 'bullmq';
import type { Config } from '../infra/config.js';
import type { Redis } from 'ioredis';
import { createRedis } from '../infra/redis.js';
import type { Embedder } from '../indexer/embedding/Embedder.js';
import { IngestionService } from '../indexer/pipeline/IngestionService.js';
import { DocumentStore } from '../indexer/store/DocumentStore.js';
import { IndexRegistry } from '../retriever/IndexRegistry.js';
import { SearchService } from '../retriever/SearchService.js';
import { ApiKeyStore } from './auth/ApiKeyStore.js';
import { Authenticator } from './auth/Authenticator.js';
import { SessionStore } from './auth/SessionStore.js';
import type { ServiceContext } from './context.js';

/**
 * `serving`: a connection HTTP requests wait on, each command bounded by REDIS_REQUEST_TIMEOUT_MS (fail fast
 * with 503). `background`: workers, the CLI and snapshots, which wait for Redis as long as it takes (BullMQ
 * workers need that).
 */
export type RedisRole = 'serving' | 'background';

export function redisFor(config: Config, role: RedisRole): Redis {
  return createRedis(config.REDIS_URL, {}, role === 'serving' ? { commandTimeoutMs: config.REDIS_REQUEST_TIMEOUT_MS } : {});
}

export function bullConnection(config: Config, role: RedisRole = 'background'): ConnectionOptions {
  return redisFor(config, role);
}

export function snapshotRoot(config: Config): string {
  return path.join(config.dataDir, 'indexes');
}

/** Wire the process-wide services from configuration; the embedder is created by the caller (it differs per role). */
export function createContext(config: Config, embedder: Embedder, role: RedisRole = 'background'): ServiceContext {
  const redis = redisFor(config, role);
  const store = new DocumentStore(redis);
  const registry = new IndexRegistry(store, snapshotRoot(config), config.SEARCH_EF);
  return {
    config,
    redis,
    store,
    registry,
    embedder,
    ingestion: new IngestionService(bullConnection(config, role), store, config.JOB_ATTEMPTS),
    search: new SearchService(store, registry, embedder),
    auth: new Authenticator(new ApiKeyStore(redis, config.ADMIN_API_KEY), new SessionStore(redis)),
  };
}

export async function closeContext(ctx: ServiceContext): Promise<void> {
  await ctx.ingestion.close();
  await ctx.embedder.close();
  ctx.redis.disconnect();
}
