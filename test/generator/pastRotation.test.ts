import { DecoderModel } from '../../model/DecoderModel.js';
import { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import { maxAbsDiff } from '../support/referenceDecoder.js';
import { referenceBlocksPass } from '../support/referencePass.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';
import { DOCS, chunkOf, range } from './fixtures.js';

const QUESTION = 'Where does the river reach the sea?';

/**
 * Assembly by concatenation with the keys rotated to their slots inside the session (RuntimeGraph.rotatesPast),
 * against the independent reference (test/support/referencePass.ts: blocks prefilled after the prefix, keys rotated
 * by a float64 RoPE written from the formula). fp32: re-encoded keys within 1e-4 of the reference's keys at the
 * target positions, values bit-identical, logits within 1e-4.
 */
describe('past keys rotated inside the session (built tiny model)', () => {
  let dir: string;
  let model: DecoderModel;
  let gen: BlockAttentionGenerator;

  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 9 });
    model = await DecoderModel.load(dir, { intraOpThreads: 1 });
    gen = BlockAttentionGenerator.create(model);
  });
  afterAll(async () => {
    await model.release();
    removeTempModel(dir);
  });

  it('the question pass over a concatenated context equals the reference over re-encoded keys; the JS re-encode agrees', async () => {
    expect(model.rotatesPast).toBe(true);
    const rendered = DOCS.slice(0, 3).map((d) => gen.render(chunkOf(d)));
    const keep = [null, range(0, Math.min(6, rendered[1]!.tokens.length)), null];
    const blocks = await gen.blockKvs(rendered);
    const ctx = await gen.assemble(blocks, { keep });
    expect(ctx.laidOut).toBeDefined();
    const laid = ctx.laidOut!;
    // Laid out by concatenation: keys still at the positions they were cached at, one target slot per token.
    expect(Array.from(laid.targets)).toEqual(range(0, ctx.tokens.length));
    expect(Array.from(laid.kv.positions)).not.toEqual(Array.from(laid.targets));
    const finalTokens = gen.finalTokens(QUESTION);
    const ref = await referenceBlocksPass(model, (await gen.prefix()).tokens, rendered.map((r, i) => ({ tokens: r.tokens, keep: keep[i] })), finalTokens);
    const S = finalTokens.length;
    const T = laid.kv.length;
    const out = await model.forward(finalTokens, range(T, S), laid.kv, { logits: 'last', present: 'all', pastTargets: laid.targets });
    expect(Array.from(out.present.positions.subarray(0, T))).toEqual(range(0, T));
    const past = out.present.slice(0, T);
    const { layers } = model.config;
    for (let l = 0; l < layers; l++) {
      expect(maxAbsDiff(past.layers[l]!.key, ref.context.layers[l]!.key)).toBeLessThanOrEqual(1e-4);
      expect(Array.from(past.layers[l]!.value)).toEqual(Array.from(ref.context.layers[l]!.value));
      // The JavaScript re-encode (what decoding reads) agrees.
      expect(maxAbsDiff(ctx.kv.layers[l]!.key, ref.context.layers[l]!.key)).toBeLessThanOrEqual(1e-4);
    }
    expect(maxAbsDiff(out.logits as Float32Array, ref.logits)).toBeLessThanOrEqual(1e-4);
    // The served question pass takes this path and gives the same logits.
    const pass = await gen.questionPass(ctx, finalTokens);
    expect(maxAbsDiff(pass.logits, ref.logits)).toBeLessThanOrEqual(1e-4);
    // The check can fail: without the rotation the keys are off by far more than the tolerance.
    const unrotated = await model.forward(finalTokens, range(T, S), laid.kv, { logits: 'last', present: 'all' });
    expect(maxAbsDiff(unrotated.present.slice(0, T).layers[1]!.key, ref.context.layers[1]!.key)).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(unrotated.logits as Float32Array, ref.logits)).toBeGreaterThan(1e-3);
  });
});
