import { pipeline, type FeatureExtractionPipeline, type ProgressCallback } from '@huggingface/transformers';
import { configureHub } from '../../model/hub.js';
import { l2Normalise, type Embedder, type EmbedderKind } from './Embedder.js';
import { lengthBatches } from './lengthBatches.js';

export interface TransformersEmbedderOptions {
  /** A hub id (`Xenova/all-MiniLM-L6-v2`), a path relative to modelsDir (`test/tiny-encoder`), or an absolute directory. */
  model: string;
  /** Root of the local Hugging Face layout models directory. */
  modelsDir: string;
  /** Allow downloads from the hub; when false only local files are read. */
  allowRemote?: boolean;
  /** The hub to download from (default https://huggingface.co/). */
  endpoint?: string;
  /** Download progress, when allowRemote. */
  progress?: ProgressCallback;
  /** onnxruntime intra-op threads; 0 or undefined lets onnxruntime choose. */
  intraOpThreads?: number;
  /** Texts per forward pass; the tokenizer pads each pass to its longest text, so batches are length-sorted. */
  batchSize?: number;
}

/**
 * A transformers.js feature-extraction model with mean pooling and L2 normalisation
 * (sentence-transformers style), run on onnxruntime-node.
 */
export class TransformersEmbedder implements Embedder {
  readonly kind: EmbedderKind = 'transformers';
  private closed = false;

  private constructor(
    readonly id: string,
    readonly dim: number,
    private readonly extractor: FeatureExtractionPipeline,
    private readonly batchSize: number,
  ) {}

  static async create(opts: TransformersEmbedderOptions): Promise<TransformersEmbedder> {
    const allowRemote = opts.allowRemote ?? false;
    // transformers.js resolves hub-style ids under MODELS_DIR (where downloads land too) and reads any other path as is.
    configureHub({ remote: allowRemote, endpoint: opts.endpoint ?? 'https://huggingface.co/', modelsDir: opts.modelsDir }, allowRemote);
    const threads = opts.intraOpThreads ?? 0;
    const extractor = (await pipeline('feature-extraction', opts.model, {
      local_files_only: !allowRemote,
      ...(opts.progress ? { progress_callback: opts.progress } : {}),
      device: 'cpu',
      dtype: 'fp32',
      ...(threads > 0 ? { session_options: { intraOpNumThreads: threads } } : {}),
    })) as FeatureExtractionPipeline;
    try {
      const probe = await extractor(['dimension probe'], { pooling: 'mean', normalize: true });
      const dim = probe.dims[1];
      probe.dispose();
      if (!Number.isInteger(dim) || dim < 1) throw new Error(`model ${opts.model} produced embeddings of shape [${probe.dims.join(', ')}]`);
      return new TransformersEmbedder(`transformers:${opts.model}`, dim, extractor, opts.batchSize ?? 32);
    } catch (err) {
      await extractor.dispose();
      throw err;
    }
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    if (this.closed) throw new Error('TransformersEmbedder is closed');
    const out = new Array<Float32Array>(texts.length);
    for (const batch of lengthBatches(texts, this.batchSize)) {
      const tensor = await this.extractor(
        batch.map((i) => texts[i]),
        { pooling: 'mean', normalize: true },
      );
      try {
        const [rows, dim] = tensor.dims;
        if (rows !== batch.length || dim !== this.dim) {
          throw new Error(`model returned shape [${tensor.dims.join(', ')}] for ${batch.length} texts of dim ${this.dim}`);
        }
        const data = tensor.data as Float32Array;
        // Renormalise in float32: the pipeline normalises too, this only guards the contract.
        batch.forEach((textIndex, r) => {
          out[textIndex] = l2Normalise(data.slice(r * dim, (r + 1) * dim));
        });
      } finally {
        tensor.dispose();
      }
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.extractor.dispose();
  }
}
