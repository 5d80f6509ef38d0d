import { performance } from 'node:perf_hooks';
import type { Probe, ProbeTarget } from '../compressor/Probe.js';
import type { AttentionMode, QuestionPassRunner, TapRows } from '../compressor/QuestionPass.js';
import type { SelectionBudget } from '../compressor/SentenceSelector.js';
import type { BlockAttentionGenerator, GeneratorMode, QuestionPassResult } from '../generator/BlockAttentionGenerator.js';
import type { SamplingOptions } from '../generator/Sampler.js';
import type { DocumentStore } from '../indexer/store/DocumentStore.js';
import type { SearchHit, SearchService } from '../retriever/SearchService.js';
import type { SentenceRanker } from '../compressor/ranker/SentenceRanker.js';
import type { EmbedderIdentity } from '../indexer/embedding/Embedder.js';
import { DEFAULT_SEARCH_MODE } from '../retriever/defaults.js';
import type { IndexRegistry } from '../retriever/IndexRegistry.js';
import { isGiven, type AskMode, type CompressionMethod, type OrderMethod, type PipelineRequest } from './AskRequest.js';
import { PlanningError } from './errors.js';
import { givenPassages, type Passage } from './Passage.js';
import type { ProbeSource } from './probes.js';
import { assemble, sameAsQuestionPass, type PlacedContext } from './stages/assemble.js';
import { fetchKv, render, type CacheCounts } from './stages/blocks.js';
import { decode, type Decoded } from './stages/decode.js';
import { extract, rank, type Extraction, type RankingInfo } from './stages/extract.js';
import { finalPass } from './stages/finalPass.js';
import { order, type OrderInfo, type ProfileSource } from './stages/order.js';
import { questionPass, type QuestionPass } from './stages/questionPass.js';
import { retrieve } from './stages/retrieve.js';
import { readsAttention, score } from './stages/score.js';
import { select, type CompressionSummary } from './stages/select.js';

/**
 * The stages of an ask, in the order they run. `questionPass` runs only when something reads its attention (the
 * raw/probe scorers, calibration, probe training); `finalPass` is the pass decoding continues from, and is the
 * question pass itself when that one already ran over the placed context. The terminal stage is `decode` (the
 * generator's answer). An extractive run (`mode: "extractive"`, no generator) runs EXTRACTIVE_STAGES instead: the
 * learned sentence ranker scores every retrieved sentence (`rank`) and the best one is the answer (`extract`).
 */
export const STAGES = ['retrieve', 'render', 'fetchKv', 'questionPass', 'score', 'select', 'order', 'assemble', 'finalPass', 'decode'] as const;
export const EXTRACTIVE_STAGES = ['retrieve', 'rank', 'extract'] as const;
export type StageName = (typeof STAGES)[number] | (typeof EXTRACTIVE_STAGES)[number];

export interface StageRecord {
  stage: StageName;
  ran: boolean;
  /** Wall time of the stage (0 when it did not run). */
  ms: number;
  /** Model passes the stage ran: blocks computed on a cache miss, the question pass, head recomputes, the final pass (decode steps not counted). */
  modelPasses: number;
  /** Why it did not run. */
  note?: string;
}

/** The resolved settings of one run. */
export interface RunSettings {
  mode: AskMode;
  recomputeHead: number;
  compression: CompressionMethod;
  budget: SelectionBudget;
  order: OrderMethod;
  sampling: SamplingOptions;
  /** Rows the question pass taps; null: no question pass. */
  taps: TapRows | null;
}

