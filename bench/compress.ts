import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DecoderModel } from '../model/DecoderModel.js';
import { ensureBenchModel, essayChunks } from './essayBlocks.js';
import { median } from '../infra/stats.js';
import { SeededRandom } from '../infra/random.js';
import { BlockAttentionGenerator, modelIdentity } from '../generator/BlockAttentionGenerator.js';
import { KvBlockStore } from '../generator/KvBlockStore.js';
import { Probe } from '../compressor/Probe.js';
import { AskPipeline, type AskRun, type StageName } from '../ask/AskPipeline.js';
import { askResponse } from '../ask/AskResponse.js';

/**
 * Cost of Sentinel compression in the served pipeline (compression in the same pass: the served question pass is the
 * tapped one, its last row's attention leaves the session with its logits, the unkept sentences' KV rows are dropped
 * and the rest laid out again, and only the final block re-runs over the kept context): both variants are runs of
 * the ask pipeline the server runs
 * (ask/AskPipeline.ts, the essay chunks as given passages, blocks mode, every block warm in the memory tier, up to
 * the first sampled token), on a real model shape (random weights; compute cost does not depend on them):
 * - `baseline`: no compression: render + fetch KV + assemble + final pass + first token.
 * - `compressed@r`: `compression: probe` at keep ratio r: render + fetch KV + the tapped question pass over the whole
 *   blocks + probe scoring, selection and order + assembly of the kept tokens (`assemble({keep})`) + the final block
 *   re-run over the kept context + first token.
 * Stage times come from the run's own trace. Target: compression costs at most 0.3 extra question passes, i.e.
 * compressed TTFT - baseline TTFT <= 0.3 of the baseline's final pass (issue 19). The probe's weights are seeded random (the bench
 * model is random too): scoring cost does not depend on them.
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
  log?: (msg: string) => void;
}

export interface CompressContextResult {
  contextTokens: number;
  promptTokens: number;
  blocks: number;
  sentences: number;
  /** Medians over runs, ms. assembleMs: render + fetch KV + assemble; questionPassMs: the final pass. */
  baseline: { ttftMs: number; assembleMs: number; questionPassMs: number };
  /** At the first keep ratio: the tapped question pass (whole blocks assembled + final block), and score + select + order. */
  probe: { questionPassWithTapsMs: number; scoringMs: number; totalMs: number };
  /** Tapped question pass stage (assembly + the pass with row-only taps) / the baseline's assembly + plain final pass (target <= 1.1). */
  tappedOverPlain: number;
  /** 1-minute load average when this context's runs ended. */
  loadAverage: number;
  compressed: {
    keepRatio: number;
    keptTokens: number;
    ttftMs: number;
    /** Medians of the stages: render + fetch KV, tapped question pass, score + select + order, assemble the kept tokens, final pass. */
    parts: { fetchMs: number; questionPassMs: number; scoringMs: number; reassembleMs: number; finalPassMs: number };
    /** Compressed TTFT - baseline TTFT, in units of the baseline question pass (target <= 1). */
    extraInQuestionPasses: number;
  }[];
}

export interface CompressBenchReport {
  model: string;
  loadAverage: { before: number; after: number; cores: number };
  runs: number;
  threads: number;
  blockTokens: number;
  questionTokens: number;
  results: CompressContextResult[];
}

const QUESTION = 'What does the author say is the best way for a startup to find its first users, and why does it matter so much?';




/** Milliseconds the run spent in these stages (from its trace). */
const stageMs = (run: AskRun, ...stages: StageName[]): number => run.trace.filter((r) => stages.includes(r.stage)).reduce((n, r) => n + r.ms, 0);

