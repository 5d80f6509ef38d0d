import fs from 'node:fs';
import path from 'node:path';
import { buildTestModel } from '../../model/builder/buildTestModel.js';
import { VARIANTS, VARIANT_NAMES, type VariantName } from '../../model/builder/variants.js';
import { DecoderModel, PositionsUnsupportedError } from '../../model/DecoderModel.js';
import { KvCache } from '../../model/kv/KvCache.js';
import { relDiff, splitTolerance } from '../../model/ModelDoctor.js';
import { BlockAttentionGenerator } from '../../generator/BlockAttentionGenerator.js';
import { AskPipeline } from '../../ask/AskPipeline.js';
import { askResponse } from '../../ask/AskResponse.js';
import { ReferenceDecoder } from '../support/referenceDecoder.js';
import { DOCS, chunkOf, range } from '../generator/fixtures.js';

const QUESTION = 'Where does the river reach the sea?';

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function kvRelDiff(a: KvCache, b: KvCache): number {
  let w = 0;
  for (let l = 0; l < a.layerCount; l++) w = Math.max(w, relDiff(a.layers[l].key, b.layers[l].key), relDiff(a.layers[l].value, b.layers[l].value));
  return w;
}

/**
 * Attention probabilities: tapped rows against softmax(q K^T / sqrt(d) + causal mask) recomputed here in float64 from
 * the reference decoder's q (over the variant's own weights) and the keys the graph returned. Absolute tolerance on
 * probabilities: fp32 compute 1e-4; fp16 compute 1e-2 (q off by fp16 noise, scores ~5 -> ~1e-2 in a peaked row);
 * dynamic int8 0.05 and genai 0.05 (q off by 8-bit activation quantization, see the variants test).
 */
const TAP_TOL: Record<VariantName, number> = {
  'optimum-fp32': 1e-4,
  'optimum-q4': 1e-4,
  'optimum-fp16': 1e-2,
  'optimum-q4f16': 1e-2,
  'optimum-int8': 0.05,
  'genai-gqa': 0.05,
};

