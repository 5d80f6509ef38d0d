import type { GraphBuilder } from '../onnx/GraphBuilder.js';
import { DataType, type IGraphProto } from '../onnx/proto.js';
import { ropeInverseFrequencies } from '../kv/rope.js';
import type { Numerics } from './numerics.js';
import type { DecoderPreset } from './presets.js';
import type { DecoderWeights } from './seededWeights.js';

export interface DecoderGraphOptions {
  weights: DecoderWeights;
  /** Also expose each layer's attention Softmax output (named as the tap rewriter names them). */
  attentionOutputs: boolean;
  /** Reference variant: `attention_mask` is an explicit additive float mask [B,1,S,past+S]. */
  referenceMask: boolean;
  /**
   * No `position_ids` input: positions are derived inside the graph from the attention mask (past length + i), as
   * some older exports do. Nothing can be rewired into such a graph: the runtime must refuse caller positions.
   */
  internalPositions?: boolean;
}

/** Name of layer i's attention-probability tensor, identical to what an optimum export (and the tap rewriter) uses. */
export function softmaxOutputName(layer: number): string {
  return `/model/layers.${layer}/self_attn/Softmax_output_0`;
}

const I64 = DataType.INT64;
/** Additive mask value for disallowed positions (torch.finfo(float32).min, like HF; clamped to -1e4 by fp16 conversion). */
const MASK_MIN = -3.4028234663852886e38;

/**
 * A Llama/Qwen2 decoder with the optimum I/O signature (input_ids, attention_mask, position_ids,
 * past_key_values.N.key/value -> logits, present.N.key/value), in the numerics of one optimum variant: fp32,
 * fp16 with fp32 I/O (keep_io_types), MatMulNBits q4 (fp32 or fp16 compute) or dynamic int8. Node and tensor
 * names follow the torch exporter, so tools written for real exports find the same names here.
 */
