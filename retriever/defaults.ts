import type { AnalyzerConfig } from './Analyzer.js';
import { Bm25Index, type Bm25Params } from './Bm25Index.js';
import type { HybridFusionOptions } from './Fusion.js';

/**
 * Retrieval defaults, chosen by `bench/retrievalQuality.ts --tune` on SQuAD v1.1 dev: parameters
 * picked on the questions of 20% of the articles, numbers reported on the other 80%
 * (2,067 paragraphs as the corpus, 7,602 reported questions):
 *
 *   mode     recall@1  recall@5  recall@10  MRR@10
 *   bm25       0.811     0.941     0.962    0.867   (plain Okapi, no stemming/title: 0.778 0.919 0.945 0.840)
 *   dense      0.374     0.643     0.742    0.487   (USE-lite)
 *   hybrid     0.817     0.951     0.968    0.875   <- default
 *
 * Hybrid is min-max-normalised weighted fusion; unweighted RRF (k 60) is worse than BM25 alone
 * (recall@1 0.607) because it gives the much weaker dense list an equal vote.
 */
export type SearchModeName = 'bm25' | 'dense' | 'hybrid';

export const DEFAULT_SEARCH_MODE: SearchModeName = 'hybrid';

export const HYBRID_FUSION: HybridFusionOptions = { method: 'minmax', lexicalWeight: 1, denseWeight: 0.35 };

/** Lower k1 than the textbook 1.2 (term repetition saturates sooner), stronger length normalisation. */
export const BM25_PARAMS: Bm25Params = { k1: 0.6, b: 0.9 };

/**
 * Porter stemming is the largest gain (recall@1 0.786 without it, 0.811 with it); adjacent-term
 * bigrams measured slightly worse on the tuning split and are off.
 */
export const BM25_ANALYZER: AnalyzerConfig = { stopwords: true, stem: true, bigrams: false };

/**
 * Index the document title with each chunk's text for BM25 (`Bm25Index.add(id, text, title)`):
 * recall@1 0.807 without, 0.811 with. Weighting the title 2-5x (BM25F-style) measured no better.
 */
export const TITLE_IN_LEXICAL_TEXT = true;

/** A BM25 index with the measured defaults. */
export function createBm25Index(): Bm25Index {
  return new Bm25Index({ ...BM25_PARAMS, analyzer: BM25_ANALYZER });
}
