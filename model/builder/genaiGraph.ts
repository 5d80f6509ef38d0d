import { MS_DOMAIN, type GraphBuilder } from '../onnx/GraphBuilder.js';
import { DataType, type IGraphProto } from '../onnx/proto.js';
import { ropeInverseFrequencies } from '../kv/rope.js';
import type { Numerics } from './numerics.js';
import type { DecoderPreset } from './presets.js';
import { transpose, type DecoderWeights } from './seededWeights.js';

const I64 = DataType.INT64;
const I32 = DataType.INT32;

/** Packs per-projection [K, N_i] weights side by side into [K, sum N_i] (the packed QKV MatMul). */
function packColumns(parts: { values: Float32Array; cols: number }[], K: number): Float32Array {
  const total = parts.reduce((n, p) => n + p.cols, 0);
  const out = new Float32Array(K * total);
  for (let k = 0; k < K; k++) {
    let at = k * total;
    for (const p of parts) {
      out.set(p.values.subarray(k * p.cols, (k + 1) * p.cols), at);
      at += p.cols;
    }
  }
  return out;
}

/**
 * The onnxruntime-genai model builder's decoder (its GroupQueryAttention path): packed QKV through one MatMulNBits,
 * com.microsoft.GroupQueryAttention with rotary inside (do_rotary=1, cos/sin caches of max_position_embeddings rows),
 * SimplifiedLayerNormalization then SkipSimplifiedLayerNormalization carrying the residual, KV in the I/O type, and
 * no position_ids input: positions come from the cache index (seqlens_k from the attention mask). Same seeded weights
 * as the optimum variants; the (tied) LM head is a quantized copy of the embedding, as the builder writes it.
 */
