import type { AssembledContext, BlockAttentionGenerator, GeneratorMode } from '../../generator/BlockAttentionGenerator.js';
import type { RenderedBlock } from '../../generator/BlockRenderer.js';
import { compressText } from '../../compressor/TextCompression.js';
import { filled, placed, type Passage } from '../Passage.js';

/** The context the final pass runs over: assembled KV (blocks mode) or the blocks to prefill (full mode). */
export type PlacedContext = { mode: 'blocks'; context: AssembledContext } | { mode: 'full'; blocks: RenderedBlock[] };

/**
 * Stage `assemble`: the placed passages in slot order. Blocks mode: prefix KV + each block's kept tokens, re-encoded
 * to contiguous positions (KV-space compression), optionally recomputing each block's first tokens in context. Full
 * mode: each placed block, re-rendered from its kept sentences' text when compressed (text-space compression).
 */
export async function assemble(generator: BlockAttentionGenerator, passages: readonly Passage[], mode: GeneratorMode, recomputeHead: number): Promise<PlacedContext> {
  const inSlots = placed(passages);
  if (mode === 'blocks') {
    const context = await generator.assemble(
      inSlots.map((p) => filled(p.kv, 'kv', p)),
      { keep: inSlots.map((p) => filled(p.kept, 'kept', p).tokens), recomputeHead },
    );
    return { mode, context };
  }
  return {
    mode,
    blocks: inSlots.map((p) => {
      const kept = filled(p.kept, 'kept', p);
      if (kept.tokens === null) return filled(p.block, 'block', p);
      const shorter = compressText(p.chunk, kept.sentences).block;
      return generator.render({ ...shorter, sentences: [...shorter.sentences] });
    }),
  };
}

/**
 * Whether the placed context is exactly the one the question pass ran over (every passage placed whole, in retrieval
 * order, no head recompute, nothing re-rendered): then the question pass is the final pass and is not run again.
 */
export function sameAsQuestionPass(passages: readonly Passage[], mode: GeneratorMode, recomputeHead: number): boolean {
  if (recomputeHead > 0) return false;
  const inSlots = placed(passages);
  return (
    inSlots.length === passages.length &&
    inSlots.every((p, i) => {
      const kept = filled(p.kept, 'kept', p);
      const whole = kept.tokens === null || (mode === 'blocks' && kept.tokens.length === filled(p.block, 'block', p).tokens.length);
      return p.rank === i && whole;
    })
  );
}
