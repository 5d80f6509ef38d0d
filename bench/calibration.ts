import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openQuestionPassRunner } from '../ask/offlineQuestionPass.js';
import { loadSquad } from '../indexer/sources/squad.js';
import { ensureBenchModel } from './essayBlocks.js';
import { calibrate, squadCalibrationPrompts } from '../reranker/Calibrator.js';
import { slotOrder, zigzagSlots } from '../reranker/Reorderer.js';

/**
 * The attention-basin profile of a benchmark-shaped model, measured the way `rag calibrate` does (the ask
 * pipeline's tapped question pass in blocks mode, SQuAD prompts, every layer), plus its cost per prompt. The
 * profile is not saved to DATA_DIR: a bench must not change what the service reorders by. On random-weight test models the curve shows the method
 * running, not a property of a trained model.
 */
export interface CalibrationBenchOptions {
  squadFile: string;
  /** Model folder; default models/test/smollm2-135m (built there if absent). */
  modelDir?: string;
  k?: number;
  prompts?: number;
  seed?: number;
  log?: (msg: string) => void;
}

export interface CalibrationBenchResult {
  model: string;
  attentionMode: string;
  k: number;
  prompts: number;
  layers: number;
  /** Attention mass per slot (sums to 1). */
  profile: number[];
  /** Slots by descending profile value: where the most relevant blocks go. */
  slotRanking: number[];
  /** The fixed fallback's slot for each relevance rank, for comparison. */
  zigzagSlots: number[];
  seconds: number;
  msPerPrompt: number;
}

export async function runCalibrationBench(opts: CalibrationBenchOptions): Promise<CalibrationBenchResult> {
  const log = opts.log ?? (() => undefined);
  const modelDir = ensureBenchModel(opts.modelDir, log);
  const k = opts.k ?? 5;
  const n = opts.prompts ?? 16;
  const seed = opts.seed ?? 0;
  const prompts = squadCalibrationPrompts(await loadSquad(opts.squadFile), k, n, seed);
  const { runner, release } = await openQuestionPassRunner(modelDir, 'blocks');
  try {
    const t0 = performance.now();
    const profile = await calibrate(runner, prompts, { seed, onProgress: (done, total) => log(`calibration ${done}/${total}`) });
    const seconds = (performance.now() - t0) / 1000;
    return {
      model: path.basename(modelDir),
      attentionMode: profile.attentionMode,
      k,
      prompts: n,
      layers: profile.layers.length,
      profile: profile.values,
      slotRanking: slotOrder(profile.values),
      zigzagSlots: zigzagSlots(k),
      seconds,
      msPerPrompt: (seconds * 1000) / n,
    };
  } finally {
    await release();
  }
}
