import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { DecoderModel } from '../model/DecoderModel.js';
import { ensureBenchModel, essayChunks } from './essayBlocks.js';
import { median } from '../infra/stats.js';
import { argmax } from '../generator/Sampler.js';
import { SeededRandom } from '../infra/random.js';
import { BlockAttentionGenerator, modelIdentity, type AssembledContext, type BlockKv } from '../generator/BlockAttentionGenerator.js';
import { KvBlockStore } from '../generator/KvBlockStore.js';
import { GeneratorQuestionPass } from '../compressor/GeneratorQuestionPass.js';
import { Probe } from '../compressor/Probe.js';
import { blockSentenceFeatures } from '../compressor/SentinelScorer.js';
import { rawAttentionScore } from '../compressor/SentenceFeatures.js';
import { planCompression } from '../compressor/CompressionPlan.js';
import { compressKv } from '../compressor/KvCompressor.js';

/**
 * Cost of Sentinel compression in the served pipeline, on a real model shape (random weights; compute cost does
 * not depend on them), all blocks warm in the memory tier:
 * - `baseline`: TTFT of `blocks` without compression = fetch blocks + assemble + question pass + first token.
 * - `probe`: the question pass with attention taps + feature extraction + probe scoring + the compression plan.
 * - `compressed@r`: fetch + assemble + probe + assemble the kept tokens + question pass on the shorter context +
 *   first token, at keep ratio r.
 * Target: compression costs at most one extra question pass, i.e. compressed TTFT - baseline TTFT <= the
 * baseline's question pass. The probe's weights are seeded random (the bench model is random too): scoring cost
 * does not depend on them.
 */
export interface CompressBenchOptions {
  /** Model folder; default models/test/smollm2-135m (built there if absent). */
  modelDir?: string;
  /** Folder holding pg-essays/. */
  dataDir?: string;
  contexts?: number[];
  keepRatios?: number[];
  runs?: number;
  blockTokens?: number;
  intraOpThreads?: number;
  /**
   * How the kept tokens become the compressed context: `compressKv` (default) drops entries from the assembled
   * KV and re-encodes them in place (tokens before the first drop keep their positions); `assemble` re-assembles
   * the kept tokens from the cached blocks (generator.assemble with keep).
   */
  reassemble?: 'compressKv' | 'assemble';
  log?: (msg: string) => void;
}

export interface CompressContextResult {
  contextTokens: number;
  promptTokens: number;
  blocks: number;
  sentences: number;
  /** Medians over runs, ms. */
  baseline: { ttftMs: number; assembleMs: number; questionPassMs: number };
  probe: { questionPassWithTapsMs: number; scoringMs: number; totalMs: number };
  compressed: {
    keepRatio: number;
    keptTokens: number;
    ttftMs: number;
    /** Medians of the stages: fetch + assemble whole blocks, probe (taps pass + scoring + plan), assemble kept tokens, question pass. */
    parts: { assembleMs: number; probeMs: number; reassembleMs: number; questionPassMs: number };
    /** Compressed TTFT - baseline TTFT, in units of the baseline question pass (target <= 1). */
    extraInQuestionPasses: number;
  }[];
}

export interface CompressBenchReport {
  model: string;
  reassemble: 'compressKv' | 'assemble';
  runs: number;
  threads: number;
  blockTokens: number;
  questionTokens: number;
  results: CompressContextResult[];
}

const QUESTION = 'What does the author say is the best way for a startup to find its first users, and why does it matter so much?';