/** Everything an ask produced, stage by stage; a run stopped early (`until`) has the later fields null. */
export interface AskRun {
  question: string;
  settings: RunSettings;
  passages: Passage[];
  /** Retrieval hits in rank order (none for given passages). */
  hits: SearchHit[];
  cache: CacheCounts;
  finalTokens: number[];
  questionPass: QuestionPass | null;
  compression: CompressionSummary | null;
  order: OrderInfo | null;
  placedContext: PlacedContext | null;
  finalPass: QuestionPassResult | null;
  decoded: Decoded | null;
  /** Extractive runs: which ranker model scored the sentences, and the answer sentence with the next candidates. */
  ranking: RankingInfo | null;
  extraction: Extraction | null;
  trace: StageRecord[];
  /** performance.now() at the start of the run. */
  startedAt: number;
}

export type PipelineEvent = { type: 'retrieval'; hits: SearchHit[] } | { type: 'token'; text: string; id: number } | { type: 'answer'; text: string };

export interface RunOptions {
  /** Stop after this stage (benches time a prefix of the served pipeline; calibration stops after the question pass). */
  until?: StageName;
  /** Run the question pass tapped on these rows even when no scorer reads it (calibration, probe training). */
  taps?: TapRows;
  /** Told about retrieval and each token; a returned promise pauses the run until it settles (a stream's backpressure). */
  onEvent?: (e: PipelineEvent) => void | Promise<void>;
}

export interface PipelineDeps {
  /** Absent: only extractive runs are possible. */
  generator?: BlockAttentionGenerator;
  /** Retrieval, for requests that name a collection. */
  search?: SearchService;
  store?: DocumentStore;
  /** Trained probes, for `compression: probe`. */
  probes?: ProbeSource;
  /** Calibrated basin profiles, for `order: basin`. */
  profiles?: ProfileSource;
  /** Extractive runs: the sentence ranker, the collections' BM25 statistics, and the embedder serving searches with. */
  extractive?: { ranker: SentenceRanker; registry: IndexRegistry; embedder: EmbedderIdentity | null };
}

const NO_PROFILES: ProfileSource = { load: () => null };

/** One stage of a run: `skip` says why it does not apply (null: it runs); `run` does its work on the run's records. */
interface Stage {
  name: StageName;
  skip?: () => string | null;
  run: () => Promise<StageOutcome | void> | StageOutcome | void;
}

interface StageOutcome {
  modelPasses?: number;
  note?: string;
}

/**
 * The one ask pipeline: every way of asking (HTTP and SSE, the OpenAI endpoint, `rag ask`, `rag eval`, probe
 * training, calibration, the benches) runs this code, and it is the only code that orders the stages:
 *
 *   retrieve -> render -> fetchKv -> questionPass -> score -> select -> order -> assemble -> finalPass -> decode
 *
 * over one Passage record per retrieved chunk (stages in ./stages, each filling its own fields).
 */
export class AskPipeline {
  constructor(private readonly deps: PipelineDeps) {}

  get generator(): BlockAttentionGenerator {
    if (!this.deps.generator) throw new Error('this pipeline has no generator (built for extractive answers only)');
    return this.deps.generator;
  }

  /** What the question pass's attention belongs to, in one attention mode (probes and profiles are per target). */
  target(mode: AttentionMode): ProbeTarget {
    const g = this.generator;
    return { modelId: g.modelId, attentionMode: mode, templateId: g.template.id, layout: { layers: g.model.config.layers, heads: g.model.config.heads } };
  }

  /** The tapped question pass over given blocks, in one mode: what probe training and calibration read. */
  questionPassRunner(mode: AttentionMode): QuestionPassRunner {
    return {
      target: this.target(mode),
      run: async (blocks, question, rows) => {
        const run = await this.run({ question, passages: blocks, mode }, { taps: rows, until: 'questionPass' });
        return (run.questionPass as QuestionPass).tapped;
      },
    };
  }

