import path from 'node:path';
import type { Config } from '../infra/config.js';
import { DecoderModel } from '../model/DecoderModel.js';
import { componentLogger } from '../infra/logger.js';
import { ensureDecoder, hubSettings, progressLog } from '../model/hub.js';
import { BlockAttentionGenerator, modelIdentity } from './BlockAttentionGenerator.js';
import { KvBlockStore } from './KvBlockStore.js';
import type { PromptTemplateOptions } from './PromptTemplate.js';

export interface GeneratorSetup {
  /** In-process KV tier cap (fp32 bytes); default 1 GiB. */
  memoryBytes?: number;
  /** Disk KV tier cap under DATA_DIR/kv/; default 20 GiB. */
  diskBytes?: number;
  /** Load the attention-tapped graph (the compressor reads attentions from the question pass). */
  taps?: boolean;
  template?: PromptTemplateOptions;
}

/**
 * The generator the service uses: GENERATOR_MODEL resolved under MODELS_DIR, or downloaded into it (throws
 * ModelNotFoundError saying how to provide one), with a KV store whose disk tier lives in DATA_DIR/kv/<model identity>.
 */
export async function createGenerator(config: Config, setup: GeneratorSetup = {}): Promise<BlockAttentionGenerator> {
  // A hub id missing from MODELS_DIR is downloaded first when ALLOW_REMOTE_MODELS allows (progress in the log).
  const dir = await ensureDecoder(config.GENERATOR_MODEL, hubSettings(config), progressLog(componentLogger('models'), config.GENERATOR_MODEL), config.GENERATOR_DTYPE);
  const model = await DecoderModel.load(dir, {
    intraOpThreads: config.ORT_INTRA_OP_THREADS,
    enableCpuMemArena: config.ORT_ENABLE_CPU_MEM_ARENA,
    dtype: config.GENERATOR_DTYPE,
    taps: setup.taps,
  });
  const modelId = modelIdentity(model);
  const { layers, kvHeads, headDim } = model.config;
  const store = new KvBlockStore({
    modelId,
    shape: { layers, kvHeads, headDim },
    memoryBytes: setup.memoryBytes ?? 2 ** 30,
    dir: path.join(config.dataDir, 'kv', modelId.slice(0, 16)),
    diskBytes: setup.diskBytes ?? 20 * 2 ** 30,
  });
  return BlockAttentionGenerator.create(model, { store, modelId, template: setup.template });
}
