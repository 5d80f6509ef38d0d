import { loadConfig, ConfigError } from '../../infra/config.js';
import { componentLogger } from '../../infra/logger.js';
import { EmbedBatcher } from '../../indexer/pipeline/EmbedBatcher.js';
import { HeuristicTokenCounter } from '../../indexer/text/Chunker.js';
import { bullConnection, closeContext, createContext, snapshotRoot } from '../bootstrap.js';
import { openEmbedder } from '../embedder.js';
import { Queue, type Worker } from 'bullmq';
import { QUEUES } from '../../indexer/pipeline/jobs.js';
import { GeneratorHandle, loadWithoutTaps } from '../ask/GeneratorHandle.js';
import { startIngestionWorkers } from './IngestionWorkers.js';
import { prefillHook, startPrefillWorker, type PrefillJobData } from './PrefillWorker.js';
import { IndexSnapshotter } from './IndexSnapshotter.js';

const log = componentLogger('worker-main');

/** The queue-worker process: ingestion steps and index snapshots. Started by `npm start` or on its own. */
async function main(): Promise<void> {
  const config = loadConfig();
  const embedder = new EmbedBatcher(await openEmbedder(config), { maxBatch: 32, maxWaitMs: 20 });
  const ctx = createContext(config, embedder);
  // Block prefill runs only when a generator model is available here; ingestion never waits for it.
  const generator = config.PREFILL_ON_INGEST ? new GeneratorHandle(config, loadWithoutTaps) : null;
  const generatorState = generator ? await generator.loaded : null;
  const prefillQueue = new Queue<PrefillJobData>(QUEUES.prefill, { connection: bullConnection(config) });
  const workers: Worker[] = startIngestionWorkers({
    connection: bullConnection(config),
    store: ctx.store,
    embedder,
    counter: new HeuristicTokenCounter(),
    targetTokens: config.CHUNK_TOKENS,
    maxTokens: config.CHUNK_MAX_TOKENS,
    lockDurationMs: config.JOB_LOCK_MS,
    afterIndex: generatorState?.state === 'ready' ? prefillHook(prefillQueue, config.JOB_ATTEMPTS) : undefined,
  });
  if (generatorState?.state === 'ready') workers.push(startPrefillWorker(bullConnection(config), generatorState.generator, config.JOB_LOCK_MS));
  const snapshotter = new IndexSnapshotter(ctx.redis, ctx.store, ctx.registry, snapshotRoot(config), config.SNAPSHOT_INTERVAL_MS);
  snapshotter.start();
  log.info({ embedder: embedder.id, queues: workers.map((w) => w.name) }, 'workers started');
  process.send?.({ type: 'ready' });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'closing workers: finishing active jobs');
    // Worker.close() waits for active jobs; anything it cannot finish is handed back by the stalled-job check.
    await Promise.all(workers.map((w) => w.close()));
    await snapshotter.stop();
    await prefillQueue.close();
    await generator?.release();
    await closeContext(ctx);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err: unknown) => {
  const msg = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`worker: ${msg}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
