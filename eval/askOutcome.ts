/**
 * What the evaluations read from one ask: the response fields of services/ask/AskService.ts, with the
 * compression/reordering fields optional (a service without them, or `compression: none`, reports none),
 * plus the retrieval the ask used (its `retrieval` event). Evaluations depend on this view, not on the
 * service, so the same scoring runs in-process (`rag eval`) and over HTTP.
 */
export type CompressionOption = 'none' | 'lexical' | 'raw' | 'probe';
export type OrderOption = 'retrieval' | 'zigzag' | 'basin';
export type ModeOption = 'full' | 'blocks' | 'extractive';

export interface EvalAskRequest {
  collection: string;
  question: string;
  k: number;
  mode: ModeOption;
  compression: CompressionOption;
  order: OrderOption;
  keepRatio?: number;
  budgetTokens?: number;
  maxTokens: number;
  /** Greedy decoding: evaluations must be repeatable. */
  temperature: number;
  /** Blocks mode: recompute the first k tokens of each block in context (default 0). */
  recomputeHead?: number;
  /** Retrieval: default the service's (hybrid). */
  searchMode?: 'dense' | 'bm25' | 'hybrid';
}

export interface KeptSentence {
  documentId: string;
  chunkId: string;
  start: number;
  end: number;
  score?: number | null;
}

export interface AskOutcome {
  answer: string;
  /** The retrieved chunks, as cited. */
  citations: { documentId: string; chunkId: string; start: number; end: number }[];
  /** Per-stage milliseconds (retrieveMs, assembleMs, questionPrefillMs, firstTokenMs, totalMs, and any others). */
  timings: Record<string, number | null | undefined>;
  kept?: KeptSentence[];
  compression?: { method: string; keptTokens: number; totalTokens: number; ratio: number };
  order?: { method: string; profile?: readonly number[] | null };
  /** Retrieved passages with the slot each was placed in (null: compression kept none of its sentences). */
  passages?: { chunkId: string; slot: number | null }[];
  /** How it was answered; extractive answers carry the next sentences and a short span. */
  mode?: string;
  fallback?: string;
  sentences?: { documentId: string; start: number; end: number; text: string }[];
  answerSpan?: { start: number; end: number; text: string };
}

export interface EvalAsk {
  outcome: AskOutcome;
  /** Retrieval hits in rank order. */
  hits: { documentId: string; chunkId: string; start: number; end: number }[];
}

export type Asker = (req: EvalAskRequest) => Promise<EvalAsk>;

/**
 * The spans the generator saw: the kept sentences when the service reports them, otherwise every
 * retrieved chunk whole (no compression happened).
 */
export function contextSpans(ask: EvalAsk): KeptSentence[] {
  return ask.outcome.kept ?? ask.outcome.citations.map((c) => ({ ...c }));
}

/**
 * Chunks in the order they were placed in the prompt: by the slots the service reports, else the order of
 * the kept list, else the retrieval (citation) order.
 */
export function placedChunks(ask: EvalAsk): string[] {
  const passages = ask.outcome.passages;
  if (passages) {
    return passages
      .filter((p): p is { chunkId: string; slot: number } => p.slot !== null)
      .sort((a, b) => a.slot - b.slot)
      .map((p) => p.chunkId);
  }
  return [...new Set(contextSpans(ask).map((k) => k.chunkId))];
}

/** Achieved compression (kept / total context tokens); 1 when nothing was compressed. */
export function compressionRatio(ask: EvalAsk): number {
  const c = ask.outcome.compression;
  if (!c) return 1;
  return c.totalTokens > 0 ? c.keptTokens / c.totalTokens : c.ratio;
}
