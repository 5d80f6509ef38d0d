import type { AnalyzerConfig } from './Analyzer.js';
import { Bm25Index, type Bm25Params } from './Bm25Index.js';
import type { HybridFusionOptions } from './Fusion.js';

/**
 * Retrieval defaults, chosen by `bench/retrievalQuality.ts --tune` on SQuAD v1.1 dev: parameters
 * picked on the questions of 20% of the articles (2,968), numbers reported on the other 80%
 * (7,602 questions; corpus = all 2,067 paragraphs; 50 candidates per retriever):
 *
 *   mode                     recall@1  recall@5  recall@10  MRR@10
 *   bm25, plain Okapi          0.779     0.919     0.945    0.840   (k1 1.2, b 0.75, no stemming, no title)
 *   bm25 (these settings)      0.811     0.941     0.962    0.867
 *   dense (USE-lite)           0.374     0.643     0.742    0.487
 *   hybrid, RRF k 60, 1:1      0.608     0.862     0.931    0.718
 *   hybrid (these settings)    0.817     0.951     0.969    0.875   <- default
 *
 * Hybrid is min-max-normalised weighted fusion. Unweighted RRF is worse than BM25 alone because it
 * gives the much weaker dense list an equal vote and discards how far ahead BM25's top hit is.
 */
export type SearchModeName = 'bm25' | 'dense' | 'hybrid';

export const DEFAULT_SEARCH_MODE: SearchModeName = 'hybrid';

/** Tuning-split optimum; z-score fusion and weights 0.3-0.55 are within 0.002 of it. */
export const HYBRID_FUSION: HybridFusionOptions = { method: 'minmax', lexicalWeight: 1, denseWeight: 0.45 };

/**
 * Candidates each retriever should contribute before hybrid fusion, whatever k is: min-max
 * normalisation needs a deep enough list (at one fixed weight, measured recall@5 0.949 with 10
 * candidates, 0.950 with 15, 0.951 with 20 and 50). The search service should fetch
 * max(k, HYBRID_CANDIDATES) from each side in hybrid mode.
 */
export const HYBRID_CANDIDATES = 50;

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
