import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import { componentLogger } from '../../infra/logger.js';
import type { BlockSource } from '../../generator/BlockRenderer.js';
import type { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import type { AfterIndexHook } from '../../indexer/pipeline/IndexStep.js';
import { blockSourceOf } from '../../ask/Passage.js';
import { jobOptions, QUEUES, sha256 } from '../../indexer/pipeline/jobs.js';

const log = componentLogger('prefill');

export interface PrefillJobData {
  collection: string;
  documentId: string;
  blocks: BlockSource[];
}

export interface PrefillResult {
  computed: number;
  cached: number;
}

/** One prefill job per document version: enqueueing it again (a retried index step) is a no-op. */
export function prefillJobId(collection: string, documentId: string, version: number): string {
  return `pf-${sha256(`${collection}\u0000${documentId}\u0000${version}`).slice(0, 32)}`;
}

/** The index step's hook: one prefill job per indexed document version (deterministic id, so retries do not duplicate it). */
export function prefillHook(queue: Queue<PrefillJobData>, attempts: number): AfterIndexHook {
  return async ({ collection, documentId, title, version, chunks }) => {
    if (chunks.length === 0) return;
    // The ask path renders retrieved chunks through the same mapping, so these blocks are the ones it looks up.
    const blocks = chunks.map((c) => blockSourceOf(c, title));
    await queue.add('prefill', { collection, documentId, blocks }, { ...jobOptions(attempts), jobId: prefillJobId(collection, documentId, version) });
  };
}

/**
 * Computes each new chunk's KV block as a continuation of the shared prefix and writes it to the
 * KV store's disk tier, which API processes on the same DATA_DIR read. One job at a time: a block
 * prefill already uses every core through onnxruntime.
 */
export function startPrefillWorker(connection: ConnectionOptions, generator: BlockAttentionGenerator, lockDurationMs: number): Worker<PrefillJobData, PrefillResult> {
  const worker = new Worker<PrefillJobData, PrefillResult>(
    QUEUES.prefill,
    async (job) => {
      let computed = 0;
      for (const [i, block] of job.data.blocks.entries()) {
        if ((await generator.prefillChunk(block)) === 'computed') computed++;
        await job.updateProgress(Math.round(((i + 1) / job.data.blocks.length) * 100));
      }
      return { computed, cached: job.data.blocks.length - computed };
    },
    { connection, concurrency: 1, lockDuration: lockDurationMs },
  );
  worker.on('failed', (job, err) => log.warn({ jobId: job?.id, err: err.message }, 'prefill failed'));
  return worker;
}
