import os from 'node:os';
import * as ort from 'onnxruntime-node';
import path from 'node:path';
import { DecoderModel } from '../model/DecoderModel.js';
import type { KvCache } from '../model/kv/KvCache.js';
import { BlockAttentionGenerator } from '../generator/BlockAttentionGenerator.js';
import { median } from '../infra/stats.js';
import { ensureBenchModel, essayChunks, fitBlocks } from './essayBlocks.js';

/**
 * Decode speed after the first token: the generator's own `generate` (what the server streams from), after an
 * assembled question pass over warm blocks, timed per generated token. Reports tokens/s around the 1st, 64th and
 * 256th generated token, and splits each step into the model's forward pass (onnxruntime plus the binding's copy of
 * every output) and everything else (sampling, detokenizing, the generator's own work), so a per-token cost that
 * grows with the tokens already generated shows up in one of the two. `kvBytesOutPerStep` is the KV that leaves
 * onnxruntime per step: the new token's only when the generator decodes in a KvBuffer (the whole past + new with the
 * optimum decoder I/O as exported, which `outputCopy` prices on a plain session of the shipped file).
 */
export interface DecodeBenchOptions {
  modelDir?: string;
  dataDir?: string;
  contexts?: number[];
  tokens?: number;
  blockTokens?: number;
  intraOpThreads?: number;
  log?: (msg: string) => void;
}

export interface DecodeWindow {
  /** Generated-token index the window is centred on (1 = the step after the first token). */
  around: number;
  /** The steps timed: [first, last], 1-based. */
  steps: [number, number];
  tokensPerSecond: number;
  stepMs: number;
  forwardMs: number;
  otherMs: number;
  kvBytesOutPerStep: number;
}

/**
 * One decode step on a plain onnxruntime session of the same model and past, with and without fetching the present
 * KV: the difference is what copying the whole KV out of onnxruntime costs per token (the binding copies every
 * fetched output into a fresh ArrayBuffer), i.e. what a decoder I/O that returns only the new token's KV saves.
 */
export interface OutputCopyProbe {
  stepWithPresentMs: number;
  stepLogitsOnlyMs: number;
  presentCopyShare: number;
}

export interface DecodeResult {
  contextTokens: number;
  outputCopy: OutputCopyProbe;
  generated: number;
  finishReason: string;
  firstTokenMs: number;
  windows: DecodeWindow[];
  /** Median step time in the last window over the first: >1 means steps slow down as tokens accumulate. */
  slowdown: number;
  /** Same for the non-forward share of a step (the generator's own per-token work). */
  otherSlowdown: number;
}

export interface DecodeReport {
  model: string;
  loadAverage: { before: number; after: number; cores: number };
  results: DecodeResult[];
}

const QUESTION = 'What does the author say is the main reason startups fail, and what should founders do?';
const WINDOW = 8;
const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