  async run(req: PipelineRequest, opts: RunOptions = {}): Promise<AskRun> {
    const startedAt = performance.now();
    const settings = this.settings(req, opts);
    const extractive = settings.mode === 'extractive';
    const probe = settings.compression === 'probe' ? this.probe(settings.mode as GeneratorMode) : null;
    const run: AskRun = {
      question: req.question,
      settings,
      passages: [],
      hits: [],
      cache: { hits: 0, misses: 0, memoryHits: 0, diskHits: 0 },
      finalTokens: extractive ? [] : this.generator.finalTokens(req.question),
      questionPass: null,
      compression: null,
      order: null,
      placedContext: null,
      finalPass: null,
      decoded: null,
      ranking: null,
      extraction: null,
      trace: [],
      startedAt,
    };
    const until = opts.until ?? (extractive ? 'extract' : 'decode');
    for (const stage of extractive ? this.extractiveStages(req, opts, run) : this.stages(req, opts, run, probe)) {
      const why = stage.skip?.() ?? null;
      if (why !== null) run.trace.push({ stage: stage.name, ran: false, ms: 0, modelPasses: 0, note: why });
      else {
        const t0 = performance.now();
        const outcome = (await stage.run()) ?? {};
        run.trace.push({ stage: stage.name, ran: true, ms: performance.now() - t0, modelPasses: outcome.modelPasses ?? 0, ...(outcome.note ? { note: outcome.note } : {}) });
      }
      if (stage.name === until) break;
    }
    return run;
  }

  /** The stages of one run, in order, each working on the run's passages and results. */
  private stages(req: PipelineRequest, opts: RunOptions, run: AskRun, probe: Probe | null): Stage[] {
    const { generator } = this;
    const { settings } = run;
    const { compression, recomputeHead } = settings;
    const mode = settings.mode as GeneratorMode;
    const reusesQuestionPass = (): boolean => run.questionPass !== null && sameAsQuestionPass(run.passages, mode, recomputeHead);
    return [
      this.retrieveStage(req, opts, run),
      { name: 'render', run: () => render(generator, run.passages) },
      {
        name: 'fetchKv',
        skip: () => (mode === 'full' ? 'full mode prefills the blocks in its passes' : null),
        run: async () => {
          run.cache = await fetchKv(generator, run.passages);
          return { modelPasses: run.cache.misses };
        },
      },
      {
        name: 'questionPass',
        skip: () => (settings.taps ? null : 'nothing reads attention'),
        run: async () => {
          run.questionPass = await questionPass(generator, run.passages, mode, run.finalTokens, settings.taps as TapRows);
          return { modelPasses: 1 };
        },
      },
      {
        name: 'score',
        skip: () => (compression === 'none' ? 'not compressing' : null),
        run: () => score(run.passages, compression, req.question, run.questionPass?.tapped ?? null, probe),
      },
      { name: 'select', run: () => void (run.compression = select(run.passages, compression, settings.budget)) },
      {
        name: 'order',
        run: () => {
          const key = { modelId: generator.modelId, attentionMode: mode, templateId: generator.template.id };
          run.order = order(run.passages, settings.order, { profiles: this.deps.profiles ?? NO_PROFILES, key });
        },
      },
      {
        name: 'assemble',
        skip: () => (reusesQuestionPass() ? 'the question pass ran over this very context' : null),
        run: async () => {
          run.placedContext = await assemble(generator, run.passages, mode, recomputeHead);
          return { modelPasses: run.placedContext.mode === 'blocks' && recomputeHead > 0 ? run.placedContext.context.layout.length : 0 };
        },
      },
      {
        name: 'finalPass',
        run: async () => {
          if (reusesQuestionPass()) {
            run.finalPass = (run.questionPass as QuestionPass).pass;
            return { note: 'the question pass is the final pass' };
          }
          run.finalPass = await finalPass(generator, run.placedContext as PlacedContext, run.finalTokens);
          return { modelPasses: 1 };
        },
      },
      {
        name: 'decode',
        run: async () => {
          const onToken = (t: { text: string; id: number }) => opts.onEvent?.({ type: 'token', text: t.text, id: t.id });
          run.decoded = await decode(generator, run.finalPass as QuestionPassResult, settings.sampling, req.signal, onToken);
        },
      },
    ];
  }

