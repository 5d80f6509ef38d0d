import { performance } from 'node:perf_hooks';
import { compressText } from '../../compressor/KvCompressor.js';
import type { BlockAttentionGenerator, BlockKv, GenerationResult, GeneratorMode, QuestionPassResult } from '../../generator/BlockAttentionGenerator.js';
import type { BlockSource, RenderedBlock } from '../../generator/BlockRenderer.js';
import type { DocumentStore } from '../../indexer/store/DocumentStore.js';
import { ProfileStore } from '../../reranker/BasinProfile.js';
import { loadConfig } from '../../infra/config.js';
import type { SearchHit, SearchMode, SearchService } from '../../retriever/SearchService.js';
import { ContextPlanner, PlanningError, type CompressionMethod, type ContextPlan, type OrderMethod } from './ContextPlanner.js';
import type { GeneratorHandle } from './GeneratorHandle.js';
import { componentLogger } from '../../infra/logger.js';
import { DomainError } from '../../infra/errors.js';

const log = componentLogger('ask');

export interface AskRequest {
  collection: string;
  question: string;
  k: number;
  searchMode?: SearchMode;
  mode?: GeneratorMode;
  recomputeHead?: number;
  compression?: CompressionMethod;
  keepRatio?: number;
  budgetTokens?: number;
  order?: OrderMethod;
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

export interface AskResponse {
  answer: string;
  citations: Citation[];
  kept: KeptSentence[];
  compression: { method: CompressionMethod; keptTokens: number; totalTokens: number; ratio: number };
  order: { method: OrderMethod; profile?: number[]; fallback?: string };
  mode: GeneratorMode;
  finishReason: GenerationResult['finishReason'];
  timings: {
    retrieveMs: number;
    assembleMs: number;
    compressMs: number;
    questionPrefillMs: number;
    firstTokenMs: number | null;
    decodeMs: number;
    totalMs: number;
  };
  cache: { hits: number; misses: number; memoryHits: number; diskHits: number };
  usage: { promptTokens: number; completionTokens: number };
  passages: PassageTrace[];
}

export type AskEvent =
  | { type: 'retrieval'; hits: SearchHit[] }
  | { type: 'token'; text: string; id: number }
  | { type: 'done'; response: AskResponse };

/** Receives the pipeline's events; a returned promise pauses the pipeline until it settles (stream backpressure). */
export type AskEventSink = (e: AskEvent) => void | Promise<void>;

/** Told about every answered question (the dashboard's recent list, stage metrics). */
export type AnswerListener = (req: AskRequest, res: AskResponse) => void | Promise<void>;

export class GeneratorUnavailableError extends DomainError {
  constructor(message: string) {
    super('unavailable', message);
  }
}
export { PlanningError };

/**
 * The question pipeline: retrieve top-k chunks -> passage blocks (KV from the block store) -> sentence
 * scoring and compression -> block order -> assembly at contiguous positions -> question pass ->
 * streamed decoding. Events are emitted as they happen (the SSE route forwards them).
 */
export class AskService {
  private planner: { generator: BlockAttentionGenerator; planner: ContextPlanner } | null = null;
  private readonly listeners: AnswerListener[] = [];

  constructor(
    private readonly store: DocumentStore,
    private readonly search: SearchService,
    private readonly generator: GeneratorHandle,
    /** Where probes (DATA_DIR/probes) and basin profiles (DATA_DIR/profiles) are read from. */
    private readonly dataDir: string = loadConfig().dataDir,
    private readonly profiles: ProfileStore = ProfileStore.forDataDir(dataDir),
  ) {}

  onAnswered(listener: AnswerListener): void {
    this.listeners.push(listener);
  }

  /** The loaded generator, or GeneratorUnavailableError saying why not (and how to provide one). */
  requireGenerator(): BlockAttentionGenerator {
    const state = this.generator.state;
    if (state.state === 'loading') throw new GeneratorUnavailableError('the generator model is still loading; retry in a few seconds');
    if (state.state === 'unavailable') throw new GeneratorUnavailableError(state.reason);
    return state.generator;
  }

  private plannerFor(generator: BlockAttentionGenerator): ContextPlanner {
    if (this.planner?.generator !== generator) this.planner = { generator, planner: new ContextPlanner(generator, this.profiles, this.dataDir) };
    return this.planner.planner;
  }

