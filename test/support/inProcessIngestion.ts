import type { Redis } from 'ioredis';
import type { Worker } from 'bullmq';
import type { Embedder } from '../../indexer/embedding/Embedder.js';
import { EmbedBatcher } from '../../indexer/pipeline/EmbedBatcher.js';
import { IngestionService, type JobStatus, type NewDocument } from '../../indexer/pipeline/IngestionService.js';
import { EMBED_BATCHING, startIngestionWorkers } from '../../indexer/pipeline/IngestionWorkers.js';
import type { AfterIndexHook } from '../../indexer/pipeline/IndexStep.js';
import { DocumentStore } from '../../indexer/store/DocumentStore.js';
import { HeuristicTokenCounter } from '../../indexer/text/Chunker.js';
import { createRedis } from '../../infra/redis.js';

/**
 * The real ingestion pipeline in this process: an IngestionService submitting BullMQ flows to the test's Redis
 * database and the chunk/embed/index workers consuming them, with the given (real) embedder.
 */
export interface InProcessIngestion {
  store: DocumentStore;
  service: IngestionService;
  startWorkers: (afterIndex?: AfterIndexHook) => void;
  submit: (collection: string, docs: NewDocument[]) => Promise<string[]>;
  /** Waits until every job is completed (throws on a failed one) and returns their statuses. */
  settle: (jobIds: string[]) => Promise<JobStatus[]>;
  close: () => Promise<void>;
}

export function inProcessIngestion(url: string, redis: Redis, embedder: Embedder, chunkTokens = { target: 64, max: 96 }): InProcessIngestion {
  const store = new DocumentStore(redis);
  const connections: Redis[] = [createRedis(url)];
  const service = new IngestionService(connections[0]!, store, 2);
  let workers: Worker[] = [];
  return {
    store,
    service,
    startWorkers: (afterIndex) => {
      const connection = createRedis(url);
      connections.push(connection);
      workers = startIngestionWorkers({
        connection,
        store,
        embedder: new EmbedBatcher(embedder, EMBED_BATCHING),
        counter: new HeuristicTokenCounter(),
        targetTokens: chunkTokens.target,
        maxTokens: chunkTokens.max,
        lockDurationMs: 30_000,
        afterIndex,
      });
    },
    submit: async (collection, docs) => {
      const ids: string[] = [];
      for (const d of docs) ids.push((await service.submit(collection, d)).jobId);
      return ids;
    },
    settle: async (jobIds) => {
      for (const s of await service.waitFor(jobIds)) if (s.state === 'failed') throw new Error(`job ${s.id} failed: ${s.error}`);
      return Promise.all(jobIds.map(async (id) => (await service.status(id)) as JobStatus));
    },
    close: async () => {
      await Promise.all(workers.map((w) => w.close()));
      await service.close();
      for (const c of connections) c.disconnect();
    },
  };
}
