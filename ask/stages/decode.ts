import { performance } from 'node:perf_hooks';
import type { BlockAttentionGenerator, GeneratedToken, GenerationResult, QuestionPassResult } from '../../generator/BlockAttentionGenerator.js';
import type { SamplingOptions } from '../../generator/Sampler.js';

export interface Decoded {
  generation: GenerationResult;
  /** performance.now() when the first token was sampled (a stop token included); null when none was. */
  firstTokenAt: number | null;
}

/** Stage `decode`: tokens sampled from the final pass, each handed to `onToken` as it is produced; decoding waits while `onToken`'s promise is pending (a stream's backpressure). */
export async function decode(
  generator: BlockAttentionGenerator,
  pass: QuestionPassResult,
  sampling: SamplingOptions,
  signal: AbortSignal | undefined,
  onToken: (t: GeneratedToken) => void | Promise<void>,
): Promise<Decoded> {
  const start = performance.now();
  const gen = generator.generate(pass, sampling, signal);
  let step = await gen.next();
  while (!step.done) {
    if (step.value.text) await onToken(step.value);
    step = await gen.next();
  }
  const generation = step.value;
  return { generation, firstTokenAt: generation.firstTokenMs === null ? null : start + generation.firstTokenMs };
}
