import { SeededRandom } from '../infra/random.js';

/**
 * Article-level train / held-out split of a SQuAD file: questions about one article share its wording and
 * facts, so a model evaluated on an article must never have trained on any of its questions. The articles
 * are shuffled with the seed and the first round(fraction x n) of them are held out.
 */
export interface ArticleSplit {
  seed: number;
  heldOutFraction: number;
  /** Article indices (file order), ascending. */
  train: number[];
  heldOut: number[];
}

export const DEFAULT_SPLIT_SEED = 0;
export const DEFAULT_HELD_OUT_FRACTION = 0.2;

export function articleSplit(articles: number, seed = DEFAULT_SPLIT_SEED, heldOutFraction = DEFAULT_HELD_OUT_FRACTION): ArticleSplit {
  if (!Number.isInteger(articles) || articles < 2) throw new RangeError(`articleSplit: need at least 2 articles (got ${articles})`);
  if (!(heldOutFraction > 0 && heldOutFraction < 1)) throw new RangeError(`articleSplit: fraction must be in (0, 1) (got ${heldOutFraction})`);
  const order = new SeededRandom(seed, 'squad-article-split').shuffle(Array.from({ length: articles }, (_, i) => i));
  const held = Math.min(articles - 1, Math.max(1, Math.round(heldOutFraction * articles)));
  const byIndex = (a: number, b: number): number => a - b;
  return { seed, heldOutFraction, heldOut: order.slice(0, held).sort(byIndex), train: order.slice(held).sort(byIndex) };
}
