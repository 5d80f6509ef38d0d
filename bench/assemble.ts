import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DecoderModel } from '../model/DecoderModel.js';
import { BlockAttentionGenerator, modelIdentity } from '../generator/BlockAttentionGenerator.js';
import { KvBlockStore } from '../generator/KvBlockStore.js';
import { median } from '../infra/stats.js';
import { ensureBenchModel, essayChunks, fitBlocks } from './essayBlocks.js';

/**
 * The stages before the question pass, timed on the generator's own calls (the ones the served path makes) against
 * the question pass they feed, in one run: fetching every block from the disk tier (`blockKvs` with the memory tier
 * emptied) and from memory, assembling them at contiguous positions (`assemble`: the concatenation the question pass
 * feeds; the keys are rotated to their slots inside the question pass's session, so that time is in the question
 * pass), the question pass; at the contexts in `fullAt`, a full prefill too, for the TTFT ratios of the issue targets.
 * Each stage also reports process CPU time and minor page faults: wall time on a shared machine includes waiting.
 */
export interface AssembleBenchOptions {
  modelDir?: string;
  dataDir?: string;
  contexts?: number[];
  /** Contexts at which a full prefill is timed too (slow: the baseline the blocks modes are compared with). */
  fullAt?: number[];
  runs?: number;
  blockTokens?: number;
  intraOpThreads?: number;
  log?: (msg: string) => void;
}

export interface StageTiming {
  /** Medians over runs. */
  wallMs: number;
  cpuMs: number;
  pageFaults: number;
  runsMs: number[];
}

export interface AssembleResult {
  contextTokens: number;
  promptTokens: number;
  blocks: number;
  stages: {
    diskFetch: StageTiming;
    memoryFetch: StageTiming;
    assemble: StageTiming;
    questionPass: StageTiming;
    full?: StageTiming;
  };
  /** Medians of per-run ratios (each run's stages divided by that run's question pass, or by the median full). */
  ratios: {
    assembleOverQuestionPass: number;
    diskFetchOverQuestionPass: number;
    /** (fetch + assemble + question pass) / full, the TTFT ratios without sampling the first token. */
    warmOverFull?: number;
    diskOverFull?: number;
  };
}

export interface AssembleReport {
  model: string;
  runs: number;
  questionTokens: number;
  /** 1-minute load average before and after: the machine is shared. */
  loadAverage: { before: number; after: number; cores: number };
  results: AssembleResult[];
}

const QUESTION = 'What does the author say is the main reason startups fail, and what should founders do?';

interface Sample {
  wallMs: number;
  cpuMs: number;
  pageFaults: number;
}

async function measure<T>(run: () => Promise<T>): Promise<{ value: T; sample: Sample }> {
  const r0 = process.resourceUsage();
  const t0 = performance.now();
  const value = await run();
  const wallMs = performance.now() - t0;
  const r1 = process.resourceUsage();
  return { value, sample: { wallMs, cpuMs: (r1.userCPUTime - r0.userCPUTime + r1.systemCPUTime - r0.systemCPUTime) / 1000, pageFaults: r1.minorPageFault - r0.minorPageFault } };
}

const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

function summarise(samples: Sample[]): StageTiming {
  return {
    wallMs: round(median(samples.map((s) => s.wallMs))),
    cpuMs: round(median(samples.map((s) => s.cpuMs))),
    pageFaults: Math.round(median(samples.map((s) => s.pageFaults))),
    runsMs: samples.map((s) => round(s.wallMs)),
  };
}

