import { DecoderModel } from '../../model/DecoderModel.js';
import type { BlockSource } from '../../generator/BlockRenderer.js';
import { splitSentences } from '../../indexer/text/SentenceSplitter.js';
import { DirectQuestionPass } from '../../compressor/QuestionPass.js';
import { compressKv } from '../../compressor/KvCompressor.js';
import { buildTempModel, removeTempModel } from '../support/tempModel.js';

const TEXTS = [
  'Granite forms from slowly cooling magma. It is rich in quartz and feldspar. Builders prize it for kerbs. Some of it is radioactive.',
  'Basalt cools quickly at the surface. It is dark and fine grained. Much of the ocean floor is basalt.',
];
const source = (i: number): BlockSource => ({ chunkId: `c${i}`, documentId: `d${i}`, text: TEXTS[i], start: 0, sentences: splitSentences(TEXTS[i]) });

/** Independent RoPE (rotate-half, float64 angles) of one key vector by `delta` positions. */
function rotate(key: Float32Array, theta: number, delta: number): Float64Array {
  const D = key.length;
  const half = D / 2;
  const out = new Float64Array(D);
  for (let i = 0; i < half; i++) {
    const invFreq = Math.fround(1 / Math.fround(theta ** ((2 * i) / D)));
    const a = delta * invFreq;
    out[i] = key[i] * Math.cos(a) - key[i + half] * Math.sin(a);
    out[i + half] = key[i + half] * Math.cos(a) + key[i] * Math.sin(a);
  }
  return out;
}

describe('KV-space compression', () => {
  let dir: string;
  let model: DecoderModel;

  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 2, attentionOutputs: true });
    model = await DecoderModel.load(dir, { intraOpThreads: 1 });
  });
  afterAll(async () => {
    await model.release();
    removeTempModel(dir);
  });

  it('drops unkept sentences, keeps prefix and headers, re-encodes contiguously', async () => {
    const runner = new DirectQuestionPass(model, 'test/tiny', 'blocks');
    const ctx = await runner.prepare([source(0), source(1)]);
    const keep = [[1, 3], [2]];
    const out = compressKv(ctx.kv, ctx.blocks, keep, model.config.ropeTheta);
    const { kvHeads, headDim, layers, ropeTheta } = model.config;

    // Expected survivors, derived here from the block layout.
    const dropped = new Set<number>();
    ctx.blocks.forEach((b, bi) =>
      b.sentences.forEach((s, si) => {
        if (!keep[bi].includes(si)) for (let t = s.tokenStart; t < s.tokenEnd; t++) dropped.add(b.tokenIndices[t]);
      }),
    );
    const survivors = Array.from({ length: ctx.kv.length }, (_, i) => i).filter((i) => !dropped.has(i));
    expect(dropped.size).toBeGreaterThan(10);
    expect(Array.from(out.sourceIndices)).toEqual(survivors);
    expect(out.kv.length).toBe(survivors.length);
    expect(Array.from(out.kv.positions)).toEqual(survivors.map((_, j) => j));

    let maxKeyDiff = 0;
    for (let l = 0; l < layers; l++) {
      for (let h = 0; h < kvHeads; h++) {
        survivors.forEach((src, j) => {
          const from = (h * ctx.kv.length + src) * headDim;
          const to = (h * out.kv.length + j) * headDim;
          // Values are position-free: bit-identical.
          expect(Array.from(out.kv.layers[l].value.subarray(to, to + headDim))).toEqual(Array.from(ctx.kv.layers[l].value.subarray(from, from + headDim)));
          const expected = rotate(ctx.kv.layers[l].key.subarray(from, from + headDim), ropeTheta, j - ctx.kv.positions[src]);
          for (let d = 0; d < headDim; d++) maxKeyDiff = Math.max(maxKeyDiff, Math.abs(out.kv.layers[l].key[to + d] - expected[d]));
        });
      }
    }
    expect(maxKeyDiff).toBeLessThanOrEqual(1e-5);

    // Block layout after compression: header + kept sentences, lengths preserved.
    const b0 = out.blocks[0];
    expect(b0.keptSentences).toEqual([1, 3]);
    const len = (s: { tokenStart: number; tokenEnd: number }) => s.tokenEnd - s.tokenStart;
    expect(b0.tokenIndices.length).toBe(ctx.blocks[0].headerLength + len(ctx.blocks[0].sentences[1]) + len(ctx.blocks[0].sentences[3]));
    expect(b0.sentences.map(len)).toEqual([len(ctx.blocks[0].sentences[1]), len(ctx.blocks[0].sentences[3])]);
    expect(b0.tokenIndices[b0.sentences[1].tokenStart]).toBe(survivors.indexOf(ctx.blocks[0].tokenIndices[ctx.blocks[0].sentences[3].tokenStart]));
    expect(out.blocks[1].tokenIndices[0]).toBe(b0.tokenIndices[b0.tokenIndices.length - 1] + 1);

    // The compressed cache is usable: the final block runs right after it.
    const pass = await runner.ask({ kv: out.kv, blocks: out.blocks.map((b, i) => ({ ...b, chunkId: ctx.blocks[i].chunkId })) }, 'What is basalt?');
    expect(pass.keyLength).toBe(out.kv.length + pass.queryLength);
  });

  it('one block with nothing dropped equals no compression', async () => {
    const runner = new DirectQuestionPass(model, 'test/tiny', 'blocks');
    const ctx = await runner.prepare([source(0)]);
    const all = ctx.blocks[0].sentences.map((_, i) => i);
    const out = compressKv(ctx.kv, ctx.blocks, [all], model.config.ropeTheta);
    expect(out.droppedTokens).toBe(0);
    expect(Array.from(out.kv.positions)).toEqual(Array.from(ctx.kv.positions));
    for (let l = 0; l < model.config.layers; l++) {
      expect(Array.from(out.kv.layers[l].key)).toEqual(Array.from(ctx.kv.layers[l].key));
      expect(Array.from(out.kv.layers[l].value)).toEqual(Array.from(ctx.kv.layers[l].value));
    }
    expect(Array.from(out.blocks[0].tokenIndices)).toEqual(Array.from(ctx.blocks[0].tokenIndices));
  });
});
