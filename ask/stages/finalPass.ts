import type { BlockAttentionGenerator, QuestionPassResult } from '../../generator/BlockAttentionGenerator.js';
import type { PlacedContext } from './assemble.js';

/**
 * Stage `finalPass`: the pass decoding continues from. Blocks mode: only the final block, with full attention over
 * the assembled context. Full mode (the exact baseline): the placed blocks and the final block prefilled in one
 * causal pass after the cached prefix.
 */
export function finalPass(generator: BlockAttentionGenerator, placedContext: PlacedContext, finalTokens: number[]): Promise<QuestionPassResult> {
  return placedContext.mode === 'blocks'
    ? generator.questionPass(placedContext.context, finalTokens)
    : generator.fullPass(placedContext.blocks, finalTokens);
}
