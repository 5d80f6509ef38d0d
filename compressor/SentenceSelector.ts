/**
 * Which sentences survive compression. Sentences are taken in descending score (ties: earlier sentence
 * first) while they fit the token budget; a sentence that does not fit is skipped and smaller, lower-scored
 * ones may still fill the remaining room. The result is in original order.
 *
 * At least one sentence is always kept: if even the best-scored sentence alone exceeds the budget, it is
 * kept by itself and `overBudget` is set. That is the only case in which the budget is exceeded.
 */
export interface ScoredSentence {
  /** Token count of the sentence as it sits in the context. */
  tokens: number;
  score: number;
}

export type SelectionBudget = { maxTokens: number } | { keepRatio: number };

export interface Selection {
  /** Indices of kept sentences, ascending (original order). */
  kept: number[];
  keptTokens: number;
  totalTokens: number;
  /** The token budget that was applied. */
  budget: number;
  /** True only when the single mandatory sentence is larger than the budget. */
  overBudget: boolean;
}

export function tokenBudget(totalTokens: number, budget: SelectionBudget): number {
  if ('maxTokens' in budget) {
    if (!(budget.maxTokens >= 0)) throw new RangeError(`maxTokens must be >= 0 (got ${budget.maxTokens})`);
    return Math.floor(budget.maxTokens);
  }
  if (!(budget.keepRatio > 0 && budget.keepRatio <= 1)) throw new RangeError(`keepRatio must be in (0, 1] (got ${budget.keepRatio})`);
  return Math.floor(budget.keepRatio * totalTokens);
}

export function selectSentences(sentences: readonly ScoredSentence[], budget: SelectionBudget): Selection {
  if (sentences.length === 0) throw new Error('selectSentences: no sentences');
  for (const [i, s] of sentences.entries()) {
    if (!Number.isInteger(s.tokens) || s.tokens < 0) throw new RangeError(`sentence ${i}: token count ${s.tokens}`);
    if (Number.isNaN(s.score)) throw new RangeError(`sentence ${i}: score is NaN`);
  }
  const totalTokens = sentences.reduce((n, s) => n + s.tokens, 0);
  const limit = tokenBudget(totalTokens, budget);
  const order = sentences.map((_, i) => i).sort((a, b) => sentences[b].score - sentences[a].score || a - b);
  const kept: number[] = [];
  let used = 0;
  for (const i of order) {
    if (used + sentences[i].tokens <= limit) {
      kept.push(i);
      used += sentences[i].tokens;
    }
  }
  let overBudget = false;
  if (kept.length === 0) {
    kept.push(order[0]);
    used = sentences[order[0]].tokens;
    overBudget = used > limit;
  }
  kept.sort((a, b) => a - b);
  return { kept, keptTokens: used, totalTokens, budget: limit, overBudget };
}