describe.each(VARIANT_NAMES)('export family %s (tiny replica): Block-Attention exactness, KV reuse and taps', (variant) => {
  let root: string;
  let dir: string;
  let model: DecoderModel;
  let gen: BlockAttentionGenerator;
  let ref: ReferenceDecoder;
  let ids: number[];
  const tol = splitTolerance(variant);

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'rag-family-'));
    dir = path.join(root, variant);
    buildTestModel('tiny', dir, { variant, seed: 5 });
    model = await DecoderModel.load(dir, { intraOpThreads: 1, taps: true });
    gen = BlockAttentionGenerator.create(model);
    ref = ReferenceDecoder.load(dir, VARIANTS[variant].file);
    ids = Array.from(model.tokenizer.encode('The library opened its doors in the spring of the following year, and the river ran past it.'));
  });
  afterAll(async () => {
    await model.release();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('is served with a logits selector, positions and taps, and KV in the graph\'s type', () => {
    expect(model.onnxFile).toBe(VARIANTS[variant].file);
    expect(model.export.variant).toBe(variant);
    expect(model.runtime.logitsRows?.kind).toBe('rows');
    expect(model.positions).toBe(VARIANTS[variant].family === 'genai' ? 'rewired' : 'honoured');
    expect(model.export.taps.mode).toBe(VARIANTS[variant].family === 'genai' ? 'gqa-query' : 'softmax');
    expect(model.kvDtype).toBe(VARIANTS[variant].io === 'fp16' ? 'float16' : 'float32');
  });

  it("the logits selector projects only the rows asked: 'last' is the last row of 'all'", async () => {
    const all = await model.forward(ids, range(0, ids.length), null, { logits: 'all' });
    const last = await model.forward(ids, range(0, ids.length), null, { logits: 'last' });
    const V = model.config.vocabSize;
    expect((all.logits as Float32Array).length).toBe(ids.length * V);
    expect((last.logits as Float32Array).length).toBe(V);
    // One row through the head: MatMulNBits takes its single-row kernel, dynamic int8 quantizes that row on its own.
    expect(relDiff(last.logits as Float32Array, (all.logits as Float32Array).subarray((ids.length - 1) * V))).toBeLessThanOrEqual(tol);
  });

  it('incremental prefill equals one full prefill (logits and KV)', async () => {
    const full = await model.forward(ids, range(0, ids.length), null, { logits: 'all' });
    const V = model.config.vocabSize;
    let cache: KvCache | null = null;
    for (const [a, b] of [[0, 5], [5, 6], [6, 13], [13, ids.length]]) {
      const part = await model.forward(ids.slice(a, b), range(a, b - a), cache, { logits: 'all' });
      expect(relDiff(part.logits as Float32Array, (full.logits as Float32Array).subarray(a * V, b * V))).toBeLessThanOrEqual(tol);
      cache = cache ? KvCache.concat([cache, part.present]) : part.present;
    }
    expect(kvRelDiff(cache as KvCache, full.present)).toBeLessThanOrEqual(tol);
    // Long passes run in chunks over the growing cache (bounded attention memory): the same result.
    const chunked = await DecoderModel.load(dir, { intraOpThreads: 1, prefillChunk: 4 });
    try {
      const c = await chunked.forward(ids, range(0, ids.length), null, { logits: 'last' });
      expect(relDiff(c.logits as Float32Array, (full.logits as Float32Array).subarray((ids.length - 1) * V))).toBeLessThanOrEqual(tol);
      expect(kvRelDiff(c.present, full.present)).toBeLessThanOrEqual(tol);
      const past = full.present.slice(0, 3);
      const tail = await chunked.forward(ids.slice(3), range(3, ids.length - 3), past, { logits: 'none' });
      expect(Array.from(tail.present.positions)).toEqual(range(3, ids.length - 3));
      expect(kvRelDiff(tail.present, full.present.slice(3))).toBeLessThanOrEqual(tol);
    } finally {
      await chunked.release();
    }
  });

  it('a key computed at p and re-encoded by d equals the key computed at p+d (through the positions the graph takes)', async () => {
    const n = 8;
    const at = await model.forward(ids.slice(0, n), range(40, n), null, { logits: 'none' });
    const target = await model.forward(ids.slice(0, n), range(40 + 25, n), null, { logits: 'none' });
    expect(kvRelDiff(at.present.reencode({ delta: 25 }, model.config.ropeTheta), target.present)).toBeLessThanOrEqual(tol);
    // Can fail: positions reach RoPE (a graph dropping them would compute both at 0..n-1 and these would be equal).
    expect(relDiff(at.present.layers[0].key, target.present.layers[0].key)).toBeGreaterThan(0.1);
    // Arbitrary positions over a past (what re-encoded blocks and head recompute run), against the float64 reference.
    const past = at.present;
    const cont = await model.forward(ids.slice(n, n + 3), [300, 302, 307], past, { logits: 'all' });
    const toF64 = (c: KvCache, l: number) => ({ key: Float64Array.from(c.layers[l].key), value: Float64Array.from(c.layers[l].value) });
    const r = ref.forward(ids.slice(n, n + 3), [300, 302, 307], range(0, 2).map((l) => toF64(past, l)));
    const refTol = variant === 'optimum-fp32' || variant === 'optimum-q4' ? 1e-4 : 0.06;
    expect(relDiff(cont.present.layers[0].key, r.layers[0].key)).toBeLessThanOrEqual(refTol);
  });

  it('one block in blocks mode equals full mode', async () => {
    const r = gen.render(chunkOf(DOCS[0], 40));
    const fin = gen.finalTokens(QUESTION);
    const blocks = await gen.questionPass(await gen.assemble([await gen.blockKv(r)]), fin);
    const full = await gen.fullPass([r], fin);
    expect(blocks.cache.length).toBe(full.cache.length);
    expect(relDiff(blocks.logits, full.logits)).toBeLessThanOrEqual(tol);
    expect(kvRelDiff(blocks.cache, full.cache)).toBeLessThanOrEqual(tol);
  });

  it('head recompute covering every block equals full mode (and plain multi-block blocks mode does not)', async () => {
    const rendered = DOCS.slice(0, 3).map((d) => gen.render(chunkOf(d)));
    const fin = gen.finalTokens(QUESTION);
    const bkv = [];
    for (const r of rendered) bkv.push(await gen.blockKv(r));
    const longest = Math.max(...rendered.map((r) => r.tokens.length));
    const covered = await gen.questionPass(await gen.assemble(bkv, { recomputeHead: longest }), fin);
    const plain = await gen.questionPass(await gen.assemble(bkv), fin);
    const full = await gen.fullPass(rendered, fin);
    expect(relDiff(covered.logits, full.logits)).toBeLessThanOrEqual(tol);
    expect(kvRelDiff(covered.cache, full.cache)).toBeLessThanOrEqual(tol);
    // Can fail: without recompute the blocks never saw each other, which moves their KV by far more than the
    // precision's noise (dynamic int8's logits noise is as large as the effect on this 2-layer model; its KV is not).
    expect(kvRelDiff(plain.cache, full.cache)).toBeGreaterThan(2 * kvRelDiff(covered.cache, full.cache));
    expect(kvRelDiff(plain.cache, full.cache)).toBeGreaterThan(0.05);
  });

  it('taps return only the rows asked, and equal softmax(q K^T / sqrt(d) + mask) recomputed independently', async () => {
    const { heads, kvHeads, headDim: D, layers } = model.config;
    const P = 6;
    const first = await model.forward(ids.slice(0, P), range(0, P), null, { logits: 'none' });
    const S = ids.length - P;
    const T = P + S;
    const plain = await model.forward(ids.slice(P), range(P, S), first.present, { logits: 'all' });
    const all = await model.forward(ids.slice(P), range(P, S), first.present, { logits: 'all', attentions: 'all', present: 'all' });
    const last = await model.forward(ids.slice(P), range(P, S), first.present, { attentions: 'last' });
    const some = await model.forward(ids.slice(P), range(P, S), first.present, { attentions: [0, 3, S - 1] });
    // A tapped pass computes the same logits as an untapped one, and the tapped graph as the untapped graph (bit for bit:
    // the rewrite only adds Gathers and an exact ordering dependency).
    expect(Array.from(all.logits as Float32Array)).toEqual(Array.from(plain.logits as Float32Array));
    const untapped = await DecoderModel.load(dir, { intraOpThreads: 1, taps: false });
    try {
      expect(untapped.onnxPath).not.toBe(model.onnxPath);
      const u = await untapped.forward(ids.slice(P), range(P, S), first.present, { logits: 'all' });
      expect(Array.from(u.logits as Float32Array)).toEqual(Array.from(plain.logits as Float32Array));
      expect(Array.from(u.present.layers[1].key)).toEqual(Array.from(plain.present.layers[1].key));
    } finally {
      await untapped.release();
    }
    expect(all.attentionRows).toEqual(range(0, S));
    expect(last.attentionRows).toEqual([S - 1]);
    for (let l = 0; l < layers; l++) {
      const A = (all.attentions as Float32Array[])[l];
      expect(A.length).toBe(heads * S * T);
      expect((last.attentions as Float32Array[])[l].length).toBe(heads * T);
      const row = (h: number, s: number) => A.subarray((h * S + s) * T, (h * S + s + 1) * T);
      for (let h = 0; h < heads; h++) {
        expect(Array.from((last.attentions as Float32Array[])[l].subarray(h * T, (h + 1) * T))).toEqual(Array.from(row(h, S - 1)));
        for (const [k, s] of [0, 3, S - 1].entries()) expect(Array.from((some.attentions as Float32Array[])[l].subarray((h * 3 + k) * T, (h * 3 + k + 1) * T))).toEqual(Array.from(row(h, s)));
      }
    }

    // Independent recomputation of the last row: reference q, the keys the graph returned (past + new).
    const keysOf = all.present;
    const past = range(0, layers).map((l) => ({ key: Float64Array.from(first.present.layers[l].key), value: Float64Array.from(first.present.layers[l].value) }));
    const r = ref.forward(ids.slice(P), range(P, S), past);
    let worst = 0;
    let worstSum = 0;
    for (let l = 0; l < layers; l++) {
      const keys = keysOf.layers[l].key;
      for (let h = 0; h < heads; h++) {
        const kh = Math.floor(h / (heads / kvHeads));
        const s = S - 1;
        const scores = range(0, T).map((t) => {
          if (t > P + s) return -Infinity;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += r.layers[l].q[(h * S + s) * D + d] * keys[(kh * T + t) * D + d];
          return dot / Math.sqrt(D);
        });
        const max = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - max));
        const z = e.reduce((a, b) => a + b, 0);
        const tapped = (last.attentions as Float32Array[])[l].subarray(h * T, (h + 1) * T);
        worst = Math.max(worst, maxAbs(tapped, e.map((x) => x / z)));
        worstSum = Math.max(worstSum, Math.abs(tapped.reduce((a, b) => a + b, 0) - 1));
      }
    }
    expect(worstSum).toBeLessThanOrEqual(VARIANTS[variant].compute === 'fp16' ? 5e-3 : 1e-5);
    expect(worst).toBeLessThanOrEqual(TAP_TOL[variant]);
    // Peaked enough that the comparison means something.
    expect(Math.max(...(last.attentions as Float32Array[])[1])).toBeGreaterThan(0.3);
  });
});