export async function runCompressBench(opts: CompressBenchOptions = {}): Promise<CompressBenchReport> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const loadBefore = Number(os.loadavg()[0].toFixed(2));
  const modelDir = ensureBenchModel(opts.modelDir, log);
  const contexts = opts.contexts ?? [2048, 8192];
  const keepRatios = opts.keepRatios ?? [0.5, 0.2];
  const runs = opts.runs ?? 3;
  const blockTokens = opts.blockTokens ?? 200;
  const threads = opts.intraOpThreads ?? 0;
  const model = await DecoderModel.load(modelDir, { intraOpThreads: threads, taps: true });
  const modelId = modelIdentity(model);
  const { layers, heads, kvHeads, headDim } = model.config;
  const store = new KvBlockStore({ modelId, shape: { layers, kvHeads, headDim }, memoryBytes: 8 * 2 ** 30, dir: null, diskBytes: 0 });
  const gen = BlockAttentionGenerator.create(model, { store, modelId });
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
  const pipeline = new AskPipeline({ generator: gen, probes: { probeFor: () => probe } });
  const prefixTokens = (await gen.prefix()).tokens.length;
  const finalTokens = gen.finalTokens(QUESTION);
  const all = essayChunks(opts.dataDir ?? path.resolve('..', 'shared', 'data'), model, blockTokens, Math.max(...contexts) + blockTokens * 2);
  const rendered = all.map((c) => gen.render(c));

  const ask = async (n: number, compression: { keepRatio: number } | null): Promise<AskRun> => {
    const run = await pipeline.run({ question: QUESTION, passages: all.slice(0, n), mode: 'blocks', maxTokens: 1, ...(compression ? { compression: 'probe', keepRatio: compression.keepRatio } : {}) });
    if (run.cache.memoryHits !== n) throw new Error(`bench expects every block warm in memory, got ${JSON.stringify(run.cache)}`);
    return run;
  };
  const ttftOf = (run: AskRun): number => {
    const t = askResponse(run).timings.firstTokenMs;
    if (t === null) throw new Error('no token was sampled');
    return t;
  };

  const results: CompressContextResult[] = [];
  try {
    for (const contextTokens of contexts) {
      let used = prefixTokens + finalTokens.length;
      let n = 0;
      while (n < rendered.length && used + rendered[n]!.tokens.length <= contextTokens) used += rendered[n++]!.tokens.length;
      for (const r of rendered.slice(0, n)) await gen.blockKv(r); // warm the memory tier (not timed)
      const sentences = rendered.slice(0, n).reduce((s, r) => s + r.sentences.length, 0);
      const t = { ttft: [] as number[], assemble: [] as number[], baseAssemble: [] as number[], qpass: [] as number[], tapsPass: [] as number[], scoring: [] as number[] };
      const comp = keepRatios.map(() => ({ ttft: [] as number[], kept: 0, fetch: [] as number[], qpass: [] as number[], scoring: [] as number[], reassemble: [] as number[], final: [] as number[] }));
      for (let run = 0; run < runs; run++) {
        const base = await ask(n, null);
        t.ttft.push(ttftOf(base));
        t.assemble.push(stageMs(base, 'render', 'fetchKv', 'assemble'));
        t.baseAssemble.push(stageMs(base, 'assemble'));
        t.qpass.push(stageMs(base, 'finalPass'));
        for (const [ri, keepRatio] of keepRatios.entries()) {
          const c = await ask(n, { keepRatio });
          const modelPasses = c.trace.reduce((m, r) => m + r.modelPasses, 0);
          if (modelPasses !== 2) throw new Error(`compressed run made ${modelPasses} model passes, expected the question pass and the final pass`);
          comp[ri]!.ttft.push(ttftOf(c));
          comp[ri]!.kept = c.compression?.keptTokens ?? 0;
          comp[ri]!.fetch.push(stageMs(c, 'render', 'fetchKv'));
          comp[ri]!.qpass.push(stageMs(c, 'questionPass'));
          comp[ri]!.scoring.push(stageMs(c, 'score', 'select', 'order'));
          comp[ri]!.reassemble.push(stageMs(c, 'assemble'));
          comp[ri]!.final.push(stageMs(c, 'finalPass'));
          if (ri === 0) {
            t.tapsPass.push(stageMs(c, 'questionPass'));
            t.scoring.push(stageMs(c, 'score', 'select', 'order'));
          }
        }
        log(
          `context ${contextTokens} (${used} tokens, ${n} blocks) run ${run + 1}/${runs}: baseline ${t.ttft[run]!.toFixed(1)} ms (final pass ${t.qpass[run]!.toFixed(1)}), ` +
            `${keepRatios.map((r, i) => `keep ${r}: ${comp[i]!.ttft[run]!.toFixed(1)} ms (question pass ${comp[i]!.qpass[run]!.toFixed(1)}, final pass ${comp[i]!.final[run]!.toFixed(1)})`).join(', ')}`,
        );
      }
      const baseline = { ttftMs: median(t.ttft), assembleMs: median(t.assemble), questionPassMs: median(t.qpass) };
      const baseAssemble = median(t.baseAssemble);
      results.push({
        contextTokens,
        promptTokens: used,
        blocks: n,
        sentences,
        baseline,
        probe: { questionPassWithTapsMs: median(t.tapsPass), scoringMs: median(t.scoring), totalMs: median(t.tapsPass) + median(t.scoring) },
        tappedOverPlain: median(t.tapsPass) / (baseAssemble + baseline.questionPassMs),
        loadAverage: Number(os.loadavg()[0].toFixed(2)),
        compressed: keepRatios.map((keepRatio, i) => {
          const c = comp[i]!;
          return {
            keepRatio,
            keptTokens: c.kept,
            ttftMs: median(c.ttft),
            parts: { fetchMs: median(c.fetch), questionPassMs: median(c.qpass), scoringMs: median(c.scoring), reassembleMs: median(c.reassemble), finalPassMs: median(c.final) },
            extraInQuestionPasses: (median(c.ttft) - baseline.ttftMs) / baseline.questionPassMs,
          };
        }),
      });
    }
  } finally {
    await model.release();
  }
  return { model: path.basename(modelDir), loadAverage: { before: loadBefore, after: Number(os.loadavg()[0].toFixed(2)), cores: os.cpus().length }, runs, threads, blockTokens, questionTokens: finalTokens.length, results };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const contexts = process.argv[2] ? process.argv[2].split(',').map(Number) : undefined;
  const runs = process.argv[3] ? Number(process.argv[3]) : undefined;
  runCompressBench({ contexts, runs }).then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
}
