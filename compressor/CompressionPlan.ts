import { selectSentences, type Selection, type SelectionBudget } from './SentenceSelector.js';

/**
 * From per-sentence scores to what to keep, across all blocks of a context at once (sentences of different
 * blocks compete for one budget). The budget counts sentence tokens only: block headers (labels) are always
 * kept and do not count.
 */
export interface PlannableBlock {
  headerLength: number;
  sentences: readonly { tokenStart: number; tokenEnd: number }[];
}

export interface CompressionPlan {
  /** Kept sentence indices per block, ascending (may be empty for a block). */
  keepSentences: number[][];
  /** Kept token indices per block, relative to the block (header + kept sentences): `assemble({keep})` input. */
  keepTokens: number[][];
  /** Per block, the sum of its kept sentences' scores: relevance for reordering after compression. */
  keptMass: number[];
  selection: Selection;
}

export function planCompression(blocks: readonly PlannableBlock[], scores: readonly (readonly number[])[], budget: SelectionBudget): CompressionPlan {
  if (scores.length !== blocks.length) throw new Error(`planCompression: scores for ${scores.length} blocks, ${blocks.length} blocks given`);
  const flat: { block: number; sentence: number; tokens: number; score: number }[] = [];
  blocks.forEach((b, bi) => {
    if (scores[bi].length !== b.sentences.length) throw new Error(`planCompression: block ${bi} has ${b.sentences.length} sentences but ${scores[bi].length} scores`);
    b.sentences.forEach((s, si) => flat.push({ block: bi, sentence: si, tokens: s.tokenEnd - s.tokenStart, score: scores[bi][si] }));
  });
  const selection = selectSentences(flat, budget);
  const keepSentences: number[][] = blocks.map(() => []);
  const keptMass = blocks.map(() => 0);
  for (const i of selection.kept) {
    keepSentences[flat[i].block].push(flat[i].sentence);
    keptMass[flat[i].block] += flat[i].score;
  }
  const keepTokens = blocks.map((b, bi) => {
    const out = Array.from({ length: b.headerLength }, (_, t) => t);
    for (const si of keepSentences[bi]) for (let t = b.sentences[si].tokenStart; t < b.sentences[si].tokenEnd; t++) out.push(t);
    return out;
  });
  return { keepSentences, keepTokens, keptMass, selection };
}
