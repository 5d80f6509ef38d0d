import { performance } from 'node:perf_hooks';
import type { AssembledContext, BlockAttentionGenerator, BlockKv } from '../generator/BlockAttentionGenerator.js';
import type { BlockSource } from '../generator/BlockRenderer.js';
import { reorder } from '../reranker/Reorderer.js';
import { planCompression, type CompressionPlan } from './CompressionPlan.js';
import { GeneratorQuestionPass } from './GeneratorQuestionPass.js';
import { lexicalSentenceScores } from './LexicalScorer.js';
import type { Probe } from './Probe.js';
import type { SelectionBudget } from './SentenceSelector.js';
import { scoreSentences } from './SentinelScorer.js';

/**
 * The stages between retrieval and generation, for the ask route: fetch the blocks' KV, score sentences
 * (attention probe, raw attention, or BM25), keep the best within the budget, place the blocks into the
 * attention-basin slots, and assemble the compressed context in that order. The caller then runs
 * `generator.questionPass(context.assembled, generator.finalTokens(question))` and decodes from it.
 *
 * - `probe` needs a probe trained for this generator (same model, mode, template, layout: see Probe.load).
 * - `raw` is the probe-free attention score; `bm25` needs no attention pass at all.
 * - `none` keeps every sentence; blocks are still reordered (relevance = retrieval order).
 * Blocks left with no sentence are dropped; `blocks` lists the placed ones in placement order.
 */
export type CompressionMethod = 'none' | 'raw' | 'probe' | 'bm25';

export interface PrepareRequest {
  question: string;
  /** Retrieved chunks, most relevant first. */
  chunks: BlockSource[];
  method: CompressionMethod;
  /** Ignored for `none`. */
  budget?: SelectionBudget;
  probe?: Probe | null;
  /** Basin profile values for k = chunks.length (null/absent: zig-zag order). */
  profile?: readonly number[] | null;
}

export interface KeptBlock {
  chunkId: string;
  documentId: string;
  /** Kept sentences in document offsets. */
  sentences: { start: number; end: number }[];
  /** Relevance used for placement (kept score mass, or retrieval rank for `none`). */
  relevance: number;
}

export interface PreparedAnswerContext {
  /** Compressed and reordered, ready for the question pass. */
  assembled: AssembledContext;
  /** In placement order. */
  blocks: KeptBlock[];
  plan: CompressionPlan | null;
  tokens: { before: number; after: number };
  cache: { memory: number; disk: number; joined: number; computed: number };
  timings: { blocksMs: number; scoreMs: number; assembleMs: number };
}

export async function prepareAnswerContext(generator: BlockAttentionGenerator, req: PrepareRequest): Promise<PreparedAnswerContext> {
  const t0 = performance.now();
  const blockKvs: BlockKv[] = [];
  for (const c of req.chunks) blockKvs.push(await generator.blockKv(generator.render(c)));
  const cache = { memory: 0, disk: 0, joined: 0, computed: 0 };
  for (const b of blockKvs) cache[b.source]++;
  const t1 = performance.now();

  let scores: number[][] | null = null;
  if (req.method === 'raw' || req.method === 'probe') {
    if (req.method === 'probe' && !req.probe) throw new Error('compression method "probe" needs a trained probe (rag probe train)');
    const runner = new GeneratorQuestionPass(generator);
    if (req.method === 'probe') req.probe!.assertFits({ modelId: runner.modelId, attentionMode: runner.attentionMode, templateId: runner.templateId, layout: runner.layout });
    const ctx = runner.prepareFrom(await generator.assemble(blockKvs), blockKvs);
    scores = scoreSentences(await runner.ask(ctx, req.question, { rows: 'last' }), req.method === 'probe' ? req.probe : null);
  } else if (req.method === 'bm25') {
    // One BM25 collection over all sentences, so scores compare across blocks.
    const texts = req.chunks.flatMap((c) => c.sentences.map((s) => c.text.slice(s.start - c.start, s.end - c.start)));
    const flat = lexicalSentenceScores(texts, req.question);
    let at = 0;
    scores = req.chunks.map((c) => c.sentences.map(() => flat[at++]));
  }
  const rendered = blockKvs.map((b) => b.rendered);
  let plan: CompressionPlan | null = null;
  if (scores) {
    if (!req.budget) throw new Error(`compression method "${req.method}" needs a budget (maxTokens or keepRatio)`);
    plan = planCompression(rendered, scores, req.budget);
  }
  const t2 = performance.now();

  const relevance = plan ? plan.keptMass : req.chunks.map((_, i) => req.chunks.length - i);
  // Blocks that lost every sentence are left out entirely (a bare label would only spend attention).
  const order = reorder(req.chunks.map((_, i) => i), relevance, req.profile ?? null).filter((i) => !plan || plan.keepSentences[i].length > 0);
  const assembled = await generator.assemble(
    order.map((i) => blockKvs[i]),
    plan ? { keep: order.map((i) => plan.keepTokens[i]) } : {},
  );
  const t3 = performance.now();
  const blocks: KeptBlock[] = order.map((i) => {
    const kept = plan ? plan.keepSentences[i] : rendered[i].sentences.map((_, si) => si);
    return {
      chunkId: req.chunks[i].chunkId,
      documentId: req.chunks[i].documentId,
      sentences: kept.map((si) => ({ start: rendered[i].sentences[si].charStart, end: rendered[i].sentences[si].charEnd })),
      relevance: relevance[i],
    };
  });
  const before = rendered.reduce((n, r) => n + r.tokens.length, 0);
  return {
    assembled,
    blocks,
    plan,
    tokens: { before, after: assembled.kv.length - assembled.prefixLength },
    cache,
    timings: { blocksMs: t1 - t0, scoreMs: t2 - t1, assembleMs: t3 - t2 },
  };
}
