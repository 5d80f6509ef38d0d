import type { BlockAttentionGenerator, GeneratorMode, QuestionPassResult } from '../../generator/BlockAttentionGenerator.js';
import type { TappedPass, TapRows } from '../../compressor/QuestionPass.js';
import { filled, type Passage } from '../Passage.js';

/** The tapped question pass: the generator's result (decoding may continue from it) and its attention view. */
export interface QuestionPass {
  pass: QuestionPassResult;
  tapped: TappedPass;
}

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

/**
 * Stage `questionPass`: the final block (question + answer cue) over every passage whole, in retrieval order, with
 * attention taps on `rows`: in blocks mode over the assembled cached blocks, in full mode as one causal prefill.
 * The attention scorers and the calibrator read it; when the final pass would run the same tokens over the same
 * context, decoding continues from it.
 */
export async function questionPass(
  generator: BlockAttentionGenerator,
  passages: readonly Passage[],
  mode: GeneratorMode,
  finalTokens: number[],
  rows: TapRows,
): Promise<QuestionPass> {
  const inRankOrder = [...passages].sort((a, b) => a.rank - b.rank);
  const tapRows = rows === 'last' ? 1 : finalTokens.length;
  const pass =
    mode === 'blocks'
      ? await generator.questionPass(await generator.assemble(inRankOrder.map((p) => filled(p.kv, 'kv', p))), finalTokens, { tapRows })
      : await generator.fullPass(inRankOrder.map((p) => filled(p.block, 'block', p)), finalTokens, { tapRows });
  return { pass, tapped: tappedView(pass, inRankOrder, generator.model.config.heads) };
}

/** Where each passage's tokens sit in the pass (its key columns), for sentence features and block attention mass. */
function tappedView(pass: QuestionPassResult, passages: readonly Passage[], heads: number): TappedPass {
  const attentions = pass.attentions;
  if (!attentions) throw new Error('question pass returned no attentions');
  const layout = pass.context.layout.length > 0 ? pass.context.layout : null;
  if (!layout || layout.length !== passages.length) throw new Error(`question pass: ${layout?.length ?? 0} blocks laid out for ${passages.length} passages`);
  const blocks = layout.map((l, i) => {
    const block = filled(passages[i]!.block, 'block', passages[i]!);
    if (l.chunkId !== block.chunkId || l.end - l.start !== block.tokens.length) throw new Error(`question pass: block ${l.chunkId} is not laid out whole`);
    return { chunkId: l.chunkId, tokenIndices: range(l.start, l.end - l.start), headerLength: block.headerLength, sentences: block.sentences };
  });
  const keyLength = pass.start + pass.tokens.length;
  return {
    attentions,
    heads,
    queryLength: attentions[0]!.length / (heads * keyLength),
    keyLength,
    blocks,
    contextColumns: blocks.flatMap((b) => b.tokenIndices),
  };
}
