import type { Config } from '../infra/config.js';
import type { Embedder } from '../indexer/embedding/Embedder.js';
import { EmbedderThread } from '../indexer/embedding/EmbedderThread.js';

/** The process's embedder for the configured model, run in a worker thread so request handling and job-lock renewal never wait on it. */
export function openEmbedder(config: Config): Promise<Embedder> {
  return EmbedderThread.start(config);
}
