import { performance } from 'node:perf_hooks';
import type { AnswerSpan } from '../compressor/ranker/AnswerSpan.js';
import type { FinishReason } from '../generator/BlockAttentionGenerator.js';
import type { SearchHit } from '../retriever/SearchService.js';
import type { AskRun, StageName } from './AskPipeline.js';
import type { AskMode, CompressionMethod, OrderMethod } from './AskRequest.js';
import type { CacheCounts } from './stages/blocks.js';
import type { Passage } from './Passage.js';
import type { RankedSentence } from './stages/extract.js';
import type { OrderInfo } from './stages/order.js';

export interface Citation {
  documentId: string;
  chunkId: string;
  start: number;
  end: number;
}

export interface KeptSentence extends Citation {
  score: number | null;
}

/** A retrieved passage as placed in the context, with each sentence marked kept or dropped (for the dashboard). */
export interface PassageTrace {
  documentId: string;
  chunkId: string;
  title: string;
  start: number;
  text: string;
  retrievalRank: number;
  /** Position among the placed blocks; null when compression kept none of its sentences. */
  slot: number | null;
  sentences: { start: number; end: number; kept: boolean; score: number | null }[];
}

/** The answer to one ask, as the HTTP API returns it. */
export interface AskResponse {
  answer: string;
  citations: Citation[];
  kept: KeptSentence[];
  compression: { method: CompressionMethod; keptTokens: number; totalTokens: number; ratio: number };
  order: { method: OrderMethod; profile?: number[]; fallback?: string };
  mode: AskMode;
  /** Why this ask was answered extractively although no mode was asked for (no generator available). */
  fallback?: string;
  /** Extractive answers: the sentences after the answer, best first, with their spans and ranker scores. */
  sentences?: RankedSentence[];
  /** Extractive answers: a short answer inside the answer sentence (document offsets), when one was found. */
  answerSpan?: AnswerSpan;
  /** Extractive answers: which ranker model scored the sentences, and why not the embedder one. */
  ranker?: { model: 'embedder' | 'lexical'; fallback?: string };
  finishReason: FinishReason;
  timings: {
    retrieveMs: number;
    /** Render + fetch the blocks' KV + assemble the placed context. */
    assembleMs: number;
    /** Question pass (when scoring reads attention) + scoring + selection + order. */
    compressMs: number;
    /** The final pass: the pass the first token is sampled from. */
    questionPrefillMs: number;
    firstTokenMs: number | null;
    decodeMs: number;
    totalMs: number;
  };
  cache: CacheCounts;
  usage: { promptTokens: number; completionTokens: number };
  passages: PassageTrace[];
}

export type AskEvent =
  | { type: 'retrieval'; hits: SearchHit[] }
  | { type: 'token'; text: string; id: number }
  | { type: 'answer'; text: string }
  | { type: 'done'; response: AskResponse };

const stageMs = (run: AskRun, ...stages: StageName[]): number => run.trace.filter((r) => stages.includes(r.stage)).reduce((n, r) => n + r.ms, 0);

/** One passage as the response lists it: its chunk, ranks, and its sentences as the run judged them. */
function passageTrace(p: Passage, slot: number | null, sentences: PassageTrace['sentences']): PassageTrace {
  return { documentId: p.chunk.documentId, chunkId: p.chunk.chunkId, title: p.chunk.title ?? '', start: p.chunk.start, text: p.chunk.text, retrievalRank: p.rank, slot, sentences };
}

/**
 * An extractive run's response: `answer` is the best sentence's exact text and `citations[0]` its span; every
 * retrieved sentence is in `passages` with its ranker score, the listed ones marked kept.
 */
