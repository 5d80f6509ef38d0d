import { performance } from 'node:perf_hooks';
import type { BlockSource } from '../../generator/BlockRenderer.js';
import type { AnswerResult, BlockAttentionGenerator, GeneratorMode } from '../../generator/BlockAttentionGenerator.js';
import type { DocumentStore } from '../../indexer/store/DocumentStore.js';
import type { SearchHit, SearchMode, SearchService } from '../../retriever/SearchService.js';
import type { GeneratorHandle } from './GeneratorHandle.js';

export interface AskRequest {
  collection: string;
  question: string;
  k: number;
  searchMode?: SearchMode;
  mode?: GeneratorMode;
  recomputeHead?: number;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  signal?: AbortSignal;
}

export interface Citation {
  documentId: string;
  chunkId: string;
  start: number;
  end: number;
}

export interface AskResponse {
  answer: string;
  citations: Citation[];
  mode: GeneratorMode;
  finishReason: AnswerResult['finishReason'];
  timings: { retrieveMs: number; assembleMs: number; questionPrefillMs: number; firstTokenMs: number | null; totalMs: number };
  cache: { hits: number; misses: number; memoryHits: number; diskHits: number };
  usage: AnswerResult['usage'];
}

export type AskEvent =
  | { type: 'retrieval'; hits: SearchHit[] }
  | { type: 'token'; text: string; id: number }
  | { type: 'done'; response: AskResponse };

export class GeneratorUnavailableError extends Error {}

/**
 * The question pipeline: retrieve top-k chunks, turn them into passage blocks, and generate with
 * reusable KV blocks. Events are emitted as they happen (the SSE route forwards them); the full
 * response is returned at the end.
 */
export class AskService {
  constructor(
    private readonly store: DocumentStore,
    private readonly search: SearchService,
    private readonly generator: GeneratorHandle,
  ) {}

  /** The loaded generator, or GeneratorUnavailableError saying why not (and how to provide one). */
  requireGenerator(): BlockAttentionGenerator {
    const state = this.generator.state;
    if (state.state === 'loading') throw new GeneratorUnavailableError('the generator model is still loading; retry in a few seconds');
    if (state.state === 'unavailable') throw new GeneratorUnavailableError(state.reason);
    return state.generator;
  }

  async ask(req: AskRequest, onEvent: (e: AskEvent) => void = () => undefined): Promise<AskResponse> {
    const generator = this.requireGenerator();

    const t0 = performance.now();
    const retrieved = await this.search.search(req.collection, req.question, req.k, req.searchMode);
    const retrieveMs = performance.now() - t0;
    onEvent({ type: 'retrieval', hits: retrieved.hits });

    const metas = await this.store.getDocumentMetas(req.collection, [...new Set(retrieved.chunks.map((c) => c.documentId))]);
    const titles = new Map(metas.filter((m) => m !== null).map((m) => [m.id, m.title]));
    const blocks: BlockSource[] = retrieved.chunks.map((c) => ({
      chunkId: c.id,
      documentId: c.documentId,
      title: titles.get(c.documentId) || undefined,
      text: c.text,
      start: c.start,
      sentences: c.sentences,
    }));

    const run = generator.answer({
      question: req.question,
      chunks: blocks,
      mode: req.mode,
      recomputeHead: req.recomputeHead,
      sampling: { maxTokens: req.maxTokens, temperature: req.temperature, topP: req.topP, seed: req.seed },
      signal: req.signal,
    });
    for await (const token of run.tokens) if (token.text) onEvent({ type: 'token', text: token.text, id: token.id });
    const result = await run.result;
    const response: AskResponse = {
      answer: result.text,
      citations: retrieved.chunks.map((c) => ({ documentId: c.documentId, chunkId: c.id, start: c.start, end: c.end })),
      mode: result.mode,
      finishReason: result.finishReason,
      timings: {
        retrieveMs,
        assembleMs: result.timings.assembleMs,
        questionPrefillMs: result.timings.questionPrefillMs,
        firstTokenMs: result.timings.firstTokenMs === null ? null : retrieveMs + result.timings.firstTokenMs,
        totalMs: performance.now() - t0,
      },
      cache: {
        hits: result.cache.hits.memory + result.cache.hits.disk + result.cache.hits.joined,
        misses: result.cache.misses,
        memoryHits: result.cache.hits.memory,
        diskHits: result.cache.hits.disk,
      },
      usage: result.usage,
    };
    onEvent({ type: 'done', response });
    return response;
  }
}
