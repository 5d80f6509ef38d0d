import type { AttentionMode, QuestionPassRunner } from '../compressor/QuestionPass.js';
import { BlockAttentionGenerator } from '../generator/BlockAttentionGenerator.js';
import type { Config } from '../infra/config.js';
import { DecoderModel, type DecoderLoadOptions } from '../model/DecoderModel.js';
import { resolveModelDir } from '../model/resolveModelDir.js';
import { AskPipeline } from './AskPipeline.js';

export interface OpenedRunner {
  runner: QuestionPassRunner;
  release: () => Promise<void>;
}

/**
 * The serving question pass of a model for offline runs: probe training and calibration enter the ask pipeline with
 * their own passages and stop after the (tapped) question pass. The model is loaded with attention taps and gets
 * the serving template and model identity. The KV store is memory-only: offline runs neither fill the serving disk
 * tier with their passages nor read fp16-rounded blocks back, so they are repeatable.
 */
export async function openQuestionPassRunner(modelDir: string, mode: AttentionMode, load: Omit<DecoderLoadOptions, 'taps'> = {}): Promise<OpenedRunner> {
  const model = await DecoderModel.load(modelDir, { ...load, taps: true });
  const pipeline = new AskPipeline({ generator: BlockAttentionGenerator.create(model) });
  return { runner: pipeline.questionPassRunner(mode), release: () => model.release() };
}

/** The same for the configured generator (GENERATOR_MODEL under MODELS_DIR, onnxruntime settings). */
export function openConfiguredQuestionPassRunner(config: Config, mode: AttentionMode): Promise<OpenedRunner> {
  return openQuestionPassRunner(resolveModelDir(config.GENERATOR_MODEL, config.modelsDir), mode, {
    intraOpThreads: config.ORT_INTRA_OP_THREADS,
    enableCpuMemArena: config.ORT_ENABLE_CPU_MEM_ARENA,
    dtype: config.GENERATOR_DTYPE,
  });
}