export function buildDecoderGraph(p: DecoderPreset, o: DecoderGraphOptions, g: GraphBuilder, nx: Numerics): IGraphProto {
  const D = p.hidden / p.heads;
  if (!Number.isInteger(D) || D % 2 !== 0) throw new Error(`hidden ${p.hidden} / heads ${p.heads} must be an even integer head dim`);
  if (p.heads % p.kvHeads !== 0) throw new Error(`heads ${p.heads} must be a multiple of kv heads ${p.kvHeads}`);
  if ((o.referenceMask || o.attentionOutputs) && (nx.F !== DataType.FLOAT || nx.io !== DataType.FLOAT)) {
    throw new Error('reference-mask and attention-output test variants exist for fp32 compute only');
  }
  const w = o.weights;
  const F = nx.F;
  const linear = (name: string, input: string, inDim: number, outDim: number, scope: string, outName: string | null = null): string =>
    nx.linear(input, `${name}.weight`, w.linear(name, inDim, outDim), inDim, outDim, scope, outName);
  const normWeight = (name: string): string => nx.weight(`${name}.weight`, [p.hidden], w.norm(name, p.hidden));

  // ---- inputs (optimum names and symbolic dims; KV heads and head dim are fixed numbers so transformers.js can size an empty cache)
  const inputIds = g.input('input_ids', I64, ['batch_size', 'sequence_length']);
  const attentionMask = o.referenceMask
    ? g.input('attention_mask', DataType.FLOAT, ['batch_size', 1, 'sequence_length', 'total_sequence_length'])
    : g.input('attention_mask', I64, ['batch_size', 'total_sequence_length']);
  const positionInput = o.internalPositions ? null : g.input('position_ids', I64, ['batch_size', 'sequence_length']);
  const past: { key: string; value: string }[] = [];
  for (let i = 0; i < p.layers; i++) {
    past.push({
      key: g.input(`past_key_values.${i}.key`, nx.io, ['batch_size', p.kvHeads, 'past_sequence_length', D]),
      value: g.input(`past_key_values.${i}.value`, nx.io, ['batch_size', p.kvHeads, 'past_sequence_length', D]),
    });
  }

  // ---- shared constants
  const c = {
    zero: g.int64('const_0', [0], []),
    one: g.int64('const_1', [1], []),
    idx1: g.int64('const_idx_1', [1], []),
    axes0: g.int64('const_axes_0', [0]),
    axes1: g.int64('const_axes_1', [1]),
    axes2: g.int64('const_axes_2', [2]),
    axes3: g.int64('const_axes_3', [3]),
    axes12: g.int64('const_axes_1_2', [1, 2]),
    zero1d: g.int64('const_zero_1d', [0]),
    halfStart: g.int64('const_half_start', [D / 2]),
    halfEnd: g.int64('const_half_end', [D]),
    qShape: g.int64('const_q_shape', [0, 0, p.heads, D]),
    kvShape: g.int64('const_kv_shape', [0, 0, p.kvHeads, D]),
    gqaShape: g.int64('const_gqa_shape', [0, p.kvHeads, -1, D]),
    gqaScoreShape: g.int64('const_gqa_score_shape', [0, p.kvHeads, -1, 0]),
    headScoreShape: g.int64('const_head_score_shape', [0, p.heads, -1, 0]),
    headOutShape: g.int64('const_head_out_shape', [0, p.heads, -1, D]),
    mergeShape: g.int64('const_merge_shape', [0, 0, p.heads * D]),
    scale: nx.constant('const_scale', [1 / Math.sqrt(D)], []),
    eps: nx.constant('const_rms_eps', [p.rmsNormEps], []),
    maskZero: nx.constant('const_mask_zero', [0], []),
    maskMin: nx.constant('const_mask_min', [MASK_MIN], []),
    invFreq: g.double('rotary_emb.inv_freq', ropeInverseFrequencies(D, p.ropeTheta)),
  };

  // ---- embeddings
  const embedValues = w.embedding(p.vocabSize, p.hidden);
  const embed = nx.weight('model.embed_tokens.weight', [p.vocabSize, p.hidden], embedValues);
  let h = g.op('Gather', [embed, inputIds], '/model/embed_tokens/Gather', { axis: 0 });

  const seqLen = g.op('Gather', [g.op('Shape', [inputIds], '/model/mask/Shape_ids'), c.idx1], '/model/mask/Gather_S', { axis: 0 });
  const total = g.op('Gather', [g.op('Shape', [attentionMask], '/model/mask/Shape_mask'), c.idx1], '/model/mask/Gather_T', { axis: 0 });
  const pastLen = g.op('Sub', [total, seqLen], '/model/mask/Sub_past');
  const positionIds = positionInput ?? g.op('Unsqueeze', [g.op('Range', [pastLen, total, c.one], '/model/positions/Range'), c.axes0], '/model/positions/Unsqueeze');

  // ---- RoPE tables: angles in float64 so large positions rotate precisely, then cast to the compute type.
  const posD = g.op('Cast', [positionIds], '/model/rotary_emb/Cast', { to: DataType.DOUBLE });
  const posCol = g.op('Unsqueeze', [posD, c.axes2], '/model/rotary_emb/Unsqueeze');
  const freqs = g.op('Mul', [posCol, c.invFreq], '/model/rotary_emb/Mul');
  const emb = g.op('Concat', [freqs, freqs], '/model/rotary_emb/Concat', { axis: -1 });
  const cos4 = g.op('Unsqueeze', [g.op('Cast', [g.op('Cos', [emb], '/model/rotary_emb/Cos')], '/model/rotary_emb/Cast_cos', { to: F }), c.axes1], '/model/rotary_emb/Unsqueeze_cos');
  const sin4 = g.op('Unsqueeze', [g.op('Cast', [g.op('Sin', [emb], '/model/rotary_emb/Sin')], '/model/rotary_emb/Cast_sin', { to: F }), c.axes1], '/model/rotary_emb/Unsqueeze_sin');

  // ---- additive attention mask [B,1,S,T]
  let mask: string;
  if (o.referenceMask) {
    mask = attentionMask;
  } else {
    const rows = g.op('Range', [pastLen, total, c.one], '/model/mask/Range_rows');
    const cols = g.op('Range', [c.zero, total, c.one], '/model/mask/Range_cols');
    const causal = g.op(
      'LessOrEqual',
      [g.op('Unsqueeze', [cols, c.axes0], '/model/mask/Unsqueeze_cols'), g.op('Unsqueeze', [rows, c.axes1], '/model/mask/Unsqueeze_rows')],
      '/model/mask/LessOrEqual',
    );
    const keep = g.op('Unsqueeze', [g.op('Cast', [attentionMask], '/model/mask/Cast_bool', { to: DataType.BOOL }), c.axes12], '/model/mask/Unsqueeze_keep');
    const allowed = g.op('And', [causal, keep], '/model/mask/And');
    mask = g.op('Where', [allowed, c.maskZero, c.maskMin], '/model/mask/Where');
  }

  const rmsNorm = (x: string, w: string, scope: string): string => {
    const sq = g.op('Mul', [x, x], `${scope}/Mul_sq`);
    const mean = g.op('ReduceMean', [sq], `${scope}/ReduceMean`, { axes: [-1], keepdims: 1 });
    const rms = g.op('Sqrt', [g.op('Add', [mean, c.eps], `${scope}/Add_eps`)], `${scope}/Sqrt`);
    return g.op('Mul', [g.op('Div', [x, rms], `${scope}/Div`), w], `${scope}/Mul_weight`);
  };
  const rotate = (x: string, scope: string): string => {
    const x1 = g.op('Slice', [x, c.zero1d, c.halfStart, c.axes3], `${scope}/Slice_1`);
    const x2 = g.op('Slice', [x, c.halfStart, c.halfEnd, c.axes3], `${scope}/Slice_2`);
    const rot = g.op('Concat', [g.op('Neg', [x2], `${scope}/Neg`), x1], `${scope}/Concat`, { axis: -1 });
    return g.op('Add', [g.op('Mul', [x, cos4], `${scope}/Mul_cos`), g.op('Mul', [rot, sin4], `${scope}/Mul_sin`)], `${scope}/Add`);
  };

  for (let i = 0; i < p.layers; i++) {
    const L = `/model/layers.${i}`;
    const W = `model.layers.${i}`;
    const x = rmsNorm(h, normWeight(`${W}.input_layernorm`), `${L}/input_layernorm`);
    const project = (name: 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj', input: string, outDim: number, bias: boolean): string => {
      const proj = `${W}.self_attn.${name}`;
      const mm = linear(proj, input, input === x ? p.hidden : p.heads * D, outDim, `${L}/self_attn/${name}`);
      return bias ? g.op('Add', [mm, nx.weight(`${proj}.bias`, [outDim], w.bias(proj, outDim))], `${L}/self_attn/${name}/Add`) : mm;
    };
    const heads = (t: string, shape: string, scope: string): string =>
      g.op('Transpose', [g.op('Reshape', [t, shape], `${scope}/Reshape`)], `${scope}/Transpose`, { perm: [0, 2, 1, 3] });

    const q = rotate(heads(project('q_proj', x, p.heads * D, p.qkvBias), c.qShape, `${L}/self_attn/q`), `${L}/self_attn/q_rope`);
    const k = rotate(heads(project('k_proj', x, p.kvHeads * D, p.qkvBias), c.kvShape, `${L}/self_attn/k`), `${L}/self_attn/k_rope`);
    const v = heads(project('v_proj', x, p.kvHeads * D, p.qkvBias), c.kvShape, `${L}/self_attn/v`);
    // keep_io_types variants cast the cache at the graph's edges: past in, present out.
    const cacheOf = (kind: 'key' | 'value', fresh: string): string =>
      nx.toIo(`present.${i}.${kind}`, `${L}/self_attn/present_${kind}`, (out) => {
        const inputs = [nx.fromIo(past[i][kind], `${L}/self_attn/past_${kind}`), fresh];
        const name = `${L}/self_attn/Concat_${kind}`;
        return out ? g.opNamed('Concat', inputs, name, out, { axis: 2 }) : g.op('Concat', inputs, name, { axis: 2 });
      });
    const presentK = cacheOf('key', k);
    const presentV = cacheOf('value', v);

    // Grouped-query attention without Expand: fold each KV group's query heads into the row axis.
    const qGroups = g.op('Reshape', [q, c.gqaShape], `${L}/self_attn/Reshape_gqa`);
    const kT = g.op('Transpose', [presentK], `${L}/self_attn/Transpose_key`, { perm: [0, 1, 3, 2] });
    const scores = g.op('Mul', [g.op('MatMul', [qGroups, kT], `${L}/self_attn/MatMul_qk`), c.scale], `${L}/self_attn/Mul_scale`);
    const masked = g.op('Add', [g.op('Reshape', [scores, c.headScoreShape], `${L}/self_attn/Reshape_scores`), mask], `${L}/self_attn/Add_mask`);
    const probs = g.op('Softmax', [masked], `${L}/self_attn/Softmax`, { axis: -1 });
    if (probs !== softmaxOutputName(i)) throw new Error(`internal: softmax output named ${probs}`);
    const ctx = g.op('MatMul', [g.op('Reshape', [probs, c.gqaScoreShape], `${L}/self_attn/Reshape_probs`), presentV], `${L}/self_attn/MatMul_pv`);
    const merged = g.op(
      'Reshape',
      [g.op('Transpose', [g.op('Reshape', [ctx, c.headOutShape], `${L}/self_attn/Reshape_ctx`)], `${L}/self_attn/Transpose_ctx`, { perm: [0, 2, 1, 3] }), c.mergeShape],
      `${L}/self_attn/Reshape_merge`,
    );
    h = g.op('Add', [h, project('o_proj', merged, p.hidden, false)], `${L}/Add_attn`);

    const y = rmsNorm(h, normWeight(`${W}.post_attention_layernorm`), `${L}/post_attention_layernorm`);
    const gate = linear(`${W}.mlp.gate_proj`, y, p.hidden, p.intermediate, `${L}/mlp/gate_proj`);
    const up = linear(`${W}.mlp.up_proj`, y, p.hidden, p.intermediate, `${L}/mlp/up_proj`);
    const silu = g.op('Mul', [gate, g.op('Sigmoid', [gate], `${L}/mlp/act_fn/Sigmoid`)], `${L}/mlp/act_fn/Mul`);
    const down = linear(`${W}.mlp.down_proj`, g.op('Mul', [silu, up], `${L}/mlp/Mul`), p.intermediate, p.hidden, `${L}/mlp/down_proj`);
    h = g.op('Add', [h, down], `${L}/Add_mlp`);
  }

  const normed = rmsNorm(h, normWeight('model.norm'), '/model/norm');
  // Logits for every position: real exports have no logits selector (the runtime adds one by rewrite).
  nx.toIo('logits', '/lm_head', (out) => {
    if (!p.tiedEmbeddings) return linear('lm_head', normed, p.hidden, p.vocabSize, '/lm_head', out);
    // Tied: the head reads the embedding through a Transpose, which weight quantizers leave in float.
    const head = g.op('Transpose', [embed], '/lm_head/Transpose_tied', { perm: [1, 0] });
    return out ? g.opNamed('MatMul', [normed, head], '/lm_head/MatMul', out) : g.op('MatMul', [normed, head], '/lm_head/MatMul');
  });

  g.output('logits', nx.io, ['batch_size', 'sequence_length', p.vocabSize]);
  for (let i = 0; i < p.layers; i++) {
    g.output(`present.${i}.key`, nx.io, ['batch_size', p.kvHeads, 'total_sequence_length', D]);
    g.output(`present.${i}.value`, nx.io, ['batch_size', p.kvHeads, 'total_sequence_length', D]);
  }
  if (o.attentionOutputs) {
    for (let i = 0; i < p.layers; i++) g.output(softmaxOutputName(i), F, ['batch_size', p.heads, 'sequence_length', 'total_sequence_length']);
  }
  return { name: 'main_graph', node: g.nodes, initializer: g.initializers, input: g.inputs, output: g.outputs };
}