export function buildGenaiGraph(p: DecoderPreset, weights: DecoderWeights, g: GraphBuilder, nx: Numerics): IGraphProto {
  const D = p.hidden / p.heads;
  const eps = { float: p.rmsNormEps };
  const linear = (name: string, input: string, inDim: number, outDim: number, scope: string, outName: string | null = null): string =>
    nx.linear(input, `${name}.weight`, weights.linear(name, inDim, outDim), inDim, outDim, scope, outName);
  const normWeight = (name: string): string => nx.weight(`${name}.weight`, [p.hidden], weights.norm(name, p.hidden));

  const inputIds = g.input('input_ids', I64, ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', I64, ['batch_size', 'total_sequence_length']);
  const past = Array.from({ length: p.layers }, (_, i) => ({
    key: g.input(`past_key_values.${i}.key`, nx.io, ['batch_size', p.kvHeads, 'past_sequence_length', D]),
    value: g.input(`past_key_values.${i}.value`, nx.io, ['batch_size', p.kvHeads, 'past_sequence_length', D]),
  }));

  // seqlens_k = sum(mask) - 1 and total_sequence_length, both int32, as GroupQueryAttention takes them.
  const M = '/model/attn_mask_reformat/attn_mask_subgraph';
  const one = g.int64('/model/constants/INT64/1', [1], []);
  const axes1 = g.int64('/model/constants/INT64/axes_1', [1]);
  const idx1 = g.int64('/model/constants/INT64/idx_1', [1], []);
  const summed = g.op('ReduceSum', [attentionMask, axes1], `${M}/ReduceSum`, { keepdims: 0 });
  const seqlensK = g.op('Cast', [g.op('Sub', [summed, one], `${M}/Sub`)], `${M}/Sub/Cast`, { to: I32 });
  const totalLen = g.op('Cast', [g.op('Gather', [g.op('Shape', [attentionMask], `${M}/Shape`), idx1], `${M}/Gather`, { axis: 0 })], `${M}/Gather/Cast`, { to: I32 });

  // cos/sin caches [max positions, D/2] in the compute type (rotate-half layout, float32-rounded inverse frequencies).
  const invFreq = ropeInverseFrequencies(D, p.ropeTheta);
  const cos = new Float32Array(p.maxPositions * (D / 2));
  const sin = new Float32Array(p.maxPositions * (D / 2));
  for (let pos = 0; pos < p.maxPositions; pos++) {
    for (let i = 0; i < D / 2; i++) {
      const angle = Math.fround(pos * invFreq[i]);
      cos[pos * (D / 2) + i] = Math.cos(angle);
      sin[pos * (D / 2) + i] = Math.sin(angle);
    }
  }
  const cosCache = nx.weight('cos_cache', [p.maxPositions, D / 2], cos);
  const sinCache = nx.weight('sin_cache', [p.maxPositions, D / 2], sin);

  const embedValues = weights.embedding(p.vocabSize, p.hidden);
  const embed = nx.weight('model.embed_tokens.weight', [p.vocabSize, p.hidden], embedValues);
  const h0 = g.op('Gather', [embed, inputIds], '/model/embed_tokens/Gather', { axis: 0 });

  let residual = h0;
  let pending: string | null = null; // the last sublayer's output, added to the residual by the next Skip norm
  const norm = (name: string, scope: string): string => {
    const w = normWeight(name);
    if (pending === null) return g.op('SimplifiedLayerNormalization', [residual, w], `${scope}/SimplifiedLayerNormalization`, { axis: -1, epsilon: eps, stash_type: 1 });
    const [out, , , sum] = g.node('SkipSimplifiedLayerNormalization', [pending, residual, w], `${scope}/SkipLayerNorm`, { epsilon: eps }, [`${scope}/SkipLayerNorm/output_0`, '', '', `${scope}/SkipLayerNorm/output_3`], MS_DOMAIN);
    residual = sum;
    return out;
  };

  const qkvCols = (p.heads + 2 * p.kvHeads) * D;
  for (let i = 0; i < p.layers; i++) {
    const L = `/model/layers.${i}`;
    const W = `model.layers.${i}`;
    const x = norm(`${W}.input_layernorm`, `${L}/input_layernorm`);
    const proj = (n: string): string => `${W}.self_attn.${n}`;
    const qkvWeight = packColumns(
      [
        { values: weights.linear(proj('q_proj'), p.hidden, p.heads * D), cols: p.heads * D },
        { values: weights.linear(proj('k_proj'), p.hidden, p.kvHeads * D), cols: p.kvHeads * D },
        { values: weights.linear(proj('v_proj'), p.hidden, p.kvHeads * D), cols: p.kvHeads * D },
      ],
      p.hidden,
    );
    let qkv = nx.linear(x, `${W}.attn.qkv_proj.weight`, qkvWeight, p.hidden, qkvCols, `${L}/attn/qkv_proj`);
    if (p.qkvBias) {
      const bias = Float32Array.from([...weights.bias(proj('q_proj'), p.heads * D), ...weights.bias(proj('k_proj'), p.kvHeads * D), ...weights.bias(proj('v_proj'), p.kvHeads * D)]);
      qkv = g.op('Add', [qkv, nx.weight(`${W}.attn.qkv_proj.bias`, [qkvCols], bias)], `${L}/attn/qkv_proj/Add`);
    }
    const presentNames = ['key', 'value'].map((kind) => (nx.F === nx.io ? `present.${i}.${kind}` : `${L}/attn/present_${kind}`));
    const [attn] = g.node(
      'GroupQueryAttention',
      [qkv, '', '', nx.fromIo(past[i].key, `${L}/attn/past_key`), nx.fromIo(past[i].value, `${L}/attn/past_value`), seqlensK, totalLen, cosCache, sinCache],
      `${L}/attn/GroupQueryAttention`,
      { num_heads: p.heads, kv_num_heads: p.kvHeads, scale: { float: 1 / Math.sqrt(D) }, do_rotary: 1, rotary_interleaved: 0, local_window_size: -1, softcap: { float: 0 } },
      [`${L}/attn/GroupQueryAttention/output_0`, ...presentNames],
      MS_DOMAIN,
    );
    if (nx.F !== nx.io) for (const [k, kind] of ['key', 'value'].entries()) g.opNamed('Cast', [presentNames[k]], `${L}/attn/present_${kind}/Cast`, `present.${i}.${kind}`, { to: nx.io });
    pending = linear(`${W}.self_attn.o_proj`, attn, p.heads * D, p.hidden, `${L}/attn/o_proj`);

    const y = norm(`${W}.post_attention_layernorm`, `${L}/post_attention_layernorm`);
    const gate = linear(`${W}.mlp.gate_proj`, y, p.hidden, p.intermediate, `${L}/mlp/gate_proj`);
    const up = linear(`${W}.mlp.up_proj`, y, p.hidden, p.intermediate, `${L}/mlp/up_proj`);
    const act = g.op('Mul', [gate, g.op('Sigmoid', [gate], `${L}/mlp/act_fn/Sigmoid`)], `${L}/mlp/act_fn/Mul`);
    pending = linear(`${W}.mlp.down_proj`, g.op('Mul', [act, up], `${L}/mlp/Mul`), p.intermediate, p.hidden, `${L}/mlp/down_proj`);
  }
  // Final norm: a Skip norm whose residual sum is not needed any more.
  const finalW = normWeight('model.norm');
  const [normed] = g.node('SkipSimplifiedLayerNormalization', [pending as string, residual, finalW], '/model/norm/SkipLayerNorm', { epsilon: eps }, ['/model/norm/SkipLayerNorm/output_0'], MS_DOMAIN);

  const headWeight = p.tiedEmbeddings ? transpose(embedValues, p.vocabSize, p.hidden) : weights.linear('lm_head', p.hidden, p.vocabSize);
  nx.toIo('logits', '/lm_head', (out) => nx.linear(normed, 'lm_head.weight', headWeight, p.hidden, p.vocabSize, '/lm_head', out));

  g.output('logits', nx.io, ['batch_size', 'sequence_length', p.vocabSize]);
  for (let i = 0; i < p.layers; i++) {
    g.output(`present.${i}.key`, nx.io, ['batch_size', p.kvHeads, 'total_sequence_length', D]);
    g.output(`present.${i}.value`, nx.io, ['batch_size', p.kvHeads, 'total_sequence_length', D]);
  }
  return { name: 'main_graph', node: g.nodes, initializer: g.initializers, input: g.inputs, output: g.outputs };
}
