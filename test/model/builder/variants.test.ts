import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildTestModel } from '../../../model/builder/buildTestModel.js';
import { quantizeInt4, quantizeInt8 } from '../../../model/builder/quantize.js';
import { VARIANTS, VARIANT_NAMES, type VariantName } from '../../../model/builder/variants.js';
import { DecoderModel } from '../../../model/DecoderModel.js';
import { relDiff } from '../../../model/ModelDoctor.js';
import { GraphBuilder, MS_DOMAIN } from '../../../model/onnx/GraphBuilder.js';
import { DataType, onnx, type INodeProto } from '../../../model/onnx/proto.js';
import { ReferenceDecoder } from '../../support/referenceDecoder.js';
import { loadVariantWeights } from '../../support/variantWeights.js';

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

function relRms(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(e / n);
}

function seeded(n: number, seed: number): Float32Array {
  let x = seed;
  return Float32Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return (x / 2 ** 32 - 0.5) * 2;
  });
}

/**
 * Agreement of each variant with a float64 forward pass over the weights that variant stores (dequantized per the
 * operator specs in test/support/variantWeights), relative to the largest reference logit:
 * fp32 compute (fp32, q4): 1e-4 (float32 rounding, measured ~1e-6); fp16 compute (fp16, q4f16): 1e-2 (unit roundoff
 * 4.9e-4 over a few dozen ops, measured 0.2%); dynamic int8: 0.1 (activations quantized to 8 bits per tensor before
 * every matmul, measured 5%); genai: 0.06 (fp16 and MatMulNBits accuracy_level 4, i.e. int8 activations per block
 * of 32, measured 3%).
 */
const REF_TOL: Record<VariantName, number> = {
  'optimum-fp32': 1e-4,
  'optimum-q4': 1e-4,
  'optimum-fp16': 1e-2,
  'optimum-q4f16': 1e-2,
  'optimum-int8': 0.1,
  'genai-gqa': 0.06,
};

describe('MatMulNBits and int8 quantization, checked by onnxruntime', () => {
  async function runNBits(K: number, N: number, symmetric: boolean, w: Float32Array, a: Float32Array, M: number): Promise<Float32Array> {
    const q = quantizeInt4(w, K, N, 32, symmetric);
    const g = new GraphBuilder();
    const x = g.input('A', DataType.FLOAT, [M, K]);
    g.initializer({ name: 'B', dataType: DataType.UINT8, dims: [N, q.kBlocks, 16], rawData: q.data });
    g.float('scales', q.scales, [N, q.kBlocks]);
    const inputs = [x, 'B', 'scales'];
    if (q.zeroPoints) {
      g.initializer({ name: 'zp', dataType: DataType.UINT8, dims: [N, Math.ceil(q.kBlocks / 2)], rawData: q.zeroPoints });
      inputs.push('zp');
    }
    g.node('MatMulNBits', inputs, 'mm', { K, N, bits: 4, block_size: 32 }, ['Y'], MS_DOMAIN);
    g.output('Y', DataType.FLOAT, null);
    const bytes = onnx.ModelProto.encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }, { domain: MS_DOMAIN, version: 1 }],
      graph: { name: 'g', node: g.nodes, input: g.inputs, output: g.outputs, initializer: g.initializers },
    }).finish();
    const s = await ort.InferenceSession.create(bytes);
    const out = await s.run({ A: new ort.Tensor('float32', a, [M, K]) });
    await s.release();
    return out.Y.data as Float32Array;
  }

  it.each([
    ['symmetric', true, 64],
    ['asymmetric', false, 64],
    ['symmetric, partial last block', true, 80],
    ['asymmetric, partial last block', false, 80],
  ])('%s: MatMulNBits equals A x dequantize(q) by the op spec; q is within half a step of w (symmetric: one step at the clamped end)', async (_label, symmetric, K) => {
    const N = 6;
    const M = 3;
    const w = seeded(K * N, 7);
    const a = seeded(M * K, 9);
    const q = quantizeInt4(w, K, N, 32, symmetric as boolean);
    // Dequantize independently: (q - zp) * scale, zp = 8 when absent.
    const deq = new Float64Array(K * N);
    let worstStep = 0;
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < q.kBlocks; b++) {
        const zp = q.zeroPoints ? (q.zeroPoints[n * Math.ceil(q.kBlocks / 2) + (b >> 1)] >> ((b & 1) * 4)) & 15 : 8;
        const scale = q.scales[n * q.kBlocks + b];
        for (let i = 0; i < 32 && b * 32 + i < K; i++) {
          const v = (q.data[(n * q.kBlocks + b) * 16 + (i >> 1)] >> ((i & 1) * 4)) & 15;
          const k = b * 32 + i;
          deq[k * N + n] = (v - zp) * scale;
          worstStep = Math.max(worstStep, Math.abs(deq[k * N + n] - w[k * N + n]) / Math.abs(scale));
        }
      }
    }
    // Symmetric maps the largest-magnitude value to -8; opposite-signed values beyond 7.5 steps clamp at +7.
    expect(worstStep).toBeLessThanOrEqual((symmetric ? 1 : 0.5) + 1e-6);
    const y = await runNBits(K as number, N, symmetric as boolean, w, a, M);
    const expected = Float64Array.from({ length: M * N }, (_, i) => {
      const [m, n] = [Math.floor(i / N), i % N];
      let s = 0;
      for (let k = 0; k < (K as number); k++) s += a[m * (K as number) + k] * deq[k * N + n];
      return s;
    });
    expect(relDiff(y, expected)).toBeLessThanOrEqual(1e-5);
  });

  it('int8: symmetric per-tensor, the largest magnitude maps to +-127, error within half a step', () => {
    const w = seeded(500, 3);
    const q = quantizeInt8(w);
    const amax = Math.max(...Array.from(w, Math.abs));
    expect(q.scale).toBeCloseTo(amax / 127, 6);
    expect(Math.max(...Array.from(q.data, Math.abs))).toBe(127);
    for (let i = 0; i < w.length; i++) expect(Math.abs(q.data[i] * q.scale - w[i])).toBeLessThanOrEqual(q.scale / 2 + 1e-7);
  });
});

