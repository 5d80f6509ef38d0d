import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { BlockAttentionGenerator, BlockKv } from '../../generator/BlockAttentionGenerator.js';
import type { RenderedBlock } from '../../generator/BlockRenderer.js';
import { planCompression, type CompressionPlan } from '../../compressor/CompressionPlan.js';
import { GeneratorQuestionPass } from '../../compressor/GeneratorQuestionPass.js';
import { lexicalSentenceScores } from '../../compressor/LexicalScorer.js';
import { defaultProbePath, Probe } from '../../compressor/Probe.js';
import { DirectQuestionPass, type AttentionMode, type ProbedPass } from '../../compressor/QuestionPass.js';
import { scoreSentences } from '../../compressor/SentinelScorer.js';
import type { SelectionBudget } from '../../compressor/SentenceSelector.js';
import type { BlockSource } from '../../generator/BlockRenderer.js';
import type { ProfileStore } from '../../reranker/BasinProfile.js';
import { reorder } from '../../reranker/Reorderer.js';
import { DomainError } from '../../infra/errors.js';

export type CompressionMethod = 'none' | 'lexical' | 'raw' | 'probe';
export type OrderMethod = 'retrieval' | 'zigzag' | 'basin';

/** A request the pipeline cannot plan (no probe trained, no attention taps, nothing retrieved): the caller can fix it. */
export class PlanningError extends DomainError {
  constructor(message: string) {
    super('invalid', message);
  }
}

export interface PlanRequest {
  question: string;
  mode: AttentionMode;
  compression: CompressionMethod;
  budget: SelectionBudget;
  order: OrderMethod;
}

/** What to place in the context: which sentences of which blocks, in which order. */
export interface ContextPlan {
  /** Indices into the retrieved blocks, in placement order (blocks that kept nothing are left out). */
  order: number[];
  /** Per retrieved block: kept token indices (header + kept sentences), or null for all. */
  keepTokens: (number[] | null)[];
  /** Per retrieved block: kept sentence indices and their scores (null scores when not compressing). */
  keptSentences: { index: number; score: number | null }[][];
  compression: { method: CompressionMethod; keptTokens: number; totalTokens: number; ratio: number; overBudget: boolean };
  orderInfo: { method: OrderMethod; fallback?: string; profile?: number[] };
  compressMs: number;
  /** The scoring pass, when one ran (blocks mode, whole blocks in retrieval order). */
  scoringPass?: ProbedPass;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * The compressor and reranker stages of the ask pipeline: sentence scores (lexical BM25, raw attention,
 * or the trained probe over the question pass's attention), a cross-block selection under the budget,
 * and the block order (retrieval, zig-zag, or the calibrated attention basin).
 */
export class ContextPlanner {
  private readonly probes = new Map<string, Probe | null>();

  constructor(
    private readonly generator: BlockAttentionGenerator,
    private readonly profiles: ProfileStore,
    private readonly dataDir: string,
  ) {}

  async plan(req: PlanRequest, sources: BlockSource[], rendered: RenderedBlock[], blockKvs: BlockKv[] | null): Promise<ContextPlan> {
    const t0 = performance.now();
    const sentenceTokens = rendered.reduce((n, r) => n + r.sentences.reduce((m, s) => m + s.tokenEnd - s.tokenStart, 0), 0);
    let scores: number[][] | null = null;
    let scoringPass: ProbedPass | undefined;
    if (req.compression === 'lexical') {
      scores = sources.map((src, b) => lexicalSentenceScores(rendered[b]!.sentences.map((s) => textOf(src, s.charStart, s.charEnd)), req.question));
    } else if (req.compression === 'raw' || req.compression === 'probe') {
      if (!this.generator.model.hasAttentions) {
        throw new PlanningError(`compression "${req.compression}" needs attention taps, and this model was loaded without them (a fused export); use "lexical" or "none"`);
      }
      const probe = req.compression === 'probe' ? this.probeFor(req.mode) : null;
      scoringPass = await this.questionPass(req, sources, blockKvs);
      scores = scoreSentences(scoringPass, probe);
    }
    let plan: CompressionPlan | null = null;
    if (scores) plan = planCompression(rendered, scores, req.budget);

    // Relevance for placement: probe/lexical mass of what was kept, else retrieval rank.
    const relevance = plan ? plan.keptMass : rendered.map((_, i) => rendered.length - i);
    let orderInfo: ContextPlan['orderInfo'] = { method: req.order };
    let order = range(rendered.length);
    if (req.order === 'zigzag') order = reorder(order, relevance, null);
    else if (req.order === 'basin') {
      const profile = this.profiles.load({ modelId: this.generator.modelId, attentionMode: req.mode, templateId: this.generator.template.id, k: rendered.length });
      if (profile) {
        order = reorder(order, relevance, profile.values);
        orderInfo = { method: 'basin', profile: profile.values };
      } else {
        order = reorder(order, relevance, null);
        orderInfo = { method: 'zigzag', fallback: `no basin profile calibrated for k=${rendered.length} (run \`rag calibrate --k ${rendered.length}\`); used the zig-zag order` };
      }
    }

    // A block that kept no sentence would only contribute its label: leave it out of the context.
    if (plan) order = order.filter((b) => plan!.keepSentences[b]!.length > 0);

    const keptSentences = rendered.map((r, b) =>
      plan ? plan.keepSentences[b]!.map((i) => ({ index: i, score: scores![b]![i]! })) : r.sentences.map((_, i) => ({ index: i, score: null })),
    );
    const keptTokens = plan ? plan.selection.keptTokens : sentenceTokens;
    return {
      order,
      keepTokens: plan ? plan.keepTokens : rendered.map(() => null),
      keptSentences,
      compression: {
        method: req.compression,
        keptTokens,
        totalTokens: sentenceTokens,
        ratio: sentenceTokens ? keptTokens / sentenceTokens : 1,
        overBudget: plan?.selection.overBudget ?? false,
      },
      orderInfo,
      compressMs: performance.now() - t0,
      scoringPass,
    };
  }

  /** The question pass in the serving attention mode, over whole blocks in retrieval order. */
  private async questionPass(req: PlanRequest, sources: BlockSource[], blockKvs: BlockKv[] | null): Promise<ProbedPass> {
    if (req.mode === 'blocks') {
      const runner = new GeneratorQuestionPass(this.generator);
      const kvs = blockKvs ?? (await Promise.all(sources.map((s) => this.generator.blockKv(this.generator.render(s)))));
      return runner.ask(runner.prepareFrom(await this.generator.assemble(kvs), kvs), req.question);
    }
    const runner = new DirectQuestionPass(this.generator.model, this.generator.modelId, 'full', this.generator.template);
    return runner.ask(await runner.prepare(sources), req.question);
  }

  private probeFor(mode: AttentionMode): Probe {
    const target = {
      modelId: this.generator.modelId,
      attentionMode: mode,
      templateId: this.generator.template.id,
      layout: { layers: this.generator.model.config.layers, heads: this.generator.model.config.heads },
    };
    const file = defaultProbePath(this.dataDir, target);
    if (!this.probes.has(file)) this.probes.set(file, fs.existsSync(file) ? Probe.load(file, target) : null);
    const probe = this.probes.get(file);
    if (!probe) {
      throw new PlanningError(`compression "probe": no probe trained for this model, template and attention mode "${mode}" (expected ${file}); run \`rag probe train --data <SQuAD json>\`, or use "raw"`);
    }
    return probe;
  }
}

function textOf(src: BlockSource, start: number, end: number): string {
  return src.text.slice(start - src.start, end - src.start);
}
