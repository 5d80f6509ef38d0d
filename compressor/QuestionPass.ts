import type { BlockSource } from '../generator/BlockRenderer.js';
import type { ProbeTarget } from './Probe.js';
import type { QuestionPassAttention } from './SentenceFeatures.js';

/**
 * What the compressor and the reranker read from the question pass: the attention of its tapped rows over the
 * context, and where each passage block sits in that context. The pass itself is run by the ask pipeline
 * (ask/AskPipeline.ts), the only code that orders the model passes; this is its view for scoring and calibration.
 */
export type AttentionMode = 'full' | 'blocks';

export interface TappedBlock {
  chunkId: string;
  /** Key columns of the block's tokens in the pass, in block order (header first). */
  tokenIndices: ArrayLike<number>;
  headerLength: number;
  /** Sentence token ranges relative to the block's tokens, [tokenStart, tokenEnd). */
  sentences: readonly { tokenStart: number; tokenEnd: number }[];
}

export interface TappedPass extends QuestionPassAttention {
  /** The passage blocks in context order. */
  blocks: TappedBlock[];
  /** Key columns of all block tokens, in order (the "context positions"). */
  contextColumns: number[];
}

/**
 * Which query rows to tap: `last` (the last prompt token: sentence features read only it) or `question` (every
 * token of the final block: calibration averages over them).
 */
export type TapRows = 'last' | 'question';

/**
 * The serving question pass over given blocks (in the given order), in one attention mode: what probe training and
 * calibration read, so they see exactly what an ask sees. `target` names the model, mode, template and feature
 * layout the pass belongs to.
 */
export interface QuestionPassRunner {
  readonly target: ProbeTarget;
  run(blocks: BlockSource[], question: string, rows: TapRows): Promise<TappedPass>;
}
