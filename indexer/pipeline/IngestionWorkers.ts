import os from 'node:os';
import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../../infra/config.js';
import { createRedis } from '../../infra/redis.js';
import { EmbedBatcher } from './EmbedBatcher.js';
import { componentLogger } from '../../infra/logger.js';
import type { Embedder } from '../embedding/Embedder.js';
import { runChunkStep } from './ChunkStep.js';
import { runEmbedStep } from './EmbedStep.js';
import { runIndexStep, type AfterIndexHook } from './IndexStep.js';
import { QUEUES, type ChunkStepResult, type EmbedStepResult, type IngestJobData } from './jobs.js';
import type { DocumentStore } from '../store/DocumentStore.js';
import { HeuristicTokenCounter, type TokenCounter } from '../text/Chunker.js';
import { jobLogger } from '../../infra/jobLog.js';

const log = componentLogger('ingest-workers');

export interface IngestionWorkerDeps {
  connection: ConnectionOptions;
  store: DocumentStore;
  /** Should batch concurrent calls (EmbedBatcher) and run the model off this thread. */
  embedder: Embedder;
  counter: TokenCounter;
  targetTokens: number;
  maxTokens: number;
  lockDurationMs: number;
  afterIndex?: AfterIndexHook;
}

async function onlyChildValue<T>(job: Job): Promise<T> {
  const values = Object.values(await job.getChildrenValues());
  if (values.length !== 1) throw new Error(`job ${job.id} expected one child result, found ${values.length}`);
  return values[0] as T;
}

/**
 * BullMQ workers for the three ingestion steps. Model work happens in the embedder's thread, so this
 * event loop stays free to renew job locks; a worker killed mid-job loses nothing: its jobs stall, are
 * handed back after the lock expires, and every step is idempotent.
 */
export function startIngestionWorkers(deps: IngestionWorkerDeps): Worker[] {
  const common = {
    connection: deps.connection,
    lockDuration: deps.lockDurationMs,
    stalledInterval: Math.max(1000, Math.floor(deps.lockDurationMs / 2)),
    maxStalledCount: 3,
  };
  const chunk = new Worker<IngestJobData, ChunkStepResult>(
    QUEUES.chunk,
    (job) => runChunkStep(job.data, deps),
    { ...common, concurrency: 4 },
  );
  const embed = new Worker<{ collection: string }, EmbedStepResult>(
    QUEUES.embed,
    async (job) => {
      const chunked = await onlyChildValue<ChunkStepResult>(job);
      return runEmbedStep(job.data.collection, chunked, deps);
    },
    // Many concurrent embed jobs let the batcher fill model-sized batches across documents.
    { ...common, concurrency: 64 },
  );
  const index = new Worker<IngestJobData>(
    QUEUES.index,
    async (job) => runIndexStep(job.data, await onlyChildValue<EmbedStepResult>(job), deps),
    { ...common, concurrency: 4 },
  );
  // Job log lines carry the request id of the HTTP call that created the job (IngestJobData.requestId).
  index.on('completed', (job, result: unknown) => {
    const r = result as { applied?: boolean; added?: number; removed?: number } | undefined;
    jobLogger(log, job).info({ collection: job.data.collection, documentId: job.data.document.id, applied: r?.applied, added: r?.added, removed: r?.removed }, 'document indexed');
  });
  for (const w of [chunk, embed, index]) {
    w.on('failed', (job, err) => (job ? jobLogger(log, job) : log.child({ queue: w.name })).warn({ err: err.message }, 'job failed'));
    w.on('completed', (job) => jobLogger(log, job).debug('step done'));
    w.on('error', (err) => log.error({ queue: w.name, err: err.message }, 'worker error'));
  }
  return [chunk, embed, index];
}

/**
 * Cross-document embedding batches of up to 64 texts (the embedder sorts each by length into model
 * batches). Measured with `rag bench ingest`: 64 texts and 64 jobs in flight kept end-to-end within 5% of
 * the raw embedder; 128 texts and 256 jobs in flight made model calls disproportionately slow (92%).
 */
export const EMBED_BATCHING = { maxBatch: 64, maxWaitMs: 25 } as const;

const HEARTBEAT_PREFIX = 'rag:ingest-workers:';

/**
 * Announces live ingestion workers in this Redis database (BullMQ's own worker count spans every
 * database of a server, so it cannot tell whether anyone serves this one).
 */
export function startHeartbeat(redis: Redis): () => Promise<void> {
  const key = `${HEARTBEAT_PREFIX}${os.hostname()}:${process.pid}`;
  const beat = () => redis.set(key, String(Date.now()), 'EX', 30).catch(() => undefined);
  void beat();
  const timer = setInterval(beat, 10_000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await redis.del(key).catch(() => undefined);
  };
}

export async function liveIngestionWorkers(redis: Redis): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${HEARTBEAT_PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    n += found.length;
  } while (cursor !== '0');
  return n;
}

export interface IngestionPipelineWorkers {
  workers: Worker[];
  close: () => Promise<void>;
}

/** The ingestion workers as configured (chunk sizes, lock duration, batched embedding), announced by a heartbeat. */
export function startConfiguredIngestionWorkers(
  config: Config,
  store: DocumentStore,
  redis: Redis,
  embedder: Embedder,
  extra: { afterIndex?: AfterIndexHook } = {},
): IngestionPipelineWorkers {
  // BullMQ does not close a connection it is given: close() below does.
  const connection = createRedis(config.REDIS_URL);
  const workers = startIngestionWorkers({
    connection,
    store,
    embedder: new EmbedBatcher(embedder, EMBED_BATCHING),
    counter: new HeuristicTokenCounter(),
    targetTokens: config.CHUNK_TOKENS,
    maxTokens: config.CHUNK_MAX_TOKENS,
    lockDurationMs: config.JOB_LOCK_MS,
    afterIndex: extra.afterIndex,
  });
  const stopHeartbeat = startHeartbeat(redis);
  return {
    workers,
    close: async () => {
      await Promise.all(workers.map((w) => w.close()));
      await stopHeartbeat();
      connection.disconnect();
    },
  };
}
