import { GraphBuilder } from '../onnx/GraphBuilder.js';
import { DataType, type IGraphProto } from '../onnx/proto.js';
import { ropeInverseFrequencies } from '../kv/rope.js';
import type { DecoderPreset } from './presets.js';
import { SeededRandom } from '../../infra/random.js';
import type { WeightSink } from './WeightSink.js';

export interface DecoderGraphOptions {
  seed: number;
  /** Std of the random linear/embedding weights. */
  initStd: number;
  /** Also expose each layer's attention Softmax output (named as the tap rewriter names them). */
  attentionOutputs: boolean;
  /** Reference variant: `attention_mask` is an explicit additive float mask [B,1,S,past+S]. */
  referenceMask: boolean;
}

/** Name of layer i's attention-probability tensor, identical to what an optimum export (and the tap rewriter) uses. */
export function softmaxOutputName(layer: number): string {
  return `/model/layers.${layer}/self_attn/Softmax_output_0`;
}

const F = DataType.FLOAT;
const I64 = DataType.INT64;
/** Additive mask value for disallowed positions (torch.finfo(float32).min, like HF). */
const MASK_MIN = -3.4028234663852886e38;

/**
 * A Llama/Qwen2 decoder with the optimum I/O signature. Linear weights are stored [in, out] (MatMul layout,
 * i.e. transposed from the PyTorch [out, in]) under their Hugging Face names; norms are 1-D; embeddings [V, H].
 */
