import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DecoderModel } from '../model/DecoderModel.js';
import { ensureBenchModel, essayChunks } from './essayBlocks.js';
import { median } from '../infra/stats.js';
import { BlockAttentionGenerator, modelIdentity, type GeneratorMode } from '../generator/BlockAttentionGenerator.js';
import { KvBlockStore } from '../generator/KvBlockStore.js';
import { AskPipeline, STAGES, type AskRun, type StageName } from '../ask/AskPipeline.js';
import { askResponse } from '../ask/AskResponse.js';
import { runDecodeBench, type DecodeReport } from './decode.js';

/**
 * Time to first token of the served ask pipeline (ask/AskPipeline.ts, with the essay chunks as given passages:
 * render, fetch KV, assemble, final pass, first sampled token) in blocks mode against full prefill, on a real model
 * shape (weights are random; compute cost does not depend on them). Modes: `full` (prefix cached, everything else
 * prefilled), `blocks-warm` (all blocks in the memory tier), `blocks-disk` (memory tier empty, blocks on disk),
 * `blocks-cold` (nothing cached: every block computed after the prefix, then assembled).
 */
export type TtftMode = 'full' | 'blocks-warm' | 'blocks-disk' | 'blocks-cold';

export interface TtftBenchOptions {
  /** Model folder; default models/test/smollm2-135m (built there if absent). */
  modelDir?: string;
  /** Folder holding pg-essays/. */
  dataDir?: string;
  contexts?: number[];
  runs?: number;
  blockTokens?: number;
  intraOpThreads?: number;
  log?: (msg: string) => void;
  /** Contexts to measure decode speed at (after the TTFT runs); [] = none. Default [2048]. */
  decodeContexts?: number[];
}

export interface TtftResult {
  contextTokens: number;
  /** Tokens of the whole prompt actually run (prefix + blocks + question block). */
  promptTokens: number;
  blocks: number;
  mode: TtftMode;
  /** Median over runs. */
  ttftMs: number;
  runsMs: number[];
  /** Medians of the stages before the first token: render + block fetch/compute + assembly, and the final pass. */
  assembleMs: number;
  questionPrefillMs: number;
  /** Median ms of every pipeline stage up to the first token (the waterfall), and the first token's own share (sampling). */
  stagesMs: Record<StageName, number>;
  /** Where the bench's own load average stood when this context's runs ended (1-minute). */
  loadAverage: number;
}

export interface TtftReport {
  model: string;
  runs: number;
  threads: number;
  blockTokens: number;
  questionTokens: number;
  results: TtftResult[];
  /**
   * Per context: each blocks mode's median TTFT / full's, and the compute floor beside them: question tokens /
   * context tokens (a pass over the question block alone, every context token reused).
   */
  ratios: { contextTokens: number; warm: number; disk: number; cold: number; floor: number; assemblyOverQuestionPass: number }[];
  /** Generation speed after the first token (tokens/s at 1, 64 and 256 generated tokens), from `rag bench decode`'s code. */
  decode: DecodeReport | null;
  loadAverage: { before: number; after: number; cores: number };
}

// 29 tokens with the test models' tokenizer (the final block adds the template's question label and answer cue).
const QUESTION = 'What does the author say is the main reason startups fail, and what should founders do?';