  private retrieveStage(req: PipelineRequest, opts: RunOptions, run: AskRun): Stage {
    return {
      name: 'retrieve',
      run: async () => {
        if (isGiven(req)) run.passages = givenPassages(req.passages);
        else {
          const { search, store } = this.deps;
          if (!search || !store) throw new Error('this pipeline has no retrieval (built for given passages only)');
          ({ passages: run.passages, hits: run.hits } = await retrieve(search, store, req));
          await opts.onEvent?.({ type: 'retrieval', hits: run.hits });
        }
        if (run.passages.length === 0) throw new PlanningError('no passages to answer from');
      },
    };
  }

  /** An extractive run: retrieve, rank every retrieved sentence, answer with the best one. No generator. */
  private extractiveStages(req: PipelineRequest, opts: RunOptions, run: AskRun): Stage[] {
    const deps = this.deps.extractive;
    if (!deps) throw new Error('this pipeline has no sentence ranker (extractive answers unavailable)');
    if (isGiven(req)) throw new PlanningError('extractive mode answers from a collection (its BM25 statistics feed the ranker); name one');
    return [
      this.retrieveStage(req, opts, run),
      {
        name: 'rank',
        run: async () => {
          // Retrieval just caught the index up; its BM25 statistics are the ones the hits were scored with.
          const index = deps.registry.caughtUp(req.collection) ?? (await deps.registry.current(req.collection));
          if (!index) throw new PlanningError(`collection ${req.collection} has no index yet`);
          run.ranking = rank(run.passages, req.question, { ranker: deps.ranker, stats: index.lexical, embedder: deps.embedder, searchMode: req.searchMode ?? DEFAULT_SEARCH_MODE });
          return run.ranking.fallback ? { note: run.ranking.fallback } : {};
        },
      },
      {
        name: 'extract',
        run: async () => {
          run.extraction = extract(run.passages, req.question);
          if (!run.extraction) throw new PlanningError('the retrieved passages hold no sentence to answer with');
          await opts.onEvent?.({ type: 'answer', text: run.extraction.answer.text });
        },
      },
    ];
  }

  /** Resolves the request's defaults and refuses, before any work, what this generator cannot do. */
  private settings(req: PipelineRequest, opts: RunOptions): RunSettings {
    const compression = req.compression ?? 'none';
    if (req.mode === 'extractive') {
      if (opts.taps) throw new PlanningError('an extractive run has no question pass to tap');
      return { mode: 'extractive', recomputeHead: 0, compression: 'none', budget: { keepRatio: 1 }, order: 'retrieval', sampling: {}, taps: null };
    }
    const taps: TapRows | null = opts.taps ?? (readsAttention(compression) ? 'last' : null);
    if (taps && !this.generator.model.hasAttentions) {
      throw new PlanningError(
        readsAttention(compression)
          ? `compression "${compression}" needs attention taps, and this model was loaded without them (a fused export); use "lexical" or "none"`
          : 'this needs attention taps, and the generator model was loaded without them (a fused export)',
      );
    }
    const recomputeHead = req.recomputeHead ?? 0;
    if (!Number.isInteger(recomputeHead) || recomputeHead < 0) throw new PlanningError(`recomputeHead ${recomputeHead} must be a non-negative integer`);
    return {
      mode: req.mode ?? 'blocks',
      recomputeHead,
      compression,
      budget: req.budgetTokens !== undefined ? { maxTokens: req.budgetTokens } : { keepRatio: req.keepRatio ?? 0.5 },
      order: req.order ?? 'retrieval',
      sampling: { maxTokens: req.maxTokens, temperature: req.temperature, topP: req.topP, seed: req.seed },
      taps,
    };
  }

  private probe(mode: GeneratorMode): Probe {
    if (!this.deps.probes) throw new PlanningError('compression "probe": this pipeline has no probes (train one with `rag probe train`)');
    return this.deps.probes.probeFor(this.target(mode));
  }
}
