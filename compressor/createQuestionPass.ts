import type { Config } from '../infra/config.js';
import { DecoderModel } from '../model/DecoderModel.js';
import { resolveModelDir } from '../model/resolveModelDir.js';
import { BlockAttentionGenerator } from '../generator/BlockAttentionGenerator.js';
import { GeneratorQuestionPass } from './GeneratorQuestionPass.js';
import { DirectQuestionPass, type AttentionMode, type QuestionPassRunner } from './QuestionPass.js';

/**
 * The question pass of the configured generator (GENERATOR_MODEL under MODELS_DIR, loaded with attention taps,
 * the serving template and model identity): `blocks` through the generator's block KV and assembly, `full` as one
 * causal prefill of the context. The KV store is memory-only: offline runs (probe training, calibration) neither
 * fill the serving disk tier with calibration passages nor read fp16-rounded blocks back, so they are repeatable.
 */
export async function createQuestionPass(config: Config, mode: AttentionMode): Promise<{ runner: QuestionPassRunner; release: () => Promise<void> }> {
  const dir = resolveModelDir(config.GENERATOR_MODEL, config.modelsDir);
  const model = await DecoderModel.load(dir, {
    intraOpThreads: config.ORT_INTRA_OP_THREADS,
    enableCpuMemArena: config.ORT_ENABLE_CPU_MEM_ARENA,
    dtype: config.GENERATOR_DTYPE,
    taps: true,
  });
  const generator = BlockAttentionGenerator.create(model);
  const runner = mode === 'blocks' ? new GeneratorQuestionPass(generator) : new DirectQuestionPass(model, generator.modelId, 'full', generator.template);
  return { runner, release: () => model.release() };
}
