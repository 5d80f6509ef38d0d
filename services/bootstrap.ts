import path from 'node:path';
import type { Config } from '../infra/config.js';
import { createRedis, type RedisClient } from '../infra/redis.js';
import type { Embedder } from '../indexer/embedding/Embedder.js';
import { IngestionService } from '../indexer/pipeline/IngestionService.js';
import { queueOptions, type QueueConnection } from '../indexer/pipeline/jobs.js';
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
 * workers need that). Either is a cluster connection when REDIS_CLUSTER_NODES is set.
 */
export type RedisRole = 'serving' | 'background';

export function redisFor(config: Config, role: RedisRole): RedisClient {
  return createRedis(config.redis, {}, role === 'serving' ? { commandTimeoutMs: config.REDIS_REQUEST_TIMEOUT_MS } : {});
}

/** A new connection with the service's queue prefix, for a Queue, Worker or FlowProducer. */
export function bullQueueOptions(config: Config, role: RedisRole = 'background'): QueueConnection {
  return queueOptions(redisFor(config, role));
}

export function snapshotRoot(config: Config): string {
  return path.join(config.dataDir, 'indexes');
}

/** Wire the process-wide services from configuration; the embedder is created by the caller (it differs per role). */
export function createContext(config: Config, embedder: Embedder, role: RedisRole = 'background'): ServiceContext {
  const redis = redisFor(config, role);
  const store = new DocumentStore(redis, config.replicaAck);
  const registry = new IndexRegistry(store, snapshotRoot(config), config.SEARCH_EF);
  return {
    config,
    redis,
    store,
    registry,
    embedder,
    ingestion: new IngestionService(bullQueueOptions(config, role), store, config.JOB_ATTEMPTS, config.replicaAck),
    search: new SearchService(store, registry, embedder),
    auth: new Authenticator(new ApiKeyStore(redis, config.ADMIN_API_KEY), new SessionStore(redis)),
  };
}

export async function closeContext(ctx: ServiceContext): Promise<void> {
  await ctx.ingestion.close();
  await ctx.embedder.close();
  ctx.redis.disconnect();
}
