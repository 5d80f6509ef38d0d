import type { AssembledContext, BlockAttentionGenerator, BlockKv, QuestionPassResult } from '../generator/BlockAttentionGenerator.js';
import type { BlockSource } from '../generator/BlockRenderer.js';
import type { AskOptions, PreparedContext, ProbedPass, QuestionPassRunner } from './QuestionPass.js';

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

export interface GeneratorPreparedContext extends PreparedContext {
  assembled: AssembledContext;
  blockKvs: BlockKv[];
}

export interface GeneratorProbedPass extends ProbedPass {
  context: GeneratorPreparedContext;
  /** The generator's own pass result: decoding can continue from it when nothing is compressed. */
  pass: QuestionPassResult;
}

/**
 * The serving path as a QuestionPassRunner: blocks from the generator's KV store (computed on a miss),
 * assembled in `blocks` mode, and the generator's question pass with attention taps. Probe training and
 * calibration through this runner see exactly what the ask route sees.
 */
export class GeneratorQuestionPass implements QuestionPassRunner {
  readonly attentionMode = 'blocks' as const;
  readonly modelId: string;
  readonly templateId: string;
  readonly layout: { layers: number; heads: number };

  constructor(readonly generator: BlockAttentionGenerator, modelId?: string) {
    if (!generator.model.hasAttentions) throw new Error('the generator model was loaded without attention taps (createGenerator(config, {taps: true}))');
    this.modelId = modelId ?? generator.modelId;
    this.templateId = generator.template.id;
    this.layout = { layers: generator.model.config.layers, heads: generator.model.config.heads };
  }

  async prepare(sources: BlockSource[]): Promise<GeneratorPreparedContext> {
    const blockKvs: BlockKv[] = [];
    // One at a time: a block computation already uses every core.
    for (const s of sources) blockKvs.push(await this.generator.blockKv(this.generator.render(s)));
    return this.prepareFrom(await this.generator.assemble(blockKvs), blockKvs);
  }

  /** Wraps a context the caller already assembled (whole blocks, any order) for `ask`. */
  prepareFrom(assembled: AssembledContext, blockKvs: BlockKv[]): GeneratorPreparedContext {
    if (assembled.layout.length !== blockKvs.length) throw new Error(`prepareFrom: ${assembled.layout.length} assembled blocks, ${blockKvs.length} block KVs`);
    return {
      kv: assembled.kv,
      assembled,
      blockKvs,
      blocks: assembled.layout.map((l, i) => {
        const r = blockKvs[i].rendered;
        if (r.chunkId !== l.chunkId || l.tokenIndices.length !== r.tokens.length) throw new Error(`block ${l.chunkId}: not assembled whole from the given block KVs`);
        return { chunkId: l.chunkId, tokenIndices: range(l.start, l.end - l.start), headerLength: r.headerLength, sentences: r.sentences };
      }),
    };
  }

  /**
   * `rows: 'all'` taps the attention of every final-block token (calibration reads all question rows);
   * `rows: 'last'` (default) runs the final block minus its last token untapped, then the last token alone with taps:
   * same result for the last row (what sentence features read) while the attention copied out shrinks from
   * layers x heads x S x T to layers x heads x T.
   */
  async ask(context: PreparedContext, question: string, opts: AskOptions = {}): Promise<GeneratorProbedPass> {
    const ctx = context as GeneratorPreparedContext;
    if (!ctx.assembled) throw new Error('GeneratorQuestionPass.ask needs a context from its own prepare()');
    const final = this.generator.finalTokens(question);
    let pass: QuestionPassResult;
    if ((opts.rows ?? 'last') === 'last' && final.length > 1) {
      const head = await this.generator.questionPass(ctx.assembled, final.slice(0, -1));
      const last = await this.generator.questionPass({ ...ctx.assembled, kv: head.cache }, final.slice(-1), { attentions: true });
      // Present it as one pass over the whole final block (decoding continues from last.cache).
      pass = { ...last, context: ctx.assembled, tokens: final, start: head.start, kv: last.cache.slice(head.start) };
    } else {
      pass = await this.generator.questionPass(ctx.assembled, final, { attentions: true });
    }
    if (!pass.attentions) throw new Error('question pass returned no attentions');
    const rows = pass.attentions[0].length / (this.layout.heads * (pass.start + pass.tokens.length));
    return {
      attentions: pass.attentions,
      heads: this.layout.heads,
      queryLength: rows,
      keyLength: pass.start + pass.tokens.length,
      context: ctx,
      contextColumns: ctx.blocks.flatMap((b) => b.tokenIndices as number[]),
      pass,
    };
  }
}