export async function runDecodeBench(opts: DecodeBenchOptions = {}): Promise<DecodeReport> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const loadBefore = os.loadavg()[0];
  const modelDir = ensureBenchModel(opts.modelDir, log);
  const contexts = opts.contexts ?? [2048];
  const tokens = opts.tokens ?? 256;
  const model = await DecoderModel.load(modelDir, { intraOpThreads: opts.intraOpThreads ?? 0 });
  const { layers, kvHeads, headDim } = model.config;
  // Time each forward pass the generator makes (the bench wraps the real method; nothing is replaced).
  const forwardMs: number[] = [];
  const timed = <A extends unknown[], R>(f: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const t0 = performance.now();
      try {
        return await f(...args);
      } finally {
        forwardMs.push(performance.now() - t0);
      }
    };
  model.forward = timed(model.forward.bind(model));
  model.decodeStep = timed(model.decodeStep.bind(model));
  const gen = BlockAttentionGenerator.create(model);
  const results: DecodeResult[] = [];
  try {
    const prefix = await gen.prefix();
    const finalTokens = gen.finalTokens(QUESTION);
    const all = essayChunks(opts.dataDir ?? path.resolve('..', 'shared', 'data'), model, opts.blockTokens ?? 200, Math.max(...contexts) + 400).map((c) => gen.render(c));
    for (const contextTokens of contexts) {
      const { rendered, promptTokens: used } = fitBlocks(all, contextTokens, prefix.tokens.length + finalTokens.length);
      log(`context ${contextTokens}: ${rendered.length} blocks, ${used} prompt tokens`);
      const pass = await gen.questionPass(await gen.assemble(await gen.blockKvs(rendered)), finalTokens);
      forwardMs.length = 0;
      const stamps: number[] = [];
      const run = gen.generate(pass, { maxTokens: tokens + 1 });
      let step = await run.next();
      while (!step.done) {
        stamps.push(performance.now());
        step = await run.next();
      }
      const g = step.value;
      // Step i: from token i to token i+1 (1-based); forwardMs[i-1] is the pass that step ran.
      const steps = stamps.slice(1).map((t, i) => t - stamps[i]);
      const windowAt = (at: number): DecodeWindow | null => {
        const from = Math.max(0, Math.min(at - 1 - WINDOW / 2, steps.length - WINDOW));
        const s = steps.slice(from, from + WINDOW);
        const f = forwardMs.slice(from, from + WINDOW);
        if (s.length === 0) return null;
        const stepMs = median(s);
        const fw = median(f);
        return {
          around: at,
          steps: [from + 1, from + s.length],
          tokensPerSecond: round(1000 / stepMs),
          stepMs: round(stepMs),
          forwardMs: round(fw),
          otherMs: round(median(s.map((x, i) => x - f[i]))),
          // Decoding in a KvBuffer returns the new token's KV only; otherwise the whole past + new comes out.
          kvBytesOutPerStep: layers * 2 * kvHeads * headDim * 4 * (model.decodesInBuffer ? 1 : used + from + WINDOW / 2 + 1),
        };
      };
      const windows = [1, 64, 256].map(windowAt).filter((w): w is DecodeWindow => w !== null);
      const first = windows[0];
      const last = windows[windows.length - 1];
      const result: DecodeResult = {
        contextTokens,
        outputCopy: await probeOutputCopy(model, pass.cache, opts.intraOpThreads ?? 0),
        generated: g.tokenIds.length,
        finishReason: g.finishReason,
        firstTokenMs: round(g.firstTokenMs ?? NaN),
        windows,
        slowdown: round(last.stepMs / first.stepMs, 3),
        otherSlowdown: round(Math.max(last.otherMs, 0.001) / Math.max(first.otherMs, 0.001), 3),
      };
      if (g.tokenIds.length < tokens) log(`context ${contextTokens}: generation stopped after ${g.tokenIds.length} tokens (${g.finishReason})`);
      results.push(result);
      log(JSON.stringify(result));
    }
  } finally {
    await model.release();
  }
  return { model: path.basename(modelDir), loadAverage: { before: round(loadBefore), after: round(os.loadavg()[0]), cores: os.cpus().length }, results };
}

async function probeOutputCopy(model: DecoderModel, past: KvCache, threads: number): Promise<OutputCopyProbe> {
  // The export as shipped (the runtime rewrite adds inputs this probe does not feed).
  const session = await ort.InferenceSession.create(path.join(model.dir, model.onnxFile), { intraOpNumThreads: threads, interOpNumThreads: 1 });
  try {
    const { layers, kvHeads, headDim } = model.config;
    const P = past.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.of(1n), [1, 1]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(P + 1).fill(1n), [1, P + 1]),
    };
    if (session.inputNames.includes('position_ids')) feeds.position_ids = new ort.Tensor('int64', BigInt64Array.of(BigInt(P)), [1, 1]);
    for (const n of ['num_logits_to_keep', 'logits_to_keep']) if (session.inputNames.includes(n)) feeds[n] = new ort.Tensor('int64', BigInt64Array.of(1n), []);
    for (let i = 0; i < layers; i++) {
      feeds[`past_key_values.${i}.key`] = new ort.Tensor('float32', past.layers[i].key, [1, kvHeads, P, headDim]);
      feeds[`past_key_values.${i}.value`] = new ort.Tensor('float32', past.layers[i].value, [1, kvHeads, P, headDim]);
    }
    const presents = Array.from({ length: layers }, (_, i) => [`present.${i}.key`, `present.${i}.value`]).flat();
    const time = async (fetches: string[]): Promise<number> => {
      const t0 = performance.now();
      await session.run(feeds, fetches);
      return performance.now() - t0;
    };
    const withPresent: number[] = [];
    const logitsOnly: number[] = [];
    await time(['logits']);
    for (let r = 0; r < 5; r++) {
      withPresent.push(await time(['logits', ...presents]));
      logitsOnly.push(await time(['logits']));
    }
    const a = median(withPresent);
    const b = median(logitsOnly);
    return { stepWithPresentMs: round(a), stepLogitsOnlyMs: round(b), presentCopyShare: round((a - b) / a, 3) };
  } finally {
    await session.release();
  }
}