  async ask(req: AskRequest, onEvent: AskEventSink = () => undefined): Promise<AskResponse> {
    const generator = this.requireGenerator();
    const mode = req.mode ?? 'blocks';
    const compression = req.compression ?? 'none';
    const t0 = performance.now();

    const retrieved = await this.search.search(req.collection, req.question, req.k, req.searchMode);
    const retrieveMs = performance.now() - t0;
    await onEvent({ type: 'retrieval', hits: retrieved.hits });
    if (retrieved.chunks.length === 0) throw new PlanningError(`collection ${req.collection} has nothing to answer from (no chunks retrieved)`);

    const metas = await this.store.getDocumentMetas(req.collection, [...new Set(retrieved.chunks.map((c) => c.documentId))]);
    const titles = new Map(metas.filter((m) => m !== null).map((m) => [m.id, m.title]));
    const sources: BlockSource[] = retrieved.chunks.map((c) => ({
      chunkId: c.id,
      documentId: c.documentId,
      title: titles.get(c.documentId) || undefined,
      text: c.text,
      start: c.start,
      sentences: c.sentences,
    }));
    const rendered = sources.map((s) => generator.render(s));

    // Blocks mode: every block's KV comes from the store (or is computed once and stored).
    const t1 = performance.now();
    const cache = { hits: 0, misses: 0, memoryHits: 0, diskHits: 0 };
    let blockKvs: BlockKv[] | null = null;
    if (mode === 'blocks') {
      blockKvs = [];
      // One at a time: a block computation already uses every core.
      for (const r of rendered) {
        const b = await generator.blockKv(r);
        blockKvs.push(b);
        if (b.source === 'computed') cache.misses++;
        else {
          cache.hits++;
          if (b.source === 'memory') cache.memoryHits++;
          if (b.source === 'disk') cache.diskHits++;
        }
      }
    }
    const blocksMs = performance.now() - t1;

    const plan = await this.plannerFor(generator).plan(
      {
        question: req.question,
        mode,
        compression,
        budget: req.budgetTokens !== undefined ? { maxTokens: req.budgetTokens } : { keepRatio: req.keepRatio ?? 0.5 },
        order: req.order ?? 'retrieval',
      },
      sources,
      rendered,
      blockKvs,
    );

    const t2 = performance.now();
    const finalTokens = generator.finalTokens(req.question);
    let pass: QuestionPassResult;
    let assembleMs: number;
    if (mode === 'blocks') {
      const context = await generator.assemble(
        plan.order.map((i) => blockKvs![i]!),
        { keep: plan.order.map((i) => plan.keepTokens[i]), recomputeHead: req.recomputeHead ?? 0 },
      );
      assembleMs = blocksMs + (performance.now() - t2);
      const t3 = performance.now();
      pass = await generator.questionPass(context, finalTokens);
      return this.finish(req, generator, pass, plan, sources, rendered, retrieved.chunks, { retrieveMs, assembleMs, questionStart: t3, t0 }, cache, mode, onEvent);
    }
    // Full mode (exact baseline): the kept text is re-rendered and prefilled in one causal pass.
    const placed = plan.order.map((i) => {
      const keep = plan.keepTokens[i] ? plan.keptSentences[i]!.map((s) => s.index) : null;
      if (!keep) return generator.render(sources[i]!);
      const compressed = compressText(sources[i]!, keep).block;
      return generator.render({ ...compressed, sentences: [...compressed.sentences] });
    });
    assembleMs = performance.now() - t2;
    const t3 = performance.now();
    pass = await generator.fullPass(placed, finalTokens);
    return this.finish(req, generator, pass, plan, sources, rendered, retrieved.chunks, { retrieveMs, assembleMs, questionStart: t3, t0 }, cache, mode, onEvent);
  }

  private async finish(
    req: AskRequest,
    generator: BlockAttentionGenerator,
    pass: QuestionPassResult,
    plan: ContextPlan,
    sources: BlockSource[],
    rendered: RenderedBlock[],
    chunks: { id: string; documentId: string; start: number; end: number }[],
    t: { retrieveMs: number; assembleMs: number; questionStart: number; t0: number },
    cache: AskResponse['cache'],
    mode: GeneratorMode,
    onEvent: AskEventSink,
  ): Promise<AskResponse> {
    const questionPrefillMs = performance.now() - t.questionStart;
    const gen = generator.generate(pass, { maxTokens: req.maxTokens, temperature: req.temperature, topP: req.topP, seed: req.seed }, req.signal);
    let firstTokenMs: number | null = null;
    let step = await gen.next();
    while (!step.done) {
      firstTokenMs ??= performance.now() - t.t0;
      if (step.value.text) await onEvent({ type: 'token', text: step.value.text, id: step.value.id });
      step = await gen.next();
    }
    const g = step.value;
    const slots = new Map(plan.order.map((b, slot) => [b, slot]));
    const passages: PassageTrace[] = sources.map((s, b) => {
      const kept = new Map(plan.keptSentences[b]!.map((k) => [k.index, k.score]));
      return {
        documentId: s.documentId,
        chunkId: s.chunkId,
        title: s.title ?? '',
        start: s.start,
        text: s.text,
        retrievalRank: b,
        slot: slots.get(b) ?? null,
        sentences: rendered[b]!.sentences.map((sent, i) => ({ start: sent.charStart, end: sent.charEnd, kept: kept.has(i), score: kept.get(i) ?? null })),
      };
    });
    const response: AskResponse = {
      answer: g.text,
      citations: chunks.filter((_, b) => plan.keptSentences[b]!.length > 0).map((c) => ({ documentId: c.documentId, chunkId: c.id, start: c.start, end: c.end })),
      kept: passages.flatMap((p) => p.sentences.filter((s) => s.kept).map((s) => ({ documentId: p.documentId, chunkId: p.chunkId, start: s.start, end: s.end, score: s.score }))),
      compression: { method: plan.compression.method, keptTokens: plan.compression.keptTokens, totalTokens: plan.compression.totalTokens, ratio: plan.compression.ratio },
      order: plan.orderInfo,
      mode,
      finishReason: g.finishReason,
      timings: {
        retrieveMs: t.retrieveMs,
        assembleMs: t.assembleMs,
        compressMs: plan.compressMs,
        questionPrefillMs,
        firstTokenMs,
        decodeMs: g.decodeMs,
        totalMs: performance.now() - t.t0,
      },
      cache,
      usage: { promptTokens: pass.start + pass.tokens.length, completionTokens: g.tokenIds.length },
      passages,
    };
    // Recorded before the answer returns, so a client that just got it finds it in the recent list.
    for (const l of this.listeners) {
      try {
        await l(req, response);
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'answer listener failed');
      }
    }
    await onEvent({ type: 'done', response });
    return response;
  }
}
