import { loadConfig, ConfigError } from '../../infra/config.js';
import { componentLogger } from '../../infra/logger.js';
import { bullConnection, closeContext, createContext, snapshotRoot } from '../bootstrap.js';
import { openEmbedder } from '../embedder.js';
import { Queue, type Worker } from 'bullmq';
import { QUEUES } from '../../indexer/pipeline/jobs.js';
import { GeneratorHandle, loadWithoutTaps } from '../ask/GeneratorHandle.js';
import { startConfiguredIngestionWorkers } from '../../indexer/pipeline/IngestionWorkers.js';
import { prefillHook, startPrefillWorker, type PrefillJobData } from './PrefillWorker.js';
import { IndexSnapshotter } from './IndexSnapshotter.js';
import { startCalibrationWorker } from './CalibrationWorker.js';
import { redisAnswers } from '../../infra/redis.js';
import { assertWritableDir, within } from '../lifecycle.js';

const log = componentLogger('worker-main');

/** The queue-worker process: ingestion steps and index snapshots. Started by `npm start` or on its own. */
async function main(): Promise<void> {
  const config = loadConfig();
  assertWritableDir(config.dataDir, 'DATA_DIR');
  await waitForRedis(config.REDIS_URL, 30_000);
  const embedder = await openEmbedder(config);
  const ctx = createContext(config, embedder);
  // Block prefill runs only when a generator model is available here; ingestion never waits for it.
  const generator = config.PREFILL_ON_INGEST ? new GeneratorHandle(config, loadWithoutTaps) : null;
  const generatorState = generator ? await generator.loaded : null;
  const prefillQueue = new Queue<PrefillJobData>(QUEUES.prefill, { connection: bullConnection(config) });
  const ingestion = startConfiguredIngestionWorkers(config, ctx.store, ctx.redis, embedder, {
    afterIndex: generatorState?.state === 'ready' ? prefillHook(prefillQueue, config.JOB_ATTEMPTS) : undefined,
  });
  const workers: Worker[] = [...ingestion.workers];
  if (generatorState?.state === 'ready') workers.push(startPrefillWorker(bullConnection(config), generatorState.generator, config.JOB_LOCK_MS));
  // Recalibration from the dashboard: loads a tapped model only while a job runs.
  workers.push(startCalibrationWorker(bullConnection(config), config));
  const snapshotter = new IndexSnapshotter(ctx.redis, ctx.store, ctx.registry, snapshotRoot(config), config.SNAPSHOT_INTERVAL_MS);
  snapshotter.start();
  log.info({ embedder: embedder.id, queues: workers.map((w) => w.name) }, 'workers started');
  process.send?.({ type: 'ready' });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'closing workers: finishing active jobs');
    // Worker.close() waits for active jobs. Past the timeout they are abandoned: their locks lapse after
    // JOB_LOCK_MS and the stalled-job check hands them to another worker (every step is idempotent).
    const finished = await within(
      Promise.all(workers.map((w) => w.close())).then(() => true),
      config.SHUTDOWN_TIMEOUT_MS,
      false,
    );
    if (!finished) {
      log.warn('active jobs did not finish before the shutdown timeout; handing them back');
      await Promise.all(workers.map((w) => w.close(true)));
    }
    await ingestion.close();
    await snapshotter.stop();
    await prefillQueue.close();
    await generator?.release();
    await closeContext(ctx);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** Workers have nothing to do without Redis: wait for it briefly (it may be starting alongside), then stop with a clear message. */
async function waitForRedis(url: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await redisAnswers(url))) {
    if (Date.now() > end) throw new ConfigError([`REDIS_URL=${JSON.stringify(url)}: Redis did not answer within ${timeoutMs / 1000} s; start Redis or point REDIS_URL at a reachable server`]);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

main().catch((err: unknown) => {
  const msg = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`worker: ${msg}\n`);
  process.exit(err instanceof ConfigError ? 2 : 1);
});
