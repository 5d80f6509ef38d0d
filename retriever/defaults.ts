import { DEFAULT_BM25_PARAMS, type Bm25Params } from './Bm25Index.js';
import type { HybridFusionOptions } from './Fusion.js';

/**
 * Retrieval defaults, chosen by `bench/retrievalQuality.ts` on SQuAD v1.1 dev (tuning split held
 * out from the reported numbers). Provisional until that evaluation has run.
 */
export const DEFAULT_SEARCH_MODE = 'bm25' as 'bm25' | 'dense' | 'hybrid';

export const HYBRID_FUSION: HybridFusionOptions = { method: 'rrf', lexicalWeight: 1, denseWeight: 1, rrfK: 60 };

export const BM25_PARAMS: Bm25Params = { ...DEFAULT_BM25_PARAMS };