export async function runCompressBench(opts: CompressBenchOptions = {}): Promise<CompressBenchReport> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const modelDir = ensureBenchModel(opts.modelDir, log);
  const contexts = opts.contexts ?? [2048, 8192];
  const keepRatios = opts.keepRatios ?? [0.5, 0.2];
  const runs = opts.runs ?? 3;
  const blockTokens = opts.blockTokens ?? 200;
  const threads = opts.intraOpThreads ?? 0;
  const reassemble = opts.reassemble ?? 'compressKv';
  const model = await DecoderModel.load(modelDir, { intraOpThreads: threads, taps: true });
  const modelId = modelIdentity(model);
  const { layers, heads, kvHeads, headDim, ropeTheta } = model.config;
  const store = new KvBlockStore({ modelId, shape: { layers, kvHeads, headDim }, memoryBytes: 8 * 2 ** 30, dir: null, diskBytes: 0 });
  const gen = BlockAttentionGenerator.create(model, { store, modelId });
  const runner = new GeneratorQuestionPass(gen, modelId);
  const rng = new SeededRandom(1, 'bench-probe');
  const d = layers * heads;
  const probe = Probe.create({
    ...{ modelId, attentionMode: 'blocks', templateId: gen.template.id, layout: { layers, heads } },
    mean: Array.from({ length: d }, () => 1e-3),
    scale: Array.from({ length: d }, () => 1e-3),
    coef: Array.from({ length: d }, () => rng.normal() * 0.1),
    intercept: 0,
    C: 1,
    cv: [],
    trainedOn: { examples: 0, positives: 0, negatives: 0 },
  });
  const prefixTokens = (await gen.prefix()).tokens.length;
  const finalTokens = gen.finalTokens(QUESTION);
  const all = essayChunks(opts.dataDir ?? path.resolve('..', 'shared', 'data'), model, blockTokens, Math.max(...contexts) + blockTokens * 2);
  const rendered = all.map((c) => gen.render(c));

  const fetchAndAssemble = async (n: number): Promise<{ blocks: BlockKv[]; assembled: AssembledContext }> => {
    const blocks: BlockKv[] = [];
    for (const r of rendered.slice(0, n)) blocks.push(await gen.blockKv(r));
    if (blocks.some((b) => b.source !== 'memory')) throw new Error('bench expects every block warm in memory');
    return { blocks, assembled: await gen.assemble(blocks) };
  };

  const results: CompressContextResult[] = [];
  try {
    for (const contextTokens of contexts) {
      let used = prefixTokens + finalTokens.length;
      let n = 0;
      while (n < rendered.length && used + rendered[n].tokens.length <= contextTokens) used += rendered[n++].tokens.length;
      for (const r of rendered.slice(0, n)) await gen.blockKv(r); // warm the memory tier (not timed)
      const sentences = rendered.slice(0, n).reduce((s, r) => s + r.sentences.length, 0);
      const t = { ttft: [] as number[], assemble: [] as number[], qpass: [] as number[], tapsPass: [] as number[], scoring: [] as number[], probe: [] as number[] };
      const comp = keepRatios.map(() => ({ ttft: [] as number[], kept: 0, assemble: [] as number[], probe: [] as number[], reassemble: [] as number[], qpass: [] as number[] }));
      for (let run = 0; run < runs; run++) {
        // Baseline: blocks mode, no compression.
        let t0 = performance.now();
        const base = await fetchAndAssemble(n);
        const t1 = performance.now();
        const pass = await gen.questionPass(base.assembled, finalTokens);
        argmax(pass.logits);
        const t2 = performance.now();
        t.ttft.push(t2 - t0);
        t.assemble.push(t1 - t0);
        t.qpass.push(t2 - t1);

        // Compressed, per keep ratio: the probe runs on the full assembled context, then the kept tokens.
        for (const [ri, keepRatio] of keepRatios.entries()) {
          t0 = performance.now();
          const { blocks, assembled } = await fetchAndAssemble(n);
          const ctx = runner.prepareFrom(assembled, blocks);
          const p0 = performance.now();
          const probed = await runner.ask(ctx, QUESTION, { rows: 'last' });
          const p1 = performance.now();
          const scores = blockSentenceFeatures(probed).map((block) => block.map((f) => probe.score(f)));
          const plan = planCompression(ctx.blocks, scores, { keepRatio });
          const p2 = performance.now();
          const small: AssembledContext =
            reassemble === 'assemble' ? await gen.assemble(blocks, { keep: plan.keepTokens }) : { ...assembled, kv: compressKv(assembled.kv, ctx.blocks, plan.keepSentences, ropeTheta).kv, layout: [] };
          const p3 = performance.now();
          const out = await gen.questionPass(small, finalTokens);
          argmax(out.logits);
          const t3 = performance.now();
          comp[ri].ttft.push(t3 - t0);
          comp[ri].assemble.push(p0 - t0);
          comp[ri].probe.push(p2 - p0);
          comp[ri].reassemble.push(p3 - p2);
          comp[ri].qpass.push(t3 - p3);
          comp[ri].kept = small.kv.length - prefixTokens;
          if (ri === 0) {
            t.tapsPass.push(p1 - p0);
            t.scoring.push(p2 - p1);
            t.probe.push(p2 - p0);
          }
          // The raw-attention score is the probe-free fallback; computed once to keep it exercised.
          if (run === 0 && ri === 0) rawAttentionScore(blockSentenceFeatures(probed)[0][0]);
        }
        log(
          `context ${contextTokens} (${used} tokens, ${n} blocks) run ${run + 1}/${runs}: baseline ${t.ttft[run].toFixed(1)} ms (question pass ${t.qpass[run].toFixed(1)}), ` +
            `probe ${t.probe[run].toFixed(1)} ms, ${keepRatios.map((r, i) => `keep ${r}: ${comp[i].ttft[run].toFixed(1)} ms`).join(', ')}`,
        );
      }
      const baseline = { ttftMs: median(t.ttft), assembleMs: median(t.assemble), questionPassMs: median(t.qpass) };
      results.push({
        contextTokens,
        promptTokens: used,
        blocks: n,
        sentences,
        baseline,
        probe: { questionPassWithTapsMs: median(t.tapsPass), scoringMs: median(t.scoring), totalMs: median(t.probe) },
        compressed: keepRatios.map((keepRatio, i) => ({
          keepRatio,
          keptTokens: comp[i].kept,
          ttftMs: median(comp[i].ttft),
          parts: { assembleMs: median(comp[i].assemble), probeMs: median(comp[i].probe), reassembleMs: median(comp[i].reassemble), questionPassMs: median(comp[i].qpass) },
          extraInQuestionPasses: (median(comp[i].ttft) - baseline.ttftMs) / baseline.questionPassMs,
        })),
      });
    }
  } finally {
    await model.release();
  }
  return { model: path.basename(modelDir), reassemble, runs, threads, blockTokens, questionTokens: finalTokens.length, results };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const contexts = process.argv[2] ? process.argv[2].split(',').map(Number) : undefined;
  const runs = process.argv[3] ? Number(process.argv[3]) : undefined;
  const reassemble = process.argv[4] === 'assemble' ? 'assemble' : 'compressKv';
  runCompressBench({ contexts, runs, reassemble }).then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
}
