import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { DecoderModel } from '../../../model/DecoderModel.js';
import { KvCache } from '../../../model/kv/KvCache.js';
import { AttentionTapError, ensureAttentionTaps, tapsPathFor } from '../../../model/onnx/AttentionTaps.js';
import { onnx, type INodeProto } from '../../../model/onnx/proto.js';
import { ReferenceDecoder, maxAbsDiff } from '../../support/referenceDecoder.js';
import { buildTempModel, removeTempModel } from '../../support/tempModel.js';

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

/** Runs a session on fixed decoder inputs (batch 1, no past) and returns every output. */
async function runAll(modelPath: string, ids: number[], layers: number, kvHeads: number, headDim: number): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  const S = ids.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, S]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from(range(0, S).map(BigInt)), [1, S]),
    num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(0n), []),
  };
  for (let i = 0; i < layers; i++) {
    feeds[`past_key_values.${i}.key`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
    feeds[`past_key_values.${i}.value`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
  }
  const out = await s.run(feeds);
  await s.release();
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

describe('attention taps', () => {
  let dir: string;
  let withOutputsDir: string;
  let model: DecoderModel;
  let tapped: DecoderModel;
  let ref: ReferenceDecoder;
  let ids: number[];

  beforeAll(async () => {
    dir = buildTempModel('tiny', { seed: 5 });
    withOutputsDir = buildTempModel('tiny', { seed: 5, attentionOutputs: true }, 'tiny-attn');
    model = await DecoderModel.load(dir, { intraOpThreads: 1 });
    tapped = await DecoderModel.load(dir, { intraOpThreads: 1, taps: true });
    ref = ReferenceDecoder.load(dir);
    ids = Array.from(model.tokenizer.encode('The library opened its doors in the spring of the following year.'));
  });

  afterAll(async () => {
    await model.release();
    await tapped.release();
    removeTempModel(dir);
    removeTempModel(withOutputsDir);
  });

  it('adds one Softmax output per layer, in layer order, and caches the rewritten file', () => {
    const src = path.join(dir, 'onnx', 'model.onnx');
    expect(tapped.onnxPath).toBe(tapsPathFor(src));
    expect(tapped.attentionOutputs).toEqual(['/model/layers.0/self_attn/Softmax_output_0', '/model/layers.1/self_attn/Softmax_output_0']);
    const again = ensureAttentionTaps(src);
    expect(again.cached).toBe(true);
    // A newer source invalidates the cache.
    const future = new Date(Date.now() + 5000);
    fs.utimesSync(src, future, future);
    expect(ensureAttentionTaps(src).cached).toBe(false);
    // The rewritten file keeps the original outputs and appends the taps.
    const g = onnx.ModelProto.decode(fs.readFileSync(tapsPathFor(src))).graph;
    expect(g?.output?.map((o) => o.name)).toEqual([
      'logits',
      'present.0.key',
      'present.0.value',
      'present.1.key',
      'present.1.value',
      ...tapped.attentionOutputs,
    ]);
  });

  it('tapped logits equal untapped; rows sum to 1 and equal softmax(QK^T/sqrt(d) + mask) from the reference Q and K', async () => {
    const { heads, kvHeads, headDim: D, layers } = model.config;
    // Prefill part of the text, then tap a continuation over the cached past.
    const P = 6;
    const first = await model.forward(ids.slice(0, P), range(0, P), null, { logits: 'none' });
    const S = ids.length - P;
    const T = P + S;
    const plain = await model.forward(ids.slice(P), range(P, S), first.present, { logits: 'all' });
    const withTaps = await tapped.forward(ids.slice(P), range(P, S), first.present, { logits: 'all', attentions: true });
    expect(maxAbsDiff(plain.logits as Float32Array, withTaps.logits as Float32Array)).toBeLessThanOrEqual(1e-6);
    const atts = withTaps.attentions as Float32Array[];
    expect(atts).toHaveLength(layers);

    const past = range(0, layers).map((l) => ({ key: Float64Array.from(first.present.layers[l].key), value: Float64Array.from(first.present.layers[l].value) }));
    const r = ref.forward(ids.slice(P), range(P, S), past);
    let worstSum = 0;
    let worstProb = 0;
    for (let l = 0; l < layers; l++) {
      expect(atts[l].length).toBe(heads * S * T);
      // Independent recomputation: keys = cached past + the reference's new keys.
      const keys = KvCache.concat([first.present, new KvCache(range(0, layers).map((i) => ({ key: Float32Array.from(r.layers[i].key), value: Float32Array.from(r.layers[i].value) })), kvHeads, D, Int32Array.from(range(P, S)))]).layers[l].key;
      for (let h = 0; h < heads; h++) {
        const kh = Math.floor(h / (heads / kvHeads));
        for (let s = 0; s < S; s++) {
          const row = atts[l].subarray((h * S + s) * T, (h * S + s + 1) * T);
          worstSum = Math.max(worstSum, Math.abs(row.reduce((a, b) => a + b, 0) - 1));
          const scores = range(0, T).map((t) => {
            if (t > P + s) return -Infinity;
            let dot = 0;
            for (let d = 0; d < D; d++) dot += r.layers[l].q[(h * S + s) * D + d] * keys[(kh * T + t) * D + d];
            return dot / Math.sqrt(D);
          });
          const max = Math.max(...scores);
          const e = scores.map((x) => Math.exp(x - max));
          const z = e.reduce((a, b) => a + b, 0);
          worstProb = Math.max(worstProb, maxAbsDiff(row, e.map((x) => x / z)));
        }
      }
    }
    expect(worstSum).toBeLessThanOrEqual(1e-5);
    expect(worstProb).toBeLessThanOrEqual(1e-4);
    // Peaked enough that the comparison means something: some rows put most mass on a few tokens.
    expect(Math.max(...atts[1])).toBeGreaterThan(0.3);
  });

  it('a model built with attention outputs exposes the same names and probabilities without rewriting', async () => {
    const built = await DecoderModel.load(withOutputsDir, { intraOpThreads: 1 });
    try {
      expect(built.attentionOutputs).toEqual(tapped.attentionOutputs);
      expect(fs.existsSync(path.join(withOutputsDir, 'onnx', 'model.taps.onnx'))).toBe(false);
      const a = await built.forward(ids, range(0, ids.length), null, { attentions: true });
      const b = await tapped.forward(ids, range(0, ids.length), null, { attentions: true });
      for (let l = 0; l < 2; l++) expect(maxAbsDiff((a.attentions as Float32Array[])[l], (b.attentions as Float32Array[])[l])).toBeLessThanOrEqual(1e-6);
      await expect(model.forward(ids, range(0, 3), null, { attentions: true })).rejects.toThrow();
    } finally {
      await built.release();
    }
  });

  it('a decode -> encode round trip through onnx-proto leaves the outputs identical', async () => {
    const src = path.join(dir, 'onnx', 'model.onnx');
    const round = path.join(dir, 'onnx', 'model.roundtrip.onnx');
    fs.writeFileSync(round, onnx.ModelProto.encode(onnx.ModelProto.decode(fs.readFileSync(src))).finish());
    const { layers, kvHeads, headDim } = model.config;
    const a = await runAll(src, ids, layers, kvHeads, headDim);
    const b = await runAll(round, ids, layers, kvHeads, headDim);
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const k of Object.keys(a)) expect(Array.from(b[k])).toEqual(Array.from(a[k]));
    fs.rmSync(round);
  });

  it('works on models with external weights (the rewritten file resolves the same data file)', async () => {
    const extDir = buildTempModel('tiny', { seed: 5, overrides: { externalData: true } }, 'tiny-ext');
    try {
      expect(fs.statSync(path.join(extDir, 'onnx', 'model.onnx')).size).toBeLessThan(100_000);
      const ext = await DecoderModel.load(extDir, { intraOpThreads: 1, taps: true });
      const a = await ext.forward(ids, range(0, ids.length), null, { logits: 'all', attentions: true });
      const b = await tapped.forward(ids, range(0, ids.length), null, { logits: 'all', attentions: true });
      expect(maxAbsDiff(a.logits as Float32Array, b.logits as Float32Array)).toBeLessThanOrEqual(1e-6);
      expect(maxAbsDiff((a.attentions as Float32Array[])[1], (b.attentions as Float32Array[])[1])).toBeLessThanOrEqual(1e-6);
      await ext.release();
    } finally {
      removeTempModel(extDir);
    }
  });

  it('refuses graphs without Softmax with a clear message', () => {
    const tmp = fs.mkdtempSync(path.join(path.dirname(dir), 'fused-'));
    const write = (name: string, node: INodeProto): string => {
      const p = path.join(tmp, name);
      const model = onnx.ModelProto.encode({
        irVersion: 8,
        opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
        graph: { name: 'g', node: [node], input: [], output: [] },
      }).finish();
      fs.writeFileSync(p, model);
      return p;
    };
    const fused = write('model.onnx', { opType: 'GroupQueryAttention', domain: 'com.microsoft', name: '/model/layers.0/attn/GroupQueryAttention', input: ['q', 'k', 'v'], output: ['o'] });
    expect(() => ensureAttentionTaps(fused)).toThrow(AttentionTapError);
    expect(() => ensureAttentionTaps(fused)).toThrow(/fused attention \(com\.microsoft\.GroupQueryAttention\).*no Softmax/);
    const plain = write('plain.onnx', { opType: 'Add', name: 'add', input: ['a', 'b'], output: ['c'] });
    expect(() => ensureAttentionTaps(plain)).toThrow(/no Softmax node/);
    expect(fs.existsSync(tapsPathFor(fused))).toBe(false);
    fs.rmSync(tmp, { recursive: true });
  });
});
