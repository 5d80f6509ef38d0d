import type { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import type { DocumentStore } from '../../indexer/store/DocumentStore.js';
import type { SearchService } from '../../retriever/SearchService.js';
import { ProfileStore } from '../../reranker/BasinProfile.js';
import { componentLogger } from '../../infra/logger.js';
import { AskPipeline } from '../../ask/AskPipeline.js';
import type { AskMode, AskRequest } from '../../ask/AskRequest.js';
import { SentenceRanker } from '../../compressor/ranker/SentenceRanker.js';
import type { EmbedderIdentity } from '../../indexer/embedding/Embedder.js';
import type { IndexRegistry } from '../../retriever/IndexRegistry.js';
import { askResponse, type AskEvent, type AskResponse } from '../../ask/AskResponse.js';
import { PlanningError } from '../../ask/errors.js';
import { DataDirProbes } from '../../ask/probes.js';
import type { GeneratorHandle } from './GeneratorHandle.js';
import { DomainError } from '../../infra/errors.js';

const log = componentLogger('ask');

export type { AskRequest } from '../../ask/AskRequest.js';
export type { AskEvent, AskResponse, Citation, KeptSentence, PassageTrace } from '../../ask/AskResponse.js';
export { PlanningError };

/** Told about every answered question (the dashboard's recent list, stage metrics). */
export type AnswerListener = (req: AskRequest, res: AskResponse) => void | Promise<void>;

export class GeneratorUnavailableError extends DomainError {
  constructor(message: string) {
    super('unavailable', message);
  }
}

/** What extractive answers need beside search: the collections' indexes (BM25 statistics) and the embedder's identity. */
export interface AskServiceOptions {
  profiles?: ProfileStore;
  /** Without it only generated answers are possible. */
  extractive?: { registry: IndexRegistry; embedder: EmbedderIdentity | null; ranker?: SentenceRanker };
}

/** How one ask will be answered: the mode to run (undefined: the generator's default) and why it is extractive when nobody asked. */
export interface ResolvedMode {
  mode: AskMode | undefined;
  fallback?: string;
}

/** Options that shape the generator's context; an explicitly extractive ask has none, so naming one is a mistake. */
const GENERATOR_ONLY = ['recomputeHead', 'compression', 'keepRatio', 'budgetTokens', 'order'] as const;

/** Receives the pipeline's events; a returned promise pauses the pipeline until it settles (stream backpressure). */
export type AskEventSink = (e: AskEvent) => void | Promise<void>;

/**
 * Questions for the HTTP API and the in-process evaluation: the ask pipeline (ask/AskPipeline.ts) over the
 * generator once it has loaded, with the answer's events forwarded as they happen (the SSE route streams them) and
 * every answer reported to the listeners.
 */
export class AskService {
  private current: { generator: BlockAttentionGenerator | null; pipeline: AskPipeline } | null = null;
  private readonly listeners: AnswerListener[] = [];
  private readonly probes: DataDirProbes;
  private readonly profiles: ProfileStore;
  private readonly extractive: { registry: IndexRegistry; embedder: EmbedderIdentity | null; ranker: SentenceRanker } | null;

  constructor(
    private readonly store: DocumentStore,
    private readonly search: SearchService,
    private readonly generator: GeneratorHandle,
    /** Where probes (DATA_DIR/probes), basin profiles (DATA_DIR/profiles) and a trained sentence ranker (DATA_DIR/rankers) are read from. */
    dataDir: string,
    opts: AskServiceOptions = {},
  ) {
    this.probes = new DataDirProbes(dataDir);
    this.profiles = opts.profiles ?? ProfileStore.forDataDir(dataDir);
    const e = opts.extractive;
    this.extractive = e ? { ...e, ranker: e.ranker ?? SentenceRanker.forDataDir(dataDir) } : null;
  }

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

  /**
   * The mode an ask runs in, decided before any work (so a client gets a plain error, not a broken stream):
   * `full`/`blocks` need the generator (503 with instructions without one); `extractive` needs the sentence ranker;
   * no mode means the generator's default, or extractive, saying why, when no generator is available.
   */
  resolve(req: Pick<AskRequest, 'mode'> & Partial<AskRequest>): ResolvedMode {
    if (req.mode === 'extractive') {
      this.requireExtractive();
      const named = GENERATOR_ONLY.filter((k) => req[k] !== undefined);
      if (named.length > 0) throw new PlanningError(`${named.join(', ')}: shape the generator's context, and mode "extractive" uses no generator; drop them`);
      return { mode: 'extractive' };
    }
    if (req.mode !== undefined || !this.extractive) {
      this.requireGenerator();
      return { mode: req.mode };
    }
    try {
      this.requireGenerator();
      return { mode: undefined };
    } catch (err) {
      if (!(err instanceof GeneratorUnavailableError)) throw err;
      return { mode: 'extractive', fallback: `no generator available, so this is the best retrieved sentence (mode "extractive"): ${err.message}` };
    }
  }

  private requireExtractive(): void {
    if (!this.extractive) throw new GeneratorUnavailableError('extractive answers are not configured in this process (no sentence ranker)');
  }

  private pipeline(mode: AskMode | undefined): AskPipeline {
    const state = this.generator.state;
    const generator = state.state === 'ready' ? state.generator : null;
    if (mode !== 'extractive' && !generator) this.requireGenerator();
    if (!this.current || this.current.generator !== generator) {
      const extractive = this.extractive ?? undefined;
      this.current = {
        generator,
        pipeline: new AskPipeline({ ...(generator ? { generator } : {}), search: this.search, store: this.store, probes: this.probes, profiles: this.profiles, extractive }),
      };
    }
    return this.current.pipeline;
  }

  async ask(req: AskRequest, onEvent: AskEventSink = () => undefined): Promise<AskResponse> {
    const { mode, fallback } = this.resolve(req);
    const run = await this.pipeline(mode).run(mode === undefined ? req : { ...req, mode }, { onEvent });
    const response = askResponse(run);
    if (fallback) response.fallback = fallback;
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
