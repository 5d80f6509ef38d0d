import type { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import type { DocumentStore } from '../../indexer/store/DocumentStore.js';
import type { SearchService } from '../../retriever/SearchService.js';
import { ProfileStore } from '../../reranker/BasinProfile.js';
import { componentLogger } from '../../infra/logger.js';
import { AskPipeline } from '../../ask/AskPipeline.js';
import type { AskRequest } from '../../ask/AskRequest.js';
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

/** Receives the pipeline's events; a returned promise pauses the pipeline until it settles (stream backpressure). */
export type AskEventSink = (e: AskEvent) => void | Promise<void>;

/**
 * Questions for the HTTP API and the in-process evaluation: the ask pipeline (ask/AskPipeline.ts) over the
 * generator once it has loaded, with the answer's events forwarded as they happen (the SSE route streams them) and
 * every answer reported to the listeners.
 */
export class AskService {
  private current: { generator: BlockAttentionGenerator; pipeline: AskPipeline } | null = null;
  private readonly listeners: AnswerListener[] = [];
  private readonly probes: DataDirProbes;

  constructor(
    private readonly store: DocumentStore,
    private readonly search: SearchService,
    private readonly generator: GeneratorHandle,
    /** Where probes (DATA_DIR/probes) and basin profiles (DATA_DIR/profiles) are read from. */
    dataDir: string,
    private readonly profiles: ProfileStore = ProfileStore.forDataDir(dataDir),
  ) {
    this.probes = new DataDirProbes(dataDir);
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

  private pipeline(): AskPipeline {
    const generator = this.requireGenerator();
    if (this.current?.generator !== generator) {
      this.current = { generator, pipeline: new AskPipeline({ generator, search: this.search, store: this.store, probes: this.probes, profiles: this.profiles }) };
    }
    return this.current.pipeline;
  }

  async ask(req: AskRequest, onEvent: AskEventSink = () => undefined): Promise<AskResponse> {
    const run = await this.pipeline().run(req, { onEvent });
    const response = askResponse(run);
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
