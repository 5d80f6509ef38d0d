/**
 * Prefill timing of the decoder runtime: N tokens in one forward pass with logits for the last position
 * only, for all positions, and none; plus whether leaving `logits` out of the fetches (on the export itself,
 * without the runtime's logits selector) makes onnxruntime skip the vocabulary projection. Prints JSON only.
 *
 *   node dist/bench/prefill.js [--model models/test/smollm2-135m] [--tokens 2048] [--repeats 3] [--threads 2]
 */
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { DecoderModel, type LogitsMode } from '../model/DecoderModel.js';
import { median } from '../infra/stats.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}


interface Timing {
  median: number;
  min: number;
  runs: number[];
  /** Process CPU time (all onnxruntime threads) per run: less sensitive than wall time to other load on the machine. */
  cpuMedian: number;
  cpuRuns: number[];
}

async function time(repeats: number, run: () => Promise<unknown>): Promise<Timing> {
  const runs: number[] = [];
  const cpuRuns: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const c = process.cpuUsage();
    const s = performance.now();
    await run();
    runs.push(Math.round(performance.now() - s));
    const used = process.cpuUsage(c);
    cpuRuns.push(Math.round((used.user + used.system) / 1000));
  }
  return { median: median(runs), min: Math.min(...runs), runs, cpuMedian: median(cpuRuns), cpuRuns };
}

async function main(): Promise<void> {
  const dir = path.resolve(arg('model', 'models/test/smollm2-135m'));
  const tokens = Number(arg('tokens', '2048'));
  const repeats = Number(arg('repeats', '3'));
  const threads = Number(arg('threads', '2'));
  const t0 = performance.now();
  const model = await DecoderModel.load(dir, { intraOpThreads: threads });
  const loadMs = performance.now() - t0;
  const { layers, kvHeads, headDim, vocabSize } = model.config;
  // Deterministic token ids spread over the tokenizer's range.
  const ids = Array.from({ length: tokens }, (_, i) => (i * 7919 + 13) % Math.min(vocabSize, 1000));
  const positions = Array.from({ length: tokens }, (_, i) => i);
  await model.forward(ids.slice(0, 16), positions.slice(0, 16), null, { logits: 'last' }); // warm-up

  const modes: LogitsMode[] = ['last', 'all', 'none'];
  const prefillMs: Record<string, Timing> = {};
  for (const mode of modes) prefillMs[mode] = await time(repeats, () => model.forward(ids, positions, null, { logits: mode }));
  await model.release();

  // Raw session on the export (no logits selector, as real exports have none): all logits computed; fetch them or not.
  const session = await ort.InferenceSession.create(path.join(dir, 'onnx', 'model.onnx'), { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, tokens]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(tokens).fill(1n), [1, tokens]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(positions.map(BigInt)), [1, tokens]),
  };
  for (let i = 0; i < layers; i++) {
    for (const kind of ['key', 'value']) feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
  }
  const presents = Array.from({ length: layers }, (_, i) => [`present.${i}.key`, `present.${i}.value`]).flat();
  const fetchMs: Record<string, Timing> = {};
  fetchMs.keepAll_fetchLogits = await time(repeats, () => session.run(feeds, ['logits', ...presents]));
  fetchMs.keepAll_noLogitsFetch = await time(repeats, () => session.run(feeds, presents));
  await session.release();

  process.stdout.write(
    JSON.stringify(
      {
        model: dir,
        shape: model.config,
        tokens,
        repeats,
        intraOpThreads: threads,
        loadMs: Math.round(loadMs),
        prefillMs,
        rawSessionFetchMs: fetchMs,
        notes: "prefillMs.last/none project one row through the runtime's logits selector; rawSessionFetchMs runs the export itself (every row projected) and differs only in the fetch list",
      },
      null,
      2,
    ) + '\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
