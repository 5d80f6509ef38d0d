import { DecoderModel } from '../../model/DecoderModel.js';
import { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';
import { DOCS, chunkOf } from './fixtures.js';

describe('questionPass with attentions (model built with attention outputs)', () => {
  let dir: string;
  let model: DecoderModel;

  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 13, attentionOutputs: true });
    model = await DecoderModel.load(dir, { intraOpThreads: 1 });
  });
  afterAll(async () => {
    await model.release();
    removeTempModel(dir);
  });

  it('returns per-layer [heads, S, T] probabilities over the assembled context; the last row sums to 1 and covers the blocks', async () => {
    const gen = BlockAttentionGenerator.create(model);
    const blocks = [];
    for (const d of DOCS.slice(0, 2)) blocks.push(await gen.blockKv(gen.render(chunkOf(d))));
    const ctx = await gen.assemble(blocks);
    const fin = gen.finalTokens('Who built the bridge?');
    const pass = await gen.questionPass(ctx, fin, { tapRows: fin.length });
    const { heads, layers } = model.config;
    const S = fin.length;
    const T = ctx.kv.length + S;
    expect(pass.attentions?.length).toBe(layers);
    for (const a of pass.attentions ?? []) {
      expect(a.length).toBe(heads * S * T);
      for (let h = 0; h < heads; h++) {
        const row = a.subarray((h * S + S - 1) * T, (h * S + S) * T);
        expect(row.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
        const onBlocks = row.subarray(ctx.layout[0].start, ctx.layout[1].end).reduce((x, y) => x + y, 0);
        expect(onBlocks).toBeGreaterThan(0);
      }
    }
    // Same logits as without attentions (over a context assembled the same way: the first pass over a context rotates
    // its keys inside the session, later ones read the JavaScript re-encode, equal within float32 rounding only).
    const plain = await gen.questionPass(await gen.assemble(blocks), fin);
    expect(Array.from(plain.logits)).toEqual(Array.from(pass.logits));
    // Tapping only the last row: the final block minus its last token untapped, then the last token tapped. Same
    // last row, same logits (<= 1e-6: the split changes the summation order inside onnxruntime), same cache length.
    const last = await gen.questionPass(ctx, fin, { tapRows: 1 });
    expect(last.start).toBe(pass.start);
    expect(last.tokens).toEqual(fin);
    expect(last.cache.length).toBe(T);
    for (let l = 0; l < layers; l++) {
      const a = last.attentions![l]!;
      expect(a.length).toBe(heads * T);
      for (let h = 0; h < heads; h++) {
        const full = pass.attentions![l]!.subarray((h * S + S - 1) * T, (h * S + S) * T);
        let d = 0;
        a.subarray(h * T, (h + 1) * T).forEach((v, i) => (d = Math.max(d, Math.abs(v - full[i]!))));
        expect(d).toBeLessThanOrEqual(1e-6);
      }
    }
    let dl = 0;
    last.logits.forEach((v, i) => (dl = Math.max(dl, Math.abs(v - pass.logits[i]!))));
    expect(dl).toBeLessThanOrEqual(1e-4);
    await expect(gen.questionPass(ctx, fin, { tapRows: fin.length + 1 })).rejects.toThrow(RangeError);
  });
});
