import type { DecoderModel } from '../model/DecoderModel.js';
import { KvCache } from '../model/kv/KvCache.js';
import { PromptTemplate, encodePiece } from '../generator/PromptTemplate.js';
import { renderBlock, type BlockSource, type RenderedBlock } from '../generator/BlockRenderer.js';
import type { CompressibleBlock } from './KvCompressor.js';
import type { FeatureLayout, QuestionPassAttention } from './SentenceFeatures.js';

/**
 * The one model pass the compressor and the reranker read: an assembled context (prefix + passage blocks) and
 * the final block (question + answer cue) run over it with attention taps. This interface is what the probe
 * trainer and the calibrator depend on, so they work with any assembly (this direct runner, or the generator's
 * assemble + questionPass).
 */
export type AttentionMode = 'full' | 'blocks';

export interface PreparedContext {
  kv: KvCache;
  /** Per block: its tokens' indices in `kv` (header first), header length and sentence token ranges. */
  blocks: (CompressibleBlock & { chunkId: string })[];
}

export interface ProbedPass extends QuestionPassAttention {
  context: PreparedContext;
  /** Key columns of all block tokens, in order (the "context positions"). */
  contextColumns: number[];
}

export interface QuestionPassRunner {
  readonly modelId: string;
  readonly attentionMode: AttentionMode;
  readonly templateId: string;
  readonly layout: FeatureLayout;
  prepare(blocks: BlockSource[]): Promise<PreparedContext>;
  /**
   * Runs the final block over the context with taps. `rows`: which query rows' attention is needed; `last`
   * (the default; sentence features read only the last prompt token) lets a runner copy out less, `all` is
   * what calibration reads. A runner may return more rows than asked; the last row is always the last token.
   */
  ask(context: PreparedContext, question: string, opts?: AskOptions): Promise<ProbedPass>;
}

export interface AskOptions {
  rows?: 'all' | 'last';
}

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

/**
 * Builds prompts with the generator's template and block renderer and runs them on DecoderModel directly.
 * `full`: the whole context prefilled causally in one pass. `blocks`: each block prefilled on its own as a
 * continuation of the shared prefix, then re-encoded to its slot (Block-Attention), as served by default.
 */
export class DirectQuestionPass implements QuestionPassRunner {
  readonly templateId: string;
  readonly layout: FeatureLayout;
  private prefix: { tokens: number[]; kv: KvCache } | null = null;

  constructor(
    private readonly model: DecoderModel,
    readonly modelId: string,
    readonly attentionMode: AttentionMode,
    private readonly template: PromptTemplate = PromptTemplate.fromTokenizer(model.tokenizer),
  ) {
    if (!model.hasAttentions) throw new Error('question pass: the model must be loaded with attention taps ({taps: true})');
    this.templateId = template.id;
    this.layout = { layers: model.config.layers, heads: model.config.heads };
  }

  private async prefixKv(): Promise<{ tokens: number[]; kv: KvCache }> {
    if (!this.prefix) {
      const tokens = encodePiece(this.model.tokenizer, this.template.prefixText);
      const { present } = await this.model.forward(tokens, range(0, tokens.length), null, { logits: 'none' });
      this.prefix = { tokens, kv: present };
    }
    return this.prefix;
  }

  async prepare(sources: BlockSource[]): Promise<PreparedContext> {
    const prefix = await this.prefixKv();
    const P = prefix.tokens.length;
    const rendered: RenderedBlock[] = sources.map((s) => renderBlock(this.model.tokenizer, s));
    const blocks: PreparedContext['blocks'] = [];
    let at = P;
    for (const r of rendered) {
      blocks.push({ chunkId: r.chunkId, tokenIndices: range(at, r.tokens.length), headerLength: r.headerLength, sentences: r.sentences });
      at += r.tokens.length;
    }
    let kv: KvCache;
    if (this.attentionMode === 'full') {
      const all = rendered.flatMap((r) => r.tokens);
      const { present } = await this.model.forward(all, range(P, all.length), prefix.kv, { logits: 'none' });
      kv = KvCache.concat([prefix.kv, present]);
    } else {
      const parts = [prefix.kv];
      let slot = P;
      for (const r of rendered) {
        const { present } = await this.model.forward(r.tokens, range(P, r.tokens.length), prefix.kv, { logits: 'none' });
        parts.push(present.reencode({ start: slot }, this.model.config.ropeTheta));
        slot += r.tokens.length;
      }
      kv = KvCache.concat(parts);
    }
    return { kv, blocks };
  }

  async ask(context: PreparedContext, question: string): Promise<ProbedPass> {
    const final = encodePiece(this.model.tokenizer, this.template.finalText(question));
    const T0 = context.kv.length;
    const start = T0 > 0 ? context.kv.positions[T0 - 1] + 1 : 0;
    const out = await this.model.forward(final, range(start, final.length), context.kv, { logits: 'none', attentions: true });
    return {
      attentions: out.attentions as Float32Array[],
      heads: this.model.config.heads,
      queryLength: final.length,
      keyLength: T0 + final.length,
      context,
      contextColumns: context.blocks.flatMap((b) => Array.from(b.tokenIndices)),
    };
  }
}