export function buildDecoderGraph(p: DecoderPreset, o: DecoderGraphOptions, sink: WeightSink): IGraphProto {
  const g = new GraphBuilder();
  const D = p.hidden / p.heads;
  if (!Number.isInteger(D) || D % 2 !== 0) throw new Error(`hidden ${p.hidden} / heads ${p.heads} must be an even integer head dim`);
  if (p.heads % p.kvHeads !== 0) throw new Error(`heads ${p.heads} must be a multiple of kv heads ${p.kvHeads}`);

  const weight = (name: string, dims: number[], std: number, mean = 0): string => {
    const data = new SeededRandom(o.seed, name).fillNormal(new Float32Array(dims.reduce((a, b) => a * b, 1)), std, mean);
    return g.initializer(sink.tensor(name, dims, data));
  };
  const linear = (name: string, inDim: number, outDim: number): string => weight(`${name}.weight`, [inDim, outDim], o.initStd);
  // Norm weights near (not at) 1 so a test that ignores them fails.
  const normWeight = (name: string): string => weight(`${name}.weight`, [p.hidden], 0.1, 1);

  // ---- inputs (optimum names and symbolic dims; KV heads and head dim are fixed numbers so transformers.js can size an empty cache)
  const inputIds = g.input('input_ids', I64, ['batch_size', 'sequence_length']);
  const attentionMask = o.referenceMask
    ? g.input('attention_mask', F, ['batch_size', 1, 'sequence_length', 'total_sequence_length'])
    : g.input('attention_mask', I64, ['batch_size', 'total_sequence_length']);
  const positionIds = g.input('position_ids', I64, ['batch_size', 'sequence_length']);
  const past: { key: string; value: string }[] = [];
  for (let i = 0; i < p.layers; i++) {
    past.push({
      key: g.input(`past_key_values.${i}.key`, F, ['batch_size', p.kvHeads, 'past_sequence_length', D]),
      value: g.input(`past_key_values.${i}.value`, F, ['batch_size', p.kvHeads, 'past_sequence_length', D]),
    });
  }
  const numLogitsToKeep = g.input('num_logits_to_keep', I64, []);

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
    int64Max: g.int64('const_int64_max', [Number.MAX_SAFE_INTEGER]),
    qShape: g.int64('const_q_shape', [0, 0, p.heads, D]),
    kvShape: g.int64('const_kv_shape', [0, 0, p.kvHeads, D]),
    gqaShape: g.int64('const_gqa_shape', [0, p.kvHeads, -1, D]),
    gqaScoreShape: g.int64('const_gqa_score_shape', [0, p.kvHeads, -1, 0]),
    headScoreShape: g.int64('const_head_score_shape', [0, p.heads, -1, 0]),
    headOutShape: g.int64('const_head_out_shape', [0, p.heads, -1, D]),
    mergeShape: g.int64('const_merge_shape', [0, 0, p.heads * D]),
    scale: g.float('const_scale', [1 / Math.sqrt(D)], []),
    eps: g.float('const_rms_eps', [p.rmsNormEps], []),
    maskZero: g.float('const_mask_zero', [0], []),
    maskMin: g.float('const_mask_min', [MASK_MIN], []),
    invFreq: g.double('rotary_emb.inv_freq', ropeInverseFrequencies(D, p.ropeTheta)),
  };

  // ---- embeddings
  const embed = weight('model.embed_tokens.weight', [p.vocabSize, p.hidden], o.initStd);
  let h = g.op('Gather', [embed, inputIds], '/model/embed_tokens/Gather', { axis: 0 });

  // ---- RoPE tables: angles in float64 so large positions rotate precisely, then cast back to float32.
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
    const seqLen = g.op('Gather', [g.op('Shape', [inputIds], '/model/mask/Shape_ids'), c.idx1], '/model/mask/Gather_S', { axis: 0 });
    const total = g.op('Gather', [g.op('Shape', [attentionMask], '/model/mask/Shape_mask'), c.idx1], '/model/mask/Gather_T', { axis: 0 });
    const pastLen = g.op('Sub', [total, seqLen], '/model/mask/Sub_past');
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
      const mm = g.op('MatMul', [input, linear(`${W}.self_attn.${name}`, input === x ? p.hidden : p.heads * D, outDim)], `${L}/self_attn/${name}/MatMul`);
      return bias ? g.op('Add', [mm, weight(`${W}.self_attn.${name}.bias`, [outDim], o.initStd)], `${L}/self_attn/${name}/Add`) : mm;
    };
    const heads = (t: string, shape: string, scope: string): string =>
      g.op('Transpose', [g.op('Reshape', [t, shape], `${scope}/Reshape`)], `${scope}/Transpose`, { perm: [0, 2, 1, 3] });

    const q = rotate(heads(project('q_proj', x, p.heads * D, p.qkvBias), c.qShape, `${L}/self_attn/q`), `${L}/self_attn/q_rope`);
    const k = rotate(heads(project('k_proj', x, p.kvHeads * D, p.qkvBias), c.kvShape, `${L}/self_attn/k`), `${L}/self_attn/k_rope`);
    const v = heads(project('v_proj', x, p.kvHeads * D, p.qkvBias), c.kvShape, `${L}/self_attn/v`);
    const presentK = g.opNamed('Concat', [past[i].key, k], `${L}/self_attn/Concat_key`, `present.${i}.key`, { axis: 2 });
    const presentV = g.opNamed('Concat', [past[i].value, v], `${L}/self_attn/Concat_value`, `present.${i}.value`, { axis: 2 });

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
    const gate = g.op('MatMul', [y, linear(`${W}.mlp.gate_proj`, p.hidden, p.intermediate)], `${L}/mlp/gate_proj/MatMul`);
    const up = g.op('MatMul', [y, linear(`${W}.mlp.up_proj`, p.hidden, p.intermediate)], `${L}/mlp/up_proj/MatMul`);
    const silu = g.op('Mul', [gate, g.op('Sigmoid', [gate], `${L}/mlp/act_fn/Sigmoid`)], `${L}/mlp/act_fn/Mul`);
    const down = g.op('MatMul', [g.op('Mul', [silu, up], `${L}/mlp/Mul`), linear(`${W}.mlp.down_proj`, p.intermediate, p.hidden)], `${L}/mlp/down_proj/MatMul`);
    h = g.op('Add', [h, down], `${L}/Add_mlp`);
  }

  const normed = rmsNorm(h, normWeight('model.norm'), '/model/norm');
  // logits only for the last num_logits_to_keep positions (0 keeps all: Slice from -0 = 0).
  const start = g.op('Neg', [g.op('Unsqueeze', [numLogitsToKeep, c.axes0], '/lm_head/Unsqueeze_keep')], '/lm_head/Neg_keep');
  const kept = g.op('Slice', [normed, start, c.int64Max, c.axes1], '/lm_head/Slice');
  const head = p.tiedEmbeddings
    ? g.op('Transpose', [embed], '/lm_head/Transpose_tied', { perm: [1, 0] })
    : weight('lm_head.weight', [p.hidden, p.vocabSize], o.initStd);
  g.opNamed('MatMul', [kept, head], '/lm_head/MatMul', 'logits');

  g.output('logits', F, ['batch_size', 'logits_sequence_length', p.vocabSize]);
  for (let i = 0; i < p.layers; i++) {
    g.output(`present.${i}.key`, F, ['batch_size', p.kvHeads, 'total_sequence_length', D]);
    g.output(`present.${i}.value`, F, ['batch_size', p.kvHeads, 'total_sequence_length', D]);
  }
  if (o.attentionOutputs) {
    for (let i = 0; i < p.layers; i++) g.output(softmaxOutputName(i), F, ['batch_size', p.heads, 'sequence_length', 'total_sequence_length']);
  }
  return { name: 'main_graph', node: g.nodes, initializer: g.initializers, input: g.inputs, output: g.outputs };
}
