import path from 'node:path';
import { AutoModelForCausalLM, Tensor, env } from '@huggingface/transformers';
import { DecoderModel } from '../../model/DecoderModel.js';
import { KvCache } from '../../model/kv/KvCache.js';
import { ReferenceDecoder, maxAbsDiff } from '../support/referenceDecoder.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);
const argmax = (a: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
};
const toF64 = (c: KvCache, l: number) => ({ key: Float64Array.from(c.layers[l].key), value: Float64Array.from(c.layers[l].value) });

describe('DecoderModel on the built tiny model', () => {
  let dir: string;
  let refDir: string;
  let model: DecoderModel;
  let ref: ReferenceDecoder;
  let ids: number[];

  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 11 });
    refDir = buildTempModel('tiny', { seed: 11, referenceMask: true }, 'tiny-refmask');
    model = await DecoderModel.load(dir, { intraOpThreads: 1 });
    ref = ReferenceDecoder.load(dir);
    ids = Array.from(model.tokenizer.encode('The river rises in the hills to the north of the town and runs to the sea.'));
  });

  afterAll(async () => {
    await model.release();
    removeTempModel(dir);
    removeTempModel(refDir);
  });

  it('exposes the decoder shape from config.json', () => {
    expect(model.config).toMatchObject({ modelType: 'qwen2', layers: 2, heads: 4, kvHeads: 2, headDim: 16, hidden: 64, vocabSize: 1024, ropeTheta: 10000, tiedEmbeddings: false });
    expect(ids.length).toBeGreaterThan(10);
  });

  it('agrees with transformers.js on logits and greedy generation', async () => {
    env.allowRemoteModels = false;
    env.localModelPath = path.dirname(dir);
    const hf = await AutoModelForCausalLM.from_pretrained(path.basename(dir), { local_files_only: true });
    const input_ids = new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
    const attention_mask = new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
    const hfOut = (await hf({ input_ids, attention_mask })) as { logits: Tensor };
    const ours = await model.forward(ids, range(0, ids.length), null, { logits: 'all' });
    expect(hfOut.logits.dims).toEqual([1, ids.length, 1024]);
    expect(maxAbsDiff(hfOut.logits.data as Float32Array, ours.logits as Float32Array)).toBeLessThanOrEqual(1e-4);

    const generated = (await hf.generate({ input_ids, attention_mask, max_new_tokens: 12, do_sample: false })) as Tensor;
    const hfTokens = (generated.tolist() as bigint[][])[0].slice(ids.length).map(Number);
    expect(hfTokens.length).toBeGreaterThan(0);
    // Greedy loop over the runtime: prefill, then one token at a time on the growing cache.
    let step = await model.forward(ids, range(0, ids.length), null, { logits: 'last' });
    let cache = step.present;
    const ourTokens: number[] = [];
    while (ourTokens.length < hfTokens.length) {
      const next = argmax(step.logits as Float32Array);
      ourTokens.push(next);
      step = await model.forward([next], [cache.length], cache, { logits: 'last' });
      cache = KvCache.concat([cache, step.present]);
    }
    expect(ourTokens).toEqual(hfTokens);
    await hf.dispose();
  });

  it('prefill in pieces with past KV equals one full prefill', async () => {
    const full = await model.forward(ids, range(0, ids.length), null, { logits: 'all' });
    const V = model.config.vocabSize;
    const cuts = [0, 5, 6, 13, ids.length];
    let cache: KvCache | null = null;
    for (let i = 0; i + 1 < cuts.length; i++) {
      const [a, b] = [cuts[i], cuts[i + 1]];
      const part = await model.forward(ids.slice(a, b), range(a, b - a), cache, { logits: 'all' });
      expect(maxAbsDiff(part.logits as Float32Array, (full.logits as Float32Array).subarray(a * V, b * V))).toBeLessThanOrEqual(1e-4);
      expect(Array.from(part.present.positions)).toEqual(range(a, b - a));
      cache = cache ? KvCache.concat([cache, part.present]) : part.present;
    }
    const pieced = cache as KvCache;
    expect(pieced.length).toBe(ids.length);
    for (let l = 0; l < model.config.layers; l++) {
      expect(maxAbsDiff(pieced.layers[l].key, full.present.layers[l].key)).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(pieced.layers[l].value, full.present.layers[l].value)).toBeLessThanOrEqual(1e-4);
    }
  });

  it('matches the independent float64 reference decoder (logits and KV, with and without past)', async () => {
    const full = await model.forward(ids, range(0, ids.length), null, { logits: 'all' });
    const r = ref.forward(ids, range(0, ids.length), null);
    expect(maxAbsDiff(full.logits as Float32Array, r.logits)).toBeLessThanOrEqual(1e-4);
    for (let l = 0; l < model.config.layers; l++) {
      expect(maxAbsDiff(full.present.layers[l].key, r.layers[l].key)).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(full.present.layers[l].value, r.layers[l].value)).toBeLessThanOrEqual(1e-4);
    }
    // Continuation at non-zero, non-contiguous positions over a supplied past.
    const past = full.present.slice(0, 8);
    const cont = await model.forward(ids.slice(8, 12), [500, 501, 502, 503], past, { logits: 'all' });
    const rc = ref.forward(ids.slice(8, 12), [500, 501, 502, 503], range(0, model.config.layers).map((l) => toF64(past, l)));
    expect(maxAbsDiff(cont.logits as Float32Array, rc.logits)).toBeLessThanOrEqual(1e-4);
    for (let l = 0; l < model.config.layers; l++) expect(maxAbsDiff(cont.present.layers[l].key, rc.layers[l].key)).toBeLessThanOrEqual(1e-4);
    // The check can fail: a wrong position changes the keys well beyond the tolerance.
    const shifted = ref.forward(ids.slice(8, 12), [501, 502, 503, 504], range(0, model.config.layers).map((l) => toF64(past, l)));
    expect(maxAbsDiff(cont.present.layers[0].key, shifted.layers[0].key)).toBeGreaterThan(1e-2);
  });

  it("logits 'last' is the last row of 'all', 'none' returns no logits, KV is the same", async () => {
    const all = await model.forward(ids, range(0, ids.length), null, { logits: 'all' });
    const last = await model.forward(ids, range(0, ids.length), null, { logits: 'last' });
    const none = await model.forward(ids, range(0, ids.length), null, { logits: 'none' });
    const V = model.config.vocabSize;
    expect(last.logits?.length).toBe(V);
    expect(maxAbsDiff(last.logits as Float32Array, (all.logits as Float32Array).subarray((ids.length - 1) * V))).toBeLessThanOrEqual(1e-5);
    expect(none.logits).toBeUndefined();
    expect(maxAbsDiff(none.present.layers[1].key, all.present.layers[1].key)).toBeLessThanOrEqual(1e-6);
  });

  it('the reference variant with a full causal 4-D mask equals the normal model; a block-diagonal mask matches the reference', async () => {
    const refModel = await DecoderModel.load(refDir, { intraOpThreads: 1 });
    try {
      expect(refModel.isReferenceMaskModel).toBe(true);
      const normal = await model.forward(ids, range(0, ids.length), null, { logits: 'all' });
      const masked = await refModel.forward(ids, range(0, ids.length), null, { logits: 'all' });
      expect(maxAbsDiff(normal.logits as Float32Array, masked.logits as Float32Array)).toBeLessThanOrEqual(1e-4);
      for (let l = 0; l < model.config.layers; l++) expect(maxAbsDiff(normal.present.layers[l].key, masked.present.layers[l].key)).toBeLessThanOrEqual(1e-4);

      // Two blocks of 6 tokens that cannot see each other, contiguous positions.
      const S = 12;
      const mask = new Float32Array(S * S).fill(-Infinity);
      for (let i = 0; i < S; i++) for (let j = 0; j <= i; j++) if (Math.floor(i / 6) === Math.floor(j / 6)) mask[i * S + j] = 0;
      const blocks = await refModel.forward(ids.slice(0, S), range(0, S), null, { logits: 'all', additiveMask: mask });
      const r = ref.forward(ids.slice(0, S), range(0, S), null, Float64Array.from(mask));
      expect(maxAbsDiff(blocks.logits as Float32Array, r.logits)).toBeLessThanOrEqual(1e-4);
      const causal = await model.forward(ids.slice(0, S), range(0, S), null, { logits: 'all' });
      expect(maxAbsDiff(blocks.logits as Float32Array, causal.logits as Float32Array)).toBeGreaterThan(1e-2);
    } finally {
      await refModel.release();
    }
  });
});