describe('GroupQueryAttention taps: rows computed from the tapped query equal the kernel\'s own probabilities (qk_output)', () => {
  it('for the last row and for question rows, over a past and at re-encoded positions', async () => {
    const root = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'rag-gqa-qk-'));
    const dir = path.join(root, 'genai');
    buildTestModel('tiny', dir, { variant: 'genai-gqa', seed: 8 });
    const query = await DecoderModel.load(dir, { intraOpThreads: 1, taps: true });
    const kernel = await DecoderModel.load(dir, { intraOpThreads: 1, taps: true, gqaTaps: 'qk' });
    try {
      expect([query.export.taps.mode, kernel.export.taps.mode]).toEqual(['gqa-query', 'gqa-qk']);
      expect(kernel.onnxPath).not.toBe(query.onnxPath);
      const ids = Array.from(query.tokenizer.encode('Boats carried tin and copper down the river for centuries, past the mill.'));
      const P = 7;
      const first = await query.forward(ids.slice(0, P), range(0, P), null, { logits: 'none' });
      const past = first.present.reencode({ delta: 90 }, query.config.ropeTheta); // a block moved to another slot
      const S = ids.length - P;
      const pos = range(90 + P, S);
      let worst = 0;
      for (const rows of ['last', [0, 2, S - 1]] as const) {
        const a = await query.forward(ids.slice(P), pos, past, { logits: 'all', attentions: rows });
        const b = await kernel.forward(ids.slice(P), pos, past, { logits: 'all', attentions: rows });
        expect(a.attentionRows).toEqual(b.attentionRows);
        for (let l = 0; l < 2; l++) worst = Math.max(worst, maxAbs((a.attentions as Float32Array[])[l], (b.attentions as Float32Array[])[l]));
        expect(Array.from(a.logits as Float32Array)).toEqual(Array.from(b.logits as Float32Array));
      }
      // fp16 probabilities from the kernel (2^-11 relative) against float64 rows from fp16 queries and keys.
      expect(worst).toBeLessThanOrEqual(2e-3);
    } finally {
      await query.release();
      await kernel.release();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('a graph whose positions cannot be given (derived inside, no GroupQueryAttention to wire)', () => {
  let root: string;
  let model: DecoderModel;
  let plain: DecoderModel;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'rag-nopos-'));
    buildTestModel('tiny', path.join(root, 'nopos'), { seed: 5, internalPositions: true });
    buildTestModel('tiny', path.join(root, 'plain'), { seed: 5 });
    model = await DecoderModel.load(path.join(root, 'nopos'), { intraOpThreads: 1 });
    plain = await DecoderModel.load(path.join(root, 'plain'), { intraOpThreads: 1 });
  });
  afterAll(async () => {
    await model.release();
    await plain.release();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('is reported as refusing positions, runs contiguous passes, and refuses others instead of computing at other positions', async () => {
    expect(model.positions).toBe('refused');
    expect(model.export.positions.reason).toMatch(/no position_ids input/);
    const ids = Array.from(model.tokenizer.encode('The bridge was finished in 1859 and still carries trains.'));
    const a = await model.forward(ids, range(0, ids.length), null, { logits: 'all' });
    const b = await plain.forward(ids, range(0, ids.length), null, { logits: 'all' });
    expect(relDiff(a.logits as Float32Array, b.logits as Float32Array)).toBeLessThanOrEqual(1e-5);
    const c = await model.forward(ids.slice(4), range(4, ids.length - 4), a.present.slice(0, 4), { logits: 'all' });
    expect(c.present.positions[0]).toBe(4);
    await expect(model.forward(ids, range(10, ids.length), null)).rejects.toThrow(PositionsUnsupportedError);
    await expect(model.forward(ids.slice(4), range(50, ids.length - 4), a.present.slice(0, 4))).rejects.toThrow(new RegExp(`model ${path.join(root, 'nopos')}.*cannot honour positions`));
  });

  it('blocks mode is refused with an error naming the model; full mode works', async () => {
    const gen = BlockAttentionGenerator.create(model);
    const r = gen.render(chunkOf(DOCS[0]));
    const b = await gen.blockKv(r); // a block after the prefix runs at its cache index: computable
    await expect(gen.assemble([b])).rejects.toThrow(PositionsUnsupportedError);
    await expect(gen.assemble([b])).rejects.toThrow(/Block-Attention \(mode "blocks"\).*model .*nopos.*Use mode "full"/);
    const pipeline = new AskPipeline({ generator: gen });
    const full = askResponse(await pipeline.run({ question: QUESTION, passages: [chunkOf(DOCS[0])], mode: 'full', maxTokens: 3 }));
    expect(full.usage.completionTokens).toBeGreaterThan(0);
    await expect(pipeline.run({ question: QUESTION, passages: [chunkOf(DOCS[0])], mode: 'blocks', maxTokens: 3 })).rejects.toThrow(PositionsUnsupportedError);
  });
});
