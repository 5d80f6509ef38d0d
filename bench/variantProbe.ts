/**
 * One export variant measured in a process of its own (so RSS figures are this variant's alone): rewrite and load,
 * a 2,048-token block prefill (peak RSS and throughput), the question pass over ~2K tokens of warm blocks (plain and
 * with last-row attention taps), and time to first token warm (blocks) and full. Prints JSON only.
 *
 *   node dist/bench/variantProbe.js --model DIR [--dtype q4] [--tokens 2048] [--data ../shared/data] [--threads 0]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BlockAttentionGenerator, type BlockKv } from '../generator/BlockAttentionGenerator.js';
import { DecoderModel } from '../model/DecoderModel.js';
import type { DecoderDtype } from '../infra/decoderDtypes.js';
import { chooseDecoderFile, filesOfDecoder } from '../model/ModelFiles.js';
import { prepareRuntimeGraph } from '../model/onnx/RuntimeGraph.js';
import { essayChunks } from './essayBlocks.js';
import type { BlockSource } from '../generator/BlockRenderer.js';
import { median } from '../infra/stats.js';
import { AskPipeline } from '../ask/AskPipeline.js';
import { askResponse } from '../ask/AskResponse.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const MIB = 2 ** 20;

/** Resident set now and its high-water mark since the last reset (Linux /proc; the reset is clear_refs 5). */
function rss(): { rss: number; peak: number } {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string): number => Number(/(\d+) kB/.exec(status.split('\n').find((l) => l.startsWith(key)) ?? '')?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS:'), peak: kb('VmHWM:') };
}

function resetPeak(): void {
  fs.writeFileSync('/proc/self/clear_refs', '5');
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await run();
  return { ms: performance.now() - t0, value };
}

const QUESTION = 'What does the author say is the main reason startups fail, and what should founders do?';

async function main(): Promise<void> {
  const dir = path.resolve(arg('model', ''));
  const dtypeArg = arg('dtype', '');
  const dtype = dtypeArg ? (dtypeArg as DecoderDtype) : undefined;
  const tokens = Number(arg('tokens', '2048'));
  const threads = Number(arg('threads', '0'));
  const runs = Number(arg('runs', '2'));
  const dataDir = path.resolve(arg('data', path.join('..', 'shared', 'data')));
  const file = chooseDecoderFile(dir, dtype).file;
  const listing = fs.readdirSync(path.join(dir, path.dirname(file))).map((f) => path.posix.join(path.posix.dirname(file), f));
  const fileBytes = filesOfDecoder(file, listing).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  const loadAverage = [os.loadavg()[0]];

  // The one-time rewrite (cached next to the export), then the load the service does.
  const rewrite = await timed(async () => prepareRuntimeGraph(path.join(dir, file), { taps: true }));
  const beforeLoad = rss();
  resetPeak();
  const load = await timed(() => DecoderModel.load(dir, { onnxFile: file, taps: true, intraOpThreads: threads }));
  const model = load.value;
  const afterLoad = rss();

  const gen = BlockAttentionGenerator.create(model);
  const prefix = await gen.prefix();
  const P = prefix.tokens.length;
  // A 2,048-token block after the prefix: what the prefill queue runs per chunk, at the length the target names.
  const ids = Array.from({ length: tokens }, (_, i) => (i * 7919 + 13) % Math.min(model.config.vocabSize, 4000));
  resetPeak();
  const prefill = await timed(() => model.forward(ids, Array.from({ length: tokens }, (_, i) => P + i), prefix.kv, { logits: 'none' }));
  const prefillPeak = rss().peak;

  // ~2K tokens of essay blocks, computed once (warm in the memory tier), then the question pass and TTFT.
  const chunks: BlockSource[] = [];
  let have = 0;
  for (const c of essayChunks(dataDir, model, 256, tokens)) {
    if (have >= tokens) break;
    chunks.push(c);
    have += gen.render(c).tokens.length;
  }
  for (const c of chunks) await gen.blockKv(gen.render(c));
  const fin = gen.finalTokens(QUESTION);
  const assembleMs: number[] = [];
  const plainMs: number[] = [];
  const tappedMs: number[] = [];
  const warmMs: number[] = [];
  const fullMs: number[] = [];
  let contextTokens = 0;
  for (let r = 0; r < runs; r++) {
    const blocks: BlockKv[] = [];
    for (const c of chunks) blocks.push(await gen.blockKv(gen.render(c)));
    const a = await timed(() => gen.assemble(blocks));
    assembleMs.push(a.ms);
    contextTokens = a.value.kv.length;
    plainMs.push((await timed(() => gen.questionPass(a.value, fin))).ms);
    const start = a.value.kv.length;
    tappedMs.push((await timed(() => model.forward(fin, fin.map((_, i) => start + i), a.value.kv, { logits: 'last', attentions: 'last', present: 'all' }))).ms);
    // Time to first token through the ask pipeline the service runs (blocks warm in the memory tier; full prefill).
    const ask = async (mode: 'blocks' | 'full') => askResponse(await new AskPipeline({ generator: gen }).run({ question: QUESTION, passages: chunks, mode, maxTokens: 1 })).timings.firstTokenMs ?? NaN;
    warmMs.push(await ask('blocks'));
    fullMs.push(await ask('full'));
  }
  loadAverage.push(os.loadavg()[0]);
  const weightBytes = fileBytes;
  const result = {
    dir,
    file,
    variant: model.export.variant,
    family: model.export.family,
    kvDtype: model.kvDtype,
    positions: model.positions,
    taps: model.export.taps.mode,
    fileMiB: fileBytes / MIB,
    rewriteMs: rewrite.ms,
    rewriteCached: rewrite.value.cached,
    loadMs: load.ms,
    rssAfterLoadMiB: afterLoad.rss / MIB,
    loadPeakMiB: afterLoad.peak / MIB,
    rssBeforeLoadMiB: beforeLoad.rss / MIB,
    prefill: {
      tokens,
      ms: prefill.ms,
      tokensPerSecond: tokens / (prefill.ms / 1000),
      peakRssMiB: prefillPeak / MIB,
      /** Target: <= 1.5 (peak RSS of the process during the prefill, over the export's weight bytes). */
      peakOverWeights: prefillPeak / weightBytes,
    },
    questionPass: {
      contextTokens,
      questionTokens: fin.length,
      blocks: chunks.length,
      assembleMs: median(assembleMs),
      plainMs: median(plainMs),
      tappedLastRowMs: median(tappedMs),
      tappedOverPlain: median(tappedMs) / median(plainMs),
    },
    ttft: { warmMs: median(warmMs), fullMs: median(fullMs), warmRuns: warmMs, fullRuns: fullMs },
    loadAverage,
  };
  await model.release();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`variantProbe: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
