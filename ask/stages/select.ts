import { planCompression } from '../../compressor/CompressionPlan.js';
import type { SelectionBudget } from '../../compressor/SentenceSelector.js';
import type { CompressionMethod } from '../AskRequest.js';
import { filled, type Passage } from '../Passage.js';

export interface CompressionSummary {
  method: CompressionMethod;
  /** Sentence tokens kept / in the retrieved context (block headers are always kept and not counted). */
  keptTokens: number;
  totalTokens: number;
  ratio: number;
  /** The single mandatory sentence was larger than the budget. */
  overBudget: boolean;
}

/**
 * Stage `select`: which sentences survive. With scores, sentences of all passages compete for one budget (at least one
 * is kept); without, every sentence is kept and the block is placed whole.
 */
export function select(passages: readonly Passage[], method: CompressionMethod, budget: SelectionBudget): CompressionSummary {
  const blocks = passages.map((p) => filled(p.block, 'block', p));
  const totalTokens = blocks.reduce((n, b) => n + b.sentences.reduce((m, s) => m + s.tokenEnd - s.tokenStart, 0), 0);
  if (passages.every((p) => p.scores === null)) {
    for (const [i, p] of passages.entries()) p.kept = { sentences: blocks[i]!.sentences.map((_, s) => s), tokens: null, mass: null };
    return { method, keptTokens: totalTokens, totalTokens, ratio: 1, overBudget: false };
  }
  const plan = planCompression(blocks, passages.map((p) => filled(p.scores, 'scores', p)), budget);
  for (const [i, p] of passages.entries()) p.kept = { sentences: plan.keepSentences[i]!, tokens: plan.keepTokens[i]!, mass: plan.keptMass[i]! };
  const keptTokens = plan.selection.keptTokens;
  return { method, keptTokens, totalTokens, ratio: totalTokens ? keptTokens / totalTokens : 1, overBudget: plan.selection.overBudget };
}