export async function runTtftBench(opts: TtftBenchOptions = {}): Promise<TtftReport> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const loadBefore = Number(os.loadavg()[0].toFixed(2));
  const modelDir = ensureBenchModel(opts.modelDir, log);
  const contexts = opts.contexts ?? [2048, 8192];
  const runs = opts.runs ?? 3;
  const blockTokens = opts.blockTokens ?? 200;
  const threads = opts.intraOpThreads ?? 0;
  const model = await DecoderModel.load(modelDir, { intraOpThreads: threads });
  const modelId = modelIdentity(model);
  const { layers, kvHeads, headDim } = model.config;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ttft-'));
  const newGenerator = (): BlockAttentionGenerator => {
    fs.rmSync(work, { recursive: true, force: true });
    const store = new KvBlockStore({ modelId, shape: { layers, kvHeads, headDim }, memoryBytes: 8 * 2 ** 30, dir: work, diskBytes: 32 * 2 ** 30 });
    return BlockAttentionGenerator.create(model, { store, modelId });
  };
  const probe = newGenerator();
  const prefixTokens = (await probe.prefix()).tokens.length;
  const questionTokens = probe.finalTokens(QUESTION).length;
  const all = essayChunks(opts.dataDir ?? path.resolve('..', 'shared', 'data'), model, blockTokens, Math.max(...contexts) + blockTokens * 2);
  const rendered = all.map((c) => probe.render(c).tokens.length);

  const results: TtftResult[] = [];
  try {
    for (const contextTokens of contexts) {
      // As many blocks as fit with the prefix and the question block in the context.
      let used = prefixTokens + questionTokens;
      let n = 0;
      while (n < all.length && used + rendered[n] <= contextTokens) used += rendered[n++];
      const chunks = all.slice(0, n);
      const times: Record<TtftMode, number[]> = { full: [], 'blocks-warm': [], 'blocks-disk': [], 'blocks-cold': [] };
      const stages: Record<TtftMode, { assembleMs: number[]; questionPrefillMs: number[]; trace: Record<StageName, number>[] }> = {
        full: { assembleMs: [], questionPrefillMs: [], trace: [] },
        'blocks-warm': { assembleMs: [], questionPrefillMs: [], trace: [] },
        'blocks-disk': { assembleMs: [], questionPrefillMs: [], trace: [] },
        'blocks-cold': { assembleMs: [], questionPrefillMs: [], trace: [] },
      };
      const modeOf = { memory: 'blocks-warm', disk: 'blocks-disk', computed: 'blocks-cold', full: 'full' } as const;
      const ttft = async (gen: BlockAttentionGenerator, mode: GeneratorMode, expect: 'memory' | 'disk' | 'computed' | null): Promise<number> => {
        const run: AskRun = await new AskPipeline({ generator: gen }).run({ question: QUESTION, passages: chunks, mode, maxTokens: 1 });
        const r = askResponse(run);
        const c = r.cache;
        const ok = expect === null || (expect === 'computed' ? c.misses === n : (expect === 'memory' ? c.memoryHits : c.diskHits) === n);
        if (!ok) throw new Error(`expected every block from ${expect}, got ${JSON.stringify(c)}`);
        if (r.usage.promptTokens !== used) throw new Error(`prompt of ${r.usage.promptTokens} tokens, expected ${used}`);
        const st = stages[modeOf[expect ?? 'full']];
        st.assembleMs.push(r.timings.assembleMs);
        st.questionPrefillMs.push(r.timings.questionPrefillMs);
        st.trace.push(Object.fromEntries(STAGES.map((name) => [name, run.trace.filter((x) => x.stage === name).reduce((m, x) => m + x.ms, 0)])) as Record<StageName, number>);
        if (r.timings.firstTokenMs === null) throw new Error('no token was sampled');
        return r.timings.firstTokenMs;
      };
      for (let run = 0; run < runs; run++) {
        const gen = newGenerator();
        await gen.prefix(); // computed once per model + template in a running service
        times['blocks-cold'].push(await ttft(gen, 'blocks', 'computed'));
        await gen.store.flush();
        gen.store.clearMemory();
        times['blocks-disk'].push(await ttft(gen, 'blocks', 'disk'));
        times['blocks-warm'].push(await ttft(gen, 'blocks', 'memory'));
        times.full.push(await ttft(gen, 'full', null));
        log(`context ${contextTokens} (${used} tokens, ${n} blocks) run ${run + 1}/${runs}: ${Object.entries(times).map(([m, t]) => `${m} ${t[t.length - 1].toFixed(1)} ms`).join(', ')}`);
      }
      for (const mode of ['full', 'blocks-warm', 'blocks-disk', 'blocks-cold'] as TtftMode[]) {
        const stagesMs = Object.fromEntries(STAGES.map((name) => [name, median(stages[mode].trace.map((t) => t[name]))])) as Record<StageName, number>;
        results.push({
          contextTokens,
          promptTokens: used,
          blocks: n,
          mode,
          ttftMs: median(times[mode]),
          runsMs: times[mode],
          assembleMs: median(stages[mode].assembleMs),
          questionPrefillMs: median(stages[mode].questionPrefillMs),
          stagesMs,
          loadAverage: Number(os.loadavg()[0].toFixed(2)),
        });
      }
      // Each context's results as soon as they exist: a long run that dies later (e.g. out of memory at 8K) keeps them.
      log(JSON.stringify(results.filter((r) => r.contextTokens === contextTokens)));
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    await model.release();
  }
  const ratios = contexts.map((contextTokens) => {
    const of = (mode: TtftMode): TtftResult => results.find((r) => r.contextTokens === contextTokens && r.mode === mode) as TtftResult;
    const m = (mode: TtftMode): number => of(mode).ttftMs;
    const warm = of('blocks-warm').stagesMs;
    return {
      contextTokens,
      warm: m('blocks-warm') / m('full'),
      disk: m('blocks-disk') / m('full'),
      cold: m('blocks-cold') / m('full'),
      floor: questionTokens / of('full').promptTokens,
      assemblyOverQuestionPass: warm.assemble / warm.finalPass,
    };
  });
  const decodeContexts = opts.decodeContexts ?? [2048];
  const decode = decodeContexts.length ? await runDecodeBench({ modelDir, dataDir: opts.dataDir, contexts: decodeContexts, intraOpThreads: threads, blockTokens, log }) : null;
  return { model: path.basename(modelDir), runs, threads, blockTokens, questionTokens, results, ratios, decode, loadAverage: { before: loadBefore, after: Number(os.loadavg()[0].toFixed(2)), cores: os.cpus().length } };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const contexts = process.argv[2] ? process.argv[2].split(',').map(Number) : undefined;
  const runs = process.argv[3] ? Number(process.argv[3]) : undefined;
  runTtftBench({ contexts, runs }).then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
}