function extractiveResponse(run: AskRun): AskResponse {
  const { extraction, ranking } = run;
  if (!extraction || !ranking) throw new Error('askResponse: the extractive run stopped before extracting');
  const listed = [extraction.answer, ...extraction.candidates];
  const isListed = (chunkId: string, s: { start: number; end: number }): boolean => listed.some((c) => c.chunkId === chunkId && c.start === s.start && c.end === s.end);
  const passages: PassageTrace[] = run.passages.map((p) =>
    passageTrace(
      p,
      null,
      p.chunk.sentences.map((s, i) => {
        const score = p.scores?.[i];
        return { start: s.start, end: s.end, kept: isListed(p.chunk.chunkId, s), score: score !== undefined && Number.isFinite(score) ? score : null };
      }),
    ),
  );
  const answeredAt = run.trace.find((r) => r.stage === 'extract') ? performance.now() : null;
  const { answer } = extraction;
  const cite = (c: RankedSentence): Citation => ({ documentId: c.documentId, chunkId: c.chunkId, start: c.start, end: c.end });
  return {
    answer: answer.text,
    citations: [cite(answer)],
    kept: listed.map((c) => ({ ...cite(c), score: c.score })),
    // Nothing reaches a model: no context tokens to keep.
    compression: { method: 'none', keptTokens: 0, totalTokens: 0, ratio: 1 },
    order: { method: 'retrieval' },
    mode: 'extractive',
    sentences: extraction.candidates,
    ...(extraction.span ? { answerSpan: extraction.span } : {}),
    ranker: { model: ranking.model, ...(ranking.fallback ? { fallback: ranking.fallback } : {}) },
    finishReason: 'stop',
    timings: {
      retrieveMs: stageMs(run, 'retrieve'),
      assembleMs: 0,
      compressMs: stageMs(run, 'rank', 'extract'),
      questionPrefillMs: 0,
      firstTokenMs: answeredAt === null ? null : answeredAt - run.startedAt,
      decodeMs: 0,
      totalMs: performance.now() - run.startedAt,
    },
    cache: run.cache,
    usage: { promptTokens: 0, completionTokens: 0 },
    passages,
  };
}

/** The response of a run that went through `decode` (or, extractive, through `extract`). */
export function askResponse(run: AskRun): AskResponse {
  if (run.settings.mode === 'extractive') return extractiveResponse(run);
  const { decoded, finalPass, compression } = run;
  const order = run.order as OrderInfo;
  if (!decoded || !finalPass || !compression) throw new Error('askResponse: the run stopped before decoding');
  const ms = (...stages: StageName[]): number => stageMs(run, ...stages);
  const passages: PassageTrace[] = run.passages.map((p) => {
    const kept = new Set(p.kept?.sentences ?? []);
    return passageTrace(
      p,
      p.slot,
      (p.block?.sentences ?? []).map((s, i) => ({ start: s.charStart, end: s.charEnd, kept: kept.has(i), score: kept.has(i) ? (p.scores?.[i] ?? null) : null })),
    );
  });
  return {
    answer: decoded.generation.text,
    citations: run.passages.filter((p) => (p.kept?.sentences.length ?? 0) > 0).map((p) => ({ documentId: p.chunk.documentId, chunkId: p.chunk.chunkId, start: p.chunk.start, end: p.chunk.end })),
    kept: passages.flatMap((p) => p.sentences.filter((s) => s.kept).map((s) => ({ documentId: p.documentId, chunkId: p.chunkId, start: s.start, end: s.end, score: s.score }))),
    compression: { method: compression.method, keptTokens: compression.keptTokens, totalTokens: compression.totalTokens, ratio: compression.ratio },
    order: { method: order.method, ...(order.profile ? { profile: order.profile } : {}), ...(order.fallback ? { fallback: order.fallback } : {}) },
    mode: run.settings.mode,
    finishReason: decoded.generation.finishReason,
    timings: {
      retrieveMs: ms('retrieve'),
      assembleMs: ms('render', 'fetchKv', 'assemble'),
      compressMs: ms('questionPass', 'score', 'select', 'order'),
      questionPrefillMs: ms('finalPass'),
      firstTokenMs: decoded.firstTokenAt === null ? null : decoded.firstTokenAt - run.startedAt,
      decodeMs: decoded.generation.decodeMs,
      totalMs: performance.now() - run.startedAt,
    },
    cache: run.cache,
    usage: { promptTokens: finalPass.start + finalPass.tokens.length, completionTokens: decoded.generation.tokenIds.length },
    passages,
  };
}
