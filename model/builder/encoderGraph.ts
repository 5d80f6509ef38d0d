import { GraphBuilder } from '../onnx/GraphBuilder.js';
import { DataType, type IGraphProto } from '../onnx/proto.js';
import type { EncoderPreset } from './presets.js';
import { SeededRandom } from '../../infra/random.js';
import type { WeightSink } from './WeightSpool.js';

const F = DataType.FLOAT;
const I64 = DataType.INT64;

/** A BERT-style encoder (post-norm, GELU) with the optimum feature-extraction signature -> `last_hidden_state`. */
export function buildEncoderGraph(p: EncoderPreset, o: { seed: number; initStd: number }, sink: WeightSink): IGraphProto {
  const g = new GraphBuilder();
  const D = p.hidden / p.heads;
  const weight = (name: string, dims: number[], std: number, mean = 0): string => {
    const data = new SeededRandom(o.seed, name).fillNormal(new Float32Array(dims.reduce((a, b) => a * b, 1)), std, mean);
    return g.initializer(sink.tensor(name, dims, data));
  };
  const dense = (x: string, name: string, inDim: number, outDim: number, scope: string): string =>
    g.op('Add', [g.op('MatMul', [x, weight(`${name}.weight`, [inDim, outDim], o.initStd)], `${scope}/MatMul`), weight(`${name}.bias`, [outDim], o.initStd)], `${scope}/Add`);
  const layerNorm = (x: string, name: string, scope: string): string =>
    g.op('LayerNormalization', [x, weight(`${name}.weight`, [p.hidden], 0.1, 1), weight(`${name}.bias`, [p.hidden], 0.02)], `${scope}/LayerNormalization`, {
      axis: -1,
      epsilon: { float: p.layerNormEps },
    });

  const ids = g.input('input_ids', I64, ['batch_size', 'sequence_length']);
  const mask = g.input('attention_mask', I64, ['batch_size', 'sequence_length']);
  const types = g.input('token_type_ids', I64, ['batch_size', 'sequence_length']);
  const c = {
    zero: g.int64('const_0', [0], []),
    one: g.int64('const_1', [1], []),
    idx1: g.int64('const_idx_1', [1], []),
    axes0: g.int64('const_axes_0', [0]),
    axes12: g.int64('const_axes_1_2', [1, 2]),
    headShape: g.int64('const_head_shape', [0, 0, p.heads, D]),
    mergeShape: g.int64('const_merge_shape', [0, 0, p.hidden]),
    scale: g.float('const_scale', [1 / Math.sqrt(D)], []),
    oneF: g.float('const_one_f', [1], []),
    half: g.float('const_half', [0.5], []),
    invSqrt2: g.float('const_inv_sqrt2', [Math.SQRT1_2], []),
    maskMin: g.float('const_mask_min', [-3.4028234663852886e38], []),
  };

  const seqLen = g.op('Gather', [g.op('Shape', [ids], '/embeddings/Shape'), c.idx1], '/embeddings/Gather_S', { axis: 0 });
  const positions = g.op('Unsqueeze', [g.op('Range', [c.zero, seqLen, c.one], '/embeddings/Range'), c.axes0], '/embeddings/Unsqueeze');
  const words = g.op('Gather', [weight('embeddings.word_embeddings.weight', [p.vocabSize, p.hidden], o.initStd), ids], '/embeddings/word_embeddings/Gather', { axis: 0 });
  const pos = g.op('Gather', [weight('embeddings.position_embeddings.weight', [p.maxPositions, p.hidden], o.initStd), positions], '/embeddings/position_embeddings/Gather', { axis: 0 });
  const typ = g.op('Gather', [weight('embeddings.token_type_embeddings.weight', [p.typeVocabSize, p.hidden], o.initStd), types], '/embeddings/token_type_embeddings/Gather', { axis: 0 });
  let h = layerNorm(g.op('Add', [g.op('Add', [words, pos], '/embeddings/Add'), typ], '/embeddings/Add_1'), 'embeddings.LayerNorm', '/embeddings/LayerNorm');

  // Padding mask: 0 where attended, float32 min where padded, broadcast [B,1,1,S].
  const maskF = g.op('Unsqueeze', [g.op('Cast', [mask], '/mask/Cast', { to: F }), c.axes12], '/mask/Unsqueeze');
  const additive = g.op('Mul', [g.op('Sub', [c.oneF, maskF], '/mask/Sub'), c.maskMin], '/mask/Mul');

  for (let i = 0; i < p.layers; i++) {
    const L = `/encoder/layer.${i}`;
    const W = `encoder.layer.${i}`;
    const heads = (t: string, name: string): string =>
      g.op('Transpose', [g.op('Reshape', [t, c.headShape], `${L}/attention/self/${name}/Reshape`)], `${L}/attention/self/${name}/Transpose`, { perm: [0, 2, 1, 3] });
    const q = heads(dense(h, `${W}.attention.self.query`, p.hidden, p.hidden, `${L}/attention/self/query`), 'q');
    const k = heads(dense(h, `${W}.attention.self.key`, p.hidden, p.hidden, `${L}/attention/self/key`), 'k');
    const v = heads(dense(h, `${W}.attention.self.value`, p.hidden, p.hidden, `${L}/attention/self/value`), 'v');
    const kT = g.op('Transpose', [k], `${L}/attention/self/Transpose_key`, { perm: [0, 1, 3, 2] });
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, kT], `${L}/attention/self/MatMul`), c.scale], `${L}/attention/self/Mul`), additive], `${L}/attention/self/Add`);
    const probs = g.op('Softmax', [scores], `${L}/attention/self/Softmax`, { axis: -1 });
    const ctx = g.op('MatMul', [probs, v], `${L}/attention/self/MatMul_1`);
    const merged = g.op('Reshape', [g.op('Transpose', [ctx], `${L}/attention/self/Transpose_ctx`, { perm: [0, 2, 1, 3] }), c.mergeShape], `${L}/attention/self/Reshape_merge`);
    const attnOut = dense(merged, `${W}.attention.output.dense`, p.hidden, p.hidden, `${L}/attention/output/dense`);
    h = layerNorm(g.op('Add', [attnOut, h], `${L}/attention/output/Add`), `${W}.attention.output.LayerNorm`, `${L}/attention/output/LayerNorm`);
    const inter = dense(h, `${W}.intermediate.dense`, p.hidden, p.intermediate, `${L}/intermediate/dense`);
    // Exact (erf) GELU, as BERT uses; opset 17 has no Gelu op.
    const erf = g.op('Erf', [g.op('Mul', [inter, c.invSqrt2], `${L}/intermediate/Mul_scale`)], `${L}/intermediate/Erf`);
    const gelu = g.op('Mul', [g.op('Mul', [inter, c.half], `${L}/intermediate/Mul_half`), g.op('Add', [erf, c.oneF], `${L}/intermediate/Add_one`)], `${L}/intermediate/Mul`);
    const out = dense(gelu, `${W}.output.dense`, p.intermediate, p.hidden, `${L}/output/dense`);
    h = layerNorm(g.op('Add', [out, h], `${L}/output/Add`), `${W}.output.LayerNorm`, `${L}/output/LayerNorm`);
  }
  g.opNamed('Identity', [h], '/Identity_last_hidden_state', 'last_hidden_state');
  g.output('last_hidden_state', F, ['batch_size', 'sequence_length', p.hidden]);
  return { name: 'main_graph', node: g.nodes, initializer: g.initializers, input: g.inputs, output: g.outputs };
}