describe('export-family replicas (tiny shape)', () => {
  let root: string;
  const dirOf = (v: VariantName): string => path.join(root, v);
  const graphOf = (v: VariantName) => {
    const file = path.join(dirOf(v), VARIANTS[v].file);
    return onnx.ModelProto.decode(fs.readFileSync(file)).graph as NonNullable<ReturnType<typeof onnx.ModelProto.decode>['graph']>;
  };
  const ops = (v: VariantName, op: string): INodeProto[] => (graphOf(v).node ?? []).filter((n) => n.opType === op);
  const attrOf = (n: INodeProto, name: string) => (n.attribute ?? []).find((a) => a.name === name);

  beforeAll(() => {
    root = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'rag-variants-'));
    for (const v of VARIANT_NAMES) buildTestModel('tiny', dirOf(v), { variant: v, seed: 3 });
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('writes each variant under the real file name, with the real I/O signature and nothing the real export lacks', () => {
    for (const v of VARIANT_NAMES) {
      const spec = VARIANTS[v];
      const g = graphOf(v);
      const inputs = Object.fromEntries((g.input ?? []).map((i) => [i.name, i.type?.tensorType?.elemType]));
      const outputs = Object.fromEntries((g.output ?? []).map((o) => [o.name, o.type?.tensorType?.elemType]));
      const kv = spec.io === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
      const expectedInputs: Record<string, number> = { input_ids: DataType.INT64, attention_mask: DataType.INT64 };
      if (spec.family === 'optimum') expectedInputs.position_ids = DataType.INT64;
      for (let i = 0; i < 2; i++) Object.assign(expectedInputs, { [`past_key_values.${i}.key`]: kv, [`past_key_values.${i}.value`]: kv });
      expect(inputs).toEqual(expectedInputs);
      const expectedOutputs: Record<string, number> = { logits: kv };
      for (let i = 0; i < 2; i++) Object.assign(expectedOutputs, { [`present.${i}.key`]: kv, [`present.${i}.value`]: kv });
      expect(outputs).toEqual(expectedOutputs);
      expect(fs.existsSync(path.join(dirOf(v), spec.file))).toBe(true);
    }
    expect(fs.existsSync(path.join(dirOf('genai-gqa'), 'onnx', 'model_q4f16.onnx.data'))).toBe(true);
    const genaiConfig = JSON.parse(fs.readFileSync(path.join(dirOf('genai-gqa'), 'genai_config.json'), 'utf8'));
    expect(genaiConfig.model.decoder).toMatchObject({ filename: 'onnx/model_q4f16.onnx', num_key_value_heads: 2, head_size: 16 });
    expect(Object.keys(genaiConfig.model.decoder.inputs)).not.toContain('position_ids');
  });

  it('uses the operators each exporter emits', () => {
    const softmaxType = (v: VariantName): number => {
      // The Softmax computes in the graph's compute type: fp16 variants keep fp32 only at the edges (Cast nodes).
      const casts = ops(v, 'Cast').map((n) => Number(attrOf(n, 'to')?.i));
      return casts.includes(DataType.FLOAT16) ? DataType.FLOAT16 : DataType.FLOAT;
    };
    for (const v of ['optimum-fp32', 'optimum-fp16', 'optimum-q4', 'optimum-q4f16', 'optimum-int8'] as VariantName[]) {
      expect(ops(v, 'Softmax')).toHaveLength(2);
      expect(ops(v, 'GroupQueryAttention')).toHaveLength(0);
    }
    expect(softmaxType('optimum-fp16')).toBe(DataType.FLOAT16);
    expect(softmaxType('optimum-fp32')).toBe(DataType.FLOAT);
    // fp16: weights fp16, inputs cast in, outputs cast out (keep_io_types).
    const fp16Init = (graphOf('optimum-fp16').initializer ?? []).find((t) => t.name === 'model.layers.0.mlp.up_proj.weight');
    expect(fp16Init?.dataType).toBe(DataType.FLOAT16);
    expect(ops('optimum-fp16', 'Cast').filter((n) => Number(attrOf(n, 'to')?.i) === DataType.FLOAT).length).toBeGreaterThanOrEqual(5); // logits + 4 present
    // q4: every linear layer is MatMulNBits, 4 bits, block 32; q4f16 has fp16 scales.
    for (const v of ['optimum-q4', 'optimum-q4f16', 'genai-gqa'] as VariantName[]) {
      const nb = ops(v, 'MatMulNBits');
      expect(nb.length).toBeGreaterThanOrEqual(v === 'genai-gqa' ? 2 * 5 + 1 : 2 * 7 + 1);
      for (const n of nb) {
        expect(n.domain).toBe(MS_DOMAIN);
        expect([Number(attrOf(n, 'bits')?.i), Number(attrOf(n, 'block_size')?.i)]).toEqual([4, 32]);
      }
    }
    const scalesType = (v: VariantName) => (graphOf(v).initializer ?? []).find((t) => t.name?.endsWith('_scales'))?.dataType;
    expect(scalesType('optimum-q4')).toBe(DataType.FLOAT);
    expect(scalesType('optimum-q4f16')).toBe(DataType.FLOAT16);
    // int8: quantize_dynamic's chain, one DynamicQuantizeLinear per activation (q/k/v share theirs).
    expect(ops('optimum-int8', 'MatMulInteger')).toHaveLength(2 * 7 + 1);
    expect(ops('optimum-int8', 'DynamicQuantizeLinear')).toHaveLength(2 * 4 + 1);
    // genai: fused GQA with rotary inside over packed QKV, simplified (skip) layer norms, fp16 KV, no position_ids.
    const gqa = ops('genai-gqa', 'GroupQueryAttention');
    expect(gqa).toHaveLength(2);
    for (const n of gqa) {
      expect(n.domain).toBe(MS_DOMAIN);
      expect(Number(attrOf(n, 'do_rotary')?.i)).toBe(1);
      expect(Number(attrOf(n, 'num_heads')?.i)).toBe(4);
      expect(Number(attrOf(n, 'kv_num_heads')?.i)).toBe(2);
      expect((n.input ?? []).slice(1, 3)).toEqual(['', '']); // packed QKV: no separate key/value
      expect((n.input ?? []).length).toBe(9); // up to sin_cache: position_ids (input 9) left unwired, as the builder does
    }
    expect(ops('genai-gqa', 'SimplifiedLayerNormalization')).toHaveLength(1);
    expect(ops('genai-gqa', 'SkipSimplifiedLayerNormalization')).toHaveLength(4);
    expect(ops('genai-gqa', 'Softmax')).toHaveLength(0);
    for (const v of VARIANT_NAMES) expect((graphOf(v).input ?? []).map((i) => i.name)).not.toContain('num_logits_to_keep');
  });

  it('every variant quantizes the same seeded fp32 weights (q4 within one block step, int8 within half a step)', () => {
    const base = loadVariantWeights(dirOf('optimum-fp32'), VARIANTS['optimum-fp32'].file).weights;
    const w = (v: VariantName) => loadVariantWeights(dirOf(v), VARIANTS[v].file).weights;
    const q4 = w('optimum-q4');
    const genai = w('genai-gqa');
    const name = 'model.layers.1.mlp.down_proj.weight';
    const a = base.get(name) as Float64Array;
    const b = q4.get(name) as Float64Array;
    // Symmetric int4: step = max|block| / 8; the error is at most one step (half a step except at the clamped end).
    const amax = Math.max(...Array.from(a, Math.abs));
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(amax / 8 + 1e-6);
    expect(relRms(b, a)).toBeGreaterThan(0.01); // really quantized
    // genai packs q/k/v: split back, they are the same quantization of the same weights.
    const k = 'model.layers.0.self_attn.k_proj.weight';
    expect(relRms(genai.get(k) as Float64Array, base.get(k) as Float64Array)).toBeLessThan(0.15);
    const i8 = w('optimum-int8').get(name) as Float64Array;
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - i8[i])).toBeLessThanOrEqual(amax / 127 / 2 + 1e-6);
  });

  it('each variant equals a float64 forward pass over its own stored weights, and agrees with fp32 within its quantization error', async () => {
    const base = loadVariantWeights(dirOf('optimum-fp32'), VARIANTS['optimum-fp32'].file).weights;
    let fp32Logits: Float32Array | null = null;
    for (const v of VARIANT_NAMES) {
      const model = await DecoderModel.load(dirOf(v), { intraOpThreads: 1 });
      try {
        expect(model.onnxFile).toBe(VARIANTS[v].file);
        const ids = Array.from(model.tokenizer.encode('The river rises in the hills to the north of the town and runs to the sea.'));
        const out = await model.forward(ids, range(0, ids.length), null, { logits: 'all' });
        const ref = ReferenceDecoder.load(dirOf(v), VARIANTS[v].file).forward(ids, range(0, ids.length), null);
        const logits = out.logits as Float32Array;
        expect(relDiff(logits, ref.logits)).toBeLessThanOrEqual(REF_TOL[v]);
        for (let l = 0; l < 2; l++) expect(relDiff(out.present.layers[l].key, ref.layers[l].key)).toBeLessThanOrEqual(REF_TOL[v]);
        if (v === 'optimum-fp32') {
          fp32Logits = logits;
          continue;
        }
        // Against fp32: the logits move by a few times the weights' relative quantization error e_w (a relative
        // perturbation e_w at each of ~15 linear maps on the path, sqrt(15) ~ 3.9), plus compute noise: bound 6 e_w + 0.01,
        // plus 0.03 for int8's activation quantization. Measured: q4 4.3 e_w, int8 6.1 e_w, fp16 0.0016.
        const own = loadVariantWeights(dirOf(v), VARIANTS[v].file).weights;
        let e = 0;
        let n = 0;
        for (const [name, a] of base) {
          if (!/proj\.weight$/.test(name)) continue;
          const b = own.get(name) as Float64Array;
          for (let i = 0; i < a.length; i++) {
            e += (a[i] - b[i]) ** 2;
            n += a[i] ** 2;
          }
        }
        const ew = Math.sqrt(e / n);
        const bound = 6 * ew + 0.01 + (v === 'optimum-int8' ? 0.03 : 0);
        expect(relRms(logits, fp32Logits as Float32Array)).toBeLessThanOrEqual(bound);
      } finally {
        await model.release();
      }
    }
  });

  it('variants share a folder (their own files replaced on rebuild), and builds are byte-identical for a seed', () => {
    const shared = path.join(root, 'shared');
    buildTestModel('tiny', shared, { variant: 'optimum-q4', seed: 3 });
    buildTestModel('tiny', shared, { variant: 'optimum-int8', seed: 3 });
    buildTestModel('tiny', shared, { variant: 'optimum-q4', seed: 4 });
    expect(fs.readdirSync(path.join(shared, 'onnx')).sort()).toEqual(['model_int8.onnx', 'model_q4.onnx']);
    expect(fs.readFileSync(path.join(shared, 'onnx', 'model_int8.onnx')).equals(fs.readFileSync(path.join(dirOf('optimum-int8'), 'onnx', 'model_int8.onnx')))).toBe(true);
    expect(fs.readFileSync(path.join(shared, 'onnx', 'model_q4.onnx')).equals(fs.readFileSync(path.join(dirOf('optimum-q4'), 'onnx', 'model_q4.onnx')))).toBe(false);
    buildTestModel('tiny', shared, { variant: 'optimum-q4', seed: 3 });
    expect(fs.readFileSync(path.join(shared, 'onnx', 'model_q4.onnx')).equals(fs.readFileSync(path.join(dirOf('optimum-q4'), 'onnx', 'model_q4.onnx')))).toBe(true);
    const ext = path.join(root, 'ext');
    buildTestModel('tiny', ext, { variant: 'optimum-q4f16', seed: 3, overrides: { externalData: true } });
    expect(fs.existsSync(path.join(ext, 'onnx', 'model_q4f16.onnx_data'))).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(ext, 'config.json'), 'utf8'))['transformers.js_config'].use_external_data_format).toEqual({ 'model_q4f16.onnx': 1 });
  });
});