export async function runAssembleBench(opts: AssembleBenchOptions = {}): Promise<AssembleReport> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const loadBefore = os.loadavg()[0];
  const modelDir = ensureBenchModel(opts.modelDir, log);
  const contexts = opts.contexts ?? [2048, 4096, 8192];
  const fullAt = new Set(opts.fullAt ?? [2048]);
  const runs = opts.runs ?? 3;
  const blockTokens = opts.blockTokens ?? 200;
  const model = await DecoderModel.load(modelDir, { intraOpThreads: opts.intraOpThreads ?? 0 });
  const modelId = modelIdentity(model);
  const { layers, kvHeads, headDim } = model.config;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'assemble-bench-'));
  const store = new KvBlockStore({ modelId, shape: { layers, kvHeads, headDim }, memoryBytes: 8 * 2 ** 30, dir: work, diskBytes: 32 * 2 ** 30 });
  const gen = BlockAttentionGenerator.create(model, { store, modelId });
  const results: AssembleResult[] = [];
  let questionTokens = 0;
  try {
    const prefix = await gen.prefix();
    const finalTokens = gen.finalTokens(QUESTION);
    questionTokens = finalTokens.length;
    const all = essayChunks(opts.dataDir ?? path.resolve('..', 'shared', 'data'), model, blockTokens, Math.max(...contexts) + blockTokens * 2).map((c) => gen.render(c));
    for (const contextTokens of contexts) {
      const { rendered, promptTokens: used } = fitBlocks(all, contextTokens, prefix.tokens.length + finalTokens.length);
      log(`context ${contextTokens}: ${rendered.length} blocks, ${used} prompt tokens; computing blocks`);
      await gen.blockKvs(rendered);
      await store.flush();
      // Warm-up: sessions (decoder and kernels) and allocator pools reach their steady state.
      await gen.questionPass(await gen.assemble(await gen.blockKvs(rendered)), finalTokens);

      const samples: Record<'diskFetch' | 'memoryFetch' | 'assemble' | 'questionPass' | 'full', Sample[]> = { diskFetch: [], memoryFetch: [], assemble: [], questionPass: [], full: [] };
      for (let run = 0; run < runs; run++) {
        store.clearMemory();
        const disk = await measure(() => gen.blockKvs(rendered));
        if (disk.value.some((b) => b.source !== 'disk')) throw new Error(`expected every block from disk, got ${disk.value.map((b) => b.source).join(',')}`);
        samples.diskFetch.push(disk.sample);
        const memory = await measure(() => gen.blockKvs(rendered));
        if (memory.value.some((b) => b.source !== 'memory')) throw new Error('expected every block from memory');
        samples.memoryFetch.push(memory.sample);
        const assembled = await measure(() => gen.assemble(memory.value));
        samples.assemble.push(assembled.sample);
        const pass = await measure(() => gen.questionPass(assembled.value, finalTokens));
        if (pass.value.start + pass.value.tokens.length !== used) throw new Error(`prompt of ${pass.value.start + pass.value.tokens.length} tokens, expected ${used}`);
        samples.questionPass.push(pass.sample);
        if (fullAt.has(contextTokens)) samples.full.push((await measure(() => gen.fullPass(rendered, finalTokens))).sample);
        const last = (k: keyof typeof samples): string => (samples[k].length ? samples[k][samples[k].length - 1].wallMs.toFixed(0) : '-');
        log(`context ${contextTokens} run ${run + 1}/${runs}: disk ${last('diskFetch')} ms, memory ${last('memoryFetch')} ms, assemble ${last('assemble')} ms, question pass ${last('questionPass')} ms, full ${last('full')} ms`);
      }
      const perRun = (f: (i: number) => number): number => round(median(samples.questionPass.map((_, i) => f(i))), 4);
      const q = (i: number): number => samples.questionPass[i].wallMs;
      const full = samples.full.length ? median(samples.full.map((s) => s.wallMs)) : null;
      const result: AssembleResult = {
        contextTokens,
        promptTokens: used,
        blocks: rendered.length,
        stages: {
          diskFetch: summarise(samples.diskFetch),
          memoryFetch: summarise(samples.memoryFetch),
          assemble: summarise(samples.assemble),
          questionPass: summarise(samples.questionPass),
          ...(full !== null ? { full: summarise(samples.full) } : {}),
        },
        ratios: {
          assembleOverQuestionPass: perRun((i) => samples.assemble[i].wallMs / q(i)),
          diskFetchOverQuestionPass: perRun((i) => samples.diskFetch[i].wallMs / q(i)),
          ...(full !== null
            ? {
                warmOverFull: perRun((i) => (samples.memoryFetch[i].wallMs + samples.assemble[i].wallMs + q(i)) / full),
                diskOverFull: perRun((i) => (samples.diskFetch[i].wallMs + samples.assemble[i].wallMs + q(i)) / full),
              }
            : {}),
        },
      };
      results.push(result);
      log(JSON.stringify(result.ratios));
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    await model.release();
  }
  return { model: path.basename(modelDir), runs, questionTokens, loadAverage: { before: round(loadBefore, 2), after: round(os.loadavg()[0], 2), cores: os.cpus().length }, results };
}
