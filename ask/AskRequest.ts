import type { GeneratorMode } from '../generator/BlockAttentionGenerator.js';
import type { BlockSource } from '../generator/BlockRenderer.js';
import type { SearchMode } from '../retriever/SearchService.js';

export type CompressionMethod = 'none' | 'lexical' | 'raw' | 'probe';
export type OrderMethod = 'retrieval' | 'zigzag' | 'basin';
/** How an answer is made: by the generator over the retrieved blocks (`full` / `blocks`), or `extractive`: the best-ranked retrieved sentence, no generator. */
export type AskMode = GeneratorMode | 'extractive';

/** How to answer: the same knobs for every way of asking (HTTP, OpenAI endpoint, CLI, eval, benches). */
export interface AskOptions {
  mode?: AskMode;
  /** Blocks mode: recompute the first k tokens of each placed block in context (EPIC); 0 = off. */
  recomputeHead?: number;
  compression?: CompressionMethod;
  /** Compression budget: a fraction of the context's sentence tokens (default 0.5) or a token count. */
  keepRatio?: number;
  budgetTokens?: number;
  order?: OrderMethod;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  signal?: AbortSignal;
}

/** A question over a collection: retrieval picks the passages. */
export interface AskRequest extends AskOptions {
  collection: string;
  question: string;
  k: number;
  searchMode?: SearchMode;
}

/** A question over passages the caller supplies, in rank order (calibration, probe training, benchmarks). */
export interface GivenPassagesRequest extends AskOptions {
  question: string;
  passages: BlockSource[];
}

export type PipelineRequest = AskRequest | GivenPassagesRequest;

export function isGiven(req: PipelineRequest): req is GivenPassagesRequest {
  return 'passages' in req;
}
