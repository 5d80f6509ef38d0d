import fs from 'node:fs';
import path from 'node:path';
import { analyseDecoderExport, type DecoderExport } from './DecoderExport.js';
import { OnnxIndex } from './OnnxIndex.js';
import { OnnxRewrite } from './OnnxRewrite.js';
import { DataType, tensorValueInfo, type INodeProto } from './proto.js';
import type { GqaQueryMath, LayerTap, TapsMode } from './DecoderExport.js';

/** Inputs and outputs the rewrite adds (the runtime feeds and fetches them by these names). */
export const LOGITS_ROWS_INPUT = 'rag_logits_rows';
export const ATTENTION_ROWS_INPUT = 'rag_attention_rows';
export const attentionOutputName = (layer: number): string => `rag_attention.${layer}`;
export const newKvOutputName = (layer: number, kind: 'key' | 'value'): string => `rag_new.${layer}.${kind}`;
/** Past-key rotation inputs: a bool scalar (rotate or not), and per past token cos/sin of its position delta [P, D/2]. */
export const PAST_ROTATE_INPUT = 'rag_past_rotate';
export const PAST_COS_INPUT = 'rag_past_cos';
export const PAST_SIN_INPUT = 'rag_past_sin';
/** Bump when the rewrite changes: cached files of an older version are rewritten. */
const REWRITE_VERSION = 7;

export interface RuntimeGraph {
  /** The file to load (the source itself when nothing had to change). */
  path: string;
  source: string;
  export: DecoderExport;
  /** Input taking the row indices whose logits are computed, or the export's own count input, or null. */
  logitsRows: { input: string; kind: 'rows' | 'count' } | null;
  /** Taps: the row-index input and one [1, heads, R, T] probability output per layer (element type as computed). */
  taps: { mode: TapsMode; rowsInput: string; outputs: { name: string; elemType: number }[] } | null;
  /**
   * Whether `rag_new.<layer>.key|value` outputs exist: each layer's present KV from the past length on (the tokens of
   * the pass only). onnxruntime-node copies every fetched output into a fresh ArrayBuffer, so fetching `present`
   * (past + new) copies the whole context out of the session on every pass; these outputs copy only what is new.
   */
  newKv: boolean;
  /**
   * Whether the graph rotates its past keys itself (PAST_*_INPUT): a past laid out by plain concatenation of cached
   * blocks, each key still at the position it was computed at, is re-encoded to its slot inside the session
   * (vectorised, on the session's threads) instead of by a JavaScript loop over every element. Rotate-half RoPE,
   * declared head size; false otherwise.
   */
  rotatesPast: boolean;
  /** True when an up-to-date rewritten file was reused. */
  cached: boolean;
}

/** `model_q4.onnx` -> `model_q4.rag.onnx` / `model_q4.rag-taps.onnx` (next to the source, so external data resolves). */
export function runtimePathFor(source: string, taps: TapsMode | null): string {
  const suffix = taps === null ? '' : taps === 'gqa-qk' ? '-taps-qk' : '-taps';
  return path.join(path.dirname(source), `${path.basename(source, '.onnx')}.rag${suffix}.onnx`);
}

interface Stamp {
  version: number;
  sourceSize: number;
  sourceMtimeMs: number;
}

/**
 * Prepares a decoder export for the runtime with one cached rewrite: a logits selector (a Gather of the asked rows
 * before the LM head, when the export has no logits count input), GroupQueryAttention's position input wired to a
 * new `position_ids` input (genai exports take positions from the cache index otherwise), and, with `taps`, each
 * layer's attention probabilities for the asked query rows only (Softmax output or GQA's qk_output, then a Gather).
 * The rewrite is lossless and never copies weights (see OnnxRewrite); it is reused while the source is unchanged.
 * `taps: 'if-exposed'` adds taps only to graphs that already output every layer's Softmax (test builds made to be read).
 */
export function prepareRuntimeGraph(source: string, opts: { taps: boolean | 'if-exposed'; gqaTaps?: 'query' | 'qk' }): RuntimeGraph {
  const ix = OnnxIndex.open(source);
  try {
    const ex = analyseDecoderExport(ix, { gqaTaps: opts.gqaTaps });
    // Test builds that expose every layer's Softmax as a graph output are meant to be read: serve them with taps.
    const outputs = new Set(ix.outputs.map((o) => o.info.name));
    const exposed = ex.taps.mode === 'softmax' && ex.taps.layers.every((t) => outputs.has(t.tensor));
    const wantsTaps = (opts.taps === true || (opts.taps === 'if-exposed' && exposed)) && ex.taps.mode !== null;
    const needsSelector = 'site' in ex.selector;
    const needsPositions = ex.positions.mode === 'rewired';
    const layers = ex.layers;
    const outputNames = new Set(ix.outputs.map((o) => o.info.name));
    const pastDims = ix.inputs.find((i) => i.info.name === 'past_key_values.0.key')?.info.type?.tensorType?.shape?.dim ?? [];
    const declaredHead = Number(pastDims[3]?.dimValue ?? 0);
    const headDim = declaredHead > 0 && declaredHead % 2 === 0 ? declaredHead : 0;
    const canSliceNew = layers > 0 && Array.from({ length: layers }, (_, i) => i).every((i) => outputNames.has(`present.${i}.key`) && outputNames.has(`present.${i}.value`));
    let taps: RuntimeGraph['taps'] = null;
    if (wantsTaps && ex.taps.mode !== null) {
      // gqa-query rows are formed in float32 by the rewrite; the other taps keep the graph's own type.
      const elemType = (t: LayerTap) => (ex.taps.mode === 'gqa-query' ? DataType.FLOAT : t.elemType);
      taps = { mode: ex.taps.mode, rowsInput: ATTENTION_ROWS_INPUT, outputs: ex.taps.layers.map((t) => ({ name: attentionOutputName(t.layer), elemType: elemType(t) })) };
    }
    const base = {
      source,
      export: ex,
      logitsRows: 'native' in ex.selector ? { input: ex.selector.native, kind: 'count' as const } : needsSelector ? { input: LOGITS_ROWS_INPUT, kind: 'rows' as const } : null,
      taps,
      newKv: canSliceNew,
      rotatesPast: headDim > 0,
    };
    if (!needsSelector && !needsPositions && !wantsTaps && !canSliceNew && !base.rotatesPast) return { ...base, path: source, cached: true };

    const target = runtimePathFor(source, taps?.mode ?? null);
    const stampPath = `${target}.json`;
    const st = fs.statSync(source);
    const stamp: Stamp = { version: REWRITE_VERSION, sourceSize: st.size, sourceMtimeMs: st.mtimeMs };
    if (fs.existsSync(target) && fs.existsSync(stampPath)) {
      const old = JSON.parse(fs.readFileSync(stampPath, 'utf8')) as Stamp;
      if (old.version === stamp.version && old.sourceSize === stamp.sourceSize && old.sourceMtimeMs === stamp.sourceMtimeMs) return { ...base, path: target, cached: true };
    }

    const rw = new OnnxRewrite(ix);
    if ('site' in ex.selector) {
      const { hidden, consumer, inputIndex } = ex.selector.site;
      const picked = `${hidden}/rag_logits_rows`;
      rw.addInput(tensorValueInfo(LOGITS_ROWS_INPUT, DataType.INT64, ['rag_logits_row_count']));
      rw.addNodes({ opType: 'Gather', name: '/rag/logits_rows/Gather', input: [hidden, LOGITS_ROWS_INPUT], output: [picked], attribute: [{ name: 'axis', type: 2, i: 1 }] });
      const inputs = [...(consumer.node.input ?? [])];
      inputs[inputIndex] = picked;
      rw.editNode(consumer, { inputs });
      const logits = ix.outputs.find((o) => o.info.name === 'logits');
      const vocab = logits?.info.type?.tensorType?.shape?.dim?.[2];
      rw.replaceOutput(tensorValueInfo('logits', ix.elemType('logits') || DataType.FLOAT, ['batch_size', 'rag_logits_row_count', vocab?.dimValue ? Number(vocab.dimValue) : (vocab?.dimParam ?? 'vocab_size')]));
    }
    if (needsPositions) {
      rw.addInput(tensorValueInfo('position_ids', DataType.INT64, ['batch_size', 'sequence_length']));
      for (const n of ex.positions.gqaNodes) {
        const inputs = [...(n.node.input ?? [])];
        while (inputs.length < 9) inputs.push('');
        inputs[9] = 'position_ids';
        rw.editNode(n, { inputs });
      }
    }
    if (taps && ex.taps.mode !== null) {
      rw.addInput(tensorValueInfo(ATTENTION_ROWS_INPUT, DataType.INT64, ['rag_attention_row_count']));
      for (const [k, t] of ex.taps.layers.entries()) {
        if (ex.taps.mode === 'gqa-qk' && t.gqaNode) {
          const outs = (t.gqaNode.node.output ?? []).length;
          rw.editNode(t.gqaNode, { appendOutputs: [...Array(Math.max(0, 3 - outs)).fill(''), t.tensor], attributes: [{ name: 'qk_output', type: 2, i: 2 }] });
        }
        const out = taps.outputs[k].name;
        if (ex.taps.mode === 'gqa-query' && ex.taps.gqa && t.gqaNode) {
          const queryRows = gqaRowsFromQuery(rw, t, ex.taps.gqa, out);
          orderBeforeNextLayer(ix, rw, queryRows, t.layer, t.elemType);
        } else {
          // Probabilities [B, heads, S, T]: gather the asked rows on the query axis.
          rw.addNodes({ opType: 'Gather', name: `/rag/attention_rows/Gather_${t.layer}`, input: [t.tensor, ATTENTION_ROWS_INPUT], output: [out], attribute: [{ name: 'axis', type: 2, i: 2 }] });
          orderBeforeNextLayer(ix, rw, out, t.layer, t.elemType);
        }
        rw.addOutput(tensorValueInfo(out, taps.outputs[k].elemType, ['batch_size', 'num_heads', 'rag_attention_row_count', 'total_sequence_length']));
      }
    }
    if (canSliceNew) addNewKvOutputs(ix, rw, layers);
    if (base.rotatesPast) addPastRotation(ix, rw, layers, headDim);
    rw.write(source, target);
    fs.writeFileSync(stampPath, JSON.stringify(stamp) + '\n');
    return { ...base, path: target, cached: false };
  } finally {
    ix.close();
  }
}

/**
 * `rag_new.<l>.key|value` = present[:, :, past_length:, :]: the pass's own tokens. Past length is read from the
 * first layer's past input (every layer has the same), so a padded past (a decode buffer with spare capacity) works
 * too: the new tokens sit right after whatever was fed.
 */
function addNewKvOutputs(ix: OnnxIndex, rw: OnnxRewrite, layers: number): void {
  const i64 = (name: string, values: number[]): string => {
    rw.addInitializer({ name, dataType: DataType.INT64, dims: [values.length], rawData: Buffer.from(BigInt64Array.from(values.map(BigInt)).buffer) });
    return name;
  };
  const S = '/rag/new_kv';
  const two = i64(`${S}/two`, [2]);
  const three = i64(`${S}/three`, [3]);
  const end = i64(`${S}/end`, [Number.MAX_SAFE_INTEGER]);
  rw.addNodes(
    { opType: 'Shape', name: `${S}/past_shape`, input: ['past_key_values.0.key'], output: [`${S}/past_shape`] },
    { opType: 'Slice', name: `${S}/past_length`, input: [`${S}/past_shape`, two, three], output: [`${S}/past_length`] },
  );
  for (let l = 0; l < layers; l++) {
    for (const kind of ['key', 'value'] as const) {
      const present = `present.${l}.${kind}`;
      const out = newKvOutputName(l, kind);
      rw.addNodes({ opType: 'Slice', name: `${S}/${l}/${kind}`, input: [present, `${S}/past_length`, end, two], output: [out] });
      rw.addOutput(tensorValueInfo(out, ix.elemType(present) || DataType.FLOAT, ['batch_size', 'num_key_value_heads', 'sequence_length', 'head_size']));
    }
  }
}

/**
 * Every layer's past key, before anything reads it, goes through an If on PAST_ROTATE_INPUT: rotated (rotate-half:
 * x1 cos - x2 sin, x2 cos + x1 sin) by the per-token cos/sin rows, or passed through untouched, so passes without a
 * re-encoded past (decoding, prefill) pay nothing for it. (An elementwise Slice/Mul/Concat chain measured slower
 * than the JavaScript loop: nine unfused passes over the keys.)
 */
function addPastRotation(ix: OnnxIndex, rw: OnnxRewrite, layers: number, headDim: number): void {
  rw.addInput(tensorValueInfo(PAST_ROTATE_INPUT, DataType.BOOL, []));
  rw.addInput(tensorValueInfo(PAST_COS_INPUT, DataType.FLOAT, ['rag_past_rotated', headDim / 2]));
  rw.addInput(tensorValueInfo(PAST_SIN_INPUT, DataType.FLOAT, ['rag_past_rotated', headDim / 2]));
  const i64 = (name: string, values: number[]) => ({ name, dataType: DataType.INT64, dims: [values.length], int64Data: values });
  const scalar = (name: string, value: number) => ({ name, dataType: DataType.INT64, dims: [], int64Data: [value] });
  rw.addOpset('com.microsoft', 1);
  const consumers = ix.consumers();
  for (let l = 0; l < layers; l++) {
    const past = `past_key_values.${l}.key`;
    const elem = ix.elemType(past) || DataType.FLOAT;
    const S = `/rag/past_rotation/${l}`;
    const rotated = `${S}/key`;
    const op = (opType: string, input: string[], name: string, attribute: INodeProto['attribute'] = []): INodeProto => ({ opType, name: `${S}/${name}`, input, output: [`${S}/${name}`], attribute });
    const x = elem === DataType.FLOAT ? past : `${S}/key_f32`;
    // onnxruntime's fused RotaryEmbedding (one vectorised pass), each past token its own cos/sin row (position_ids
    // 0..P-1 index the rows); in float32 whatever the KV type.
    const thenNodes: INodeProto[] = [
      ...(elem === DataType.FLOAT ? [] : [op('Cast', [past], 'key_f32', [{ name: 'to', type: 2, i: DataType.FLOAT }])]),
      op('Shape', [x], 'shape'),
      op('Gather', [`${S}/shape`, `${S}/two`], 'past_length', [{ name: 'axis', type: 2, i: 0 }]),
      op('Range', [`${S}/zero`, `${S}/past_length`, `${S}/one`], 'index'),
      op('Unsqueeze', [`${S}/index`, `${S}/axes0`], 'rows'),
      { ...op('RotaryEmbedding', [x, `${S}/rows`, PAST_COS_INPUT, PAST_SIN_INPUT], 'r', [{ name: 'interleaved', type: 2, i: 0 }]), domain: 'com.microsoft' },
      ...(elem === DataType.FLOAT ? [] : [op('Cast', [`${S}/r`], 'r_back', [{ name: 'to', type: 2, i: elem }])]),
    ];
    const thenOut = elem === DataType.FLOAT ? `${S}/r` : `${S}/r_back`;
    const thenBranch = {
      name: `${S}/then`,
      node: [...thenNodes, { opType: 'Identity', name: `${S}/then_out`, input: [thenOut], output: [`${S}/rotated_then`] }],
      initializer: [scalar(`${S}/zero`, 0), scalar(`${S}/one`, 1), scalar(`${S}/two`, 2), i64(`${S}/axes0`, [0])],
      output: [tensorValueInfo(`${S}/rotated_then`, elem, null)],
    };
    const elseBranch = {
      name: `${S}/else`,
      node: [{ opType: 'Identity', name: `${S}/else_out`, input: [past], output: [`${S}/rotated_else`] }],
      output: [tensorValueInfo(`${S}/rotated_else`, elem, null)],
    };
    rw.addNodes({
      opType: 'If',
      name: `${S}/If`,
      input: [PAST_ROTATE_INPUT],
      output: [rotated],
      attribute: [
        { name: 'then_branch', type: 5, g: thenBranch },
        { name: 'else_branch', type: 5, g: elseBranch },
      ],
    });
    for (const n of consumers.get(past) ?? []) rw.editNode(n, { inputs: rw.inputsOf(n).map((i) => (i === past ? rotated : i)) });
  }
}

const layerOfName = (name: string): number | null => {
  const m = /layers?[._/](\d+)\b/.exec(name);
  return m ? Number(m[1]) : null;
};

/**
 * Makes layer `layer + 1` (or the final norm, after the last layer) wait for the tap `tap`: onnxruntime orders a
 * graph by a reverse DFS from its leaves, which runs tap Gathers (leaves) after everything else and so keeps every
 * layer's [heads, S, T] attention alive to the end (measured: +5.5 GB on a 2K prefill of the qwen2.5-0.5b shape).
 * A small float weight of the next layer becomes `weight + 0 * max(tap)`: bit-identical (the tap is finite), costs a
 * handful of scalar ops, and puts the Gather right where the attention is computed.
 */
function orderBeforeNextLayer(ix: OnnxIndex, rw: OnnxRewrite, tap: string, layer: number, elemType: number): void {
  const inits = ix.initializers;
  const isNext = (name: string): boolean => {
    const l = layerOfName(name);
    return l === layer + 1 || (l === null && /\/norm\//.test(name) && !ix.nodes.some((n) => layerOfName(n.node.name ?? '') === layer + 1));
  };
  for (const n of ix.nodes) {
    if (!isNext(n.node.name ?? '')) continue;
    const inputs = n.node.input ?? [];
    const k = inputs.findIndex((i) => {
      const t = inits.get(i);
      return !!t && t.dataType === elemType && t.dims.length === 1 && t.dims[0] <= 65536;
    });
    if (k < 0) continue;
    const zero = `/rag/order/zero_${elemType}`;
    if (!rw.hasInitializer(zero)) rw.addInitializer({ name: zero, dataType: elemType, dims: [], rawData: new Uint8Array(elemType === DataType.FLOAT16 ? 2 : 4) });
    const scope = `/rag/order/layer_${layer}`;
    rw.addNodes(
      { opType: 'ReduceMax', name: `${scope}/ReduceMax`, input: [tap], output: [`${scope}/max`], attribute: [{ name: 'keepdims', type: 2, i: 0 }] },
      { opType: 'Mul', name: `${scope}/Mul_zero`, input: [`${scope}/max`, zero], output: [`${scope}/zero`] },
      { opType: 'Add', name: `${scope}/Add`, input: [inputs[k], `${scope}/zero`], output: [`${scope}/weight`] },
    );
    const edited = [...inputs];
    edited[k] = `${scope}/weight`;
    rw.editNode(n, { inputs: edited });
    return;
  }
}

const INT = 2;
const ints = (name: string, v: number[]) => ({ name, type: 7, ints: v });

/**
 * Attention rows of one GroupQueryAttention layer formed inside the graph from its inputs, as the kernel computes
 * them, for the asked rows only: the rows of the query input, rotated by their positions with the node's own
 * rotary caches (rotate-half), against the layer's present keys (already rotated), scaled, soft-capped if the node
 * says so, causally masked (row s sees keys 0..past+s), softmax; in float32. Nothing of size S x T is formed, and
 * the kernel runs as exported (qk_output would make it write [heads, S, T] in every pass). Returns the tensor of
 * gathered query rows (what the next layer is ordered after).
 */
function gqaRowsFromQuery(rw: OnnxRewrite, t: LayerTap, m: GqaQueryMath, out: string): string {
  const node = t.gqaNode as NonNullable<LayerTap['gqaNode']>;
  const [query] = node.node.input ?? [];
  const presentKey = (node.node.output ?? [])[1];
  if (!presentKey) throw new Error(`${node.node.name}: GroupQueryAttention without a present key output`);
  const L = `/rag/attention_rows/layer_${t.layer}`;
  const D = m.headDim;
  const G = m.heads / m.kvHeads;
  const c = (name: string, dataType: number, values: number[], dims: number[] = [values.length]): string => {
    const full = `${L}/${name}`;
    const bytes = dataType === DataType.INT64 ? Buffer.from(BigInt64Array.from(values.map(BigInt)).buffer) : Buffer.from(Float32Array.from(values).buffer);
    rw.addInitializer({ name: full, dataType, dims, rawData: bytes });
    return full;
  };
  const nodes: INodeProto[] = [];
  const op = (opType: string, inputs: string[], name: string, attribute: INodeProto['attribute'] = []): string => {
    const o = `${L}/${name}`;
    nodes.push({ opType, name: o, input: inputs, output: [o], attribute });
    return o;
  };
  const toF = (x: string, name: string) => op('Cast', [x], name, [{ name: 'to', type: INT, i: DataType.FLOAT }]);
  const rows = op('Gather', [query, ATTENTION_ROWS_INPUT], 'query_rows', [{ name: 'axis', type: INT, i: 1 }]);
  const q = op('Reshape', [op('Slice', [toF(rows, 'query_rows_f32'), c('q_start', DataType.INT64, [0]), c('q_end', DataType.INT64, [m.heads * D]), c('axis2', DataType.INT64, [2])], 'query'), c('q_shape', DataType.INT64, [0, -1, m.heads, D])], 'query_heads'); // [1, R, H, D]
  let rotated = q;
  if (m.rotary) {
    const pos = op('Gather', ['position_ids', ATTENTION_ROWS_INPUT], 'positions', [{ name: 'axis', type: INT, i: 1 }]); // [1, R]
    const axes2 = c('axes2', DataType.INT64, [2]);
    const cos = op('Unsqueeze', [toF(op('Gather', [m.rotary.cosCache, pos], 'cos', [{ name: 'axis', type: INT, i: 0 }]), 'cos_f32'), axes2], 'cos4'); // [1, R, 1, D/2]
    const sin = op('Unsqueeze', [toF(op('Gather', [m.rotary.sinCache, pos], 'sin', [{ name: 'axis', type: INT, i: 0 }]), 'sin_f32'), axes2], 'sin4');
    const half = c('half', DataType.INT64, [D / 2]);
    const axis3 = c('axis3', DataType.INT64, [3]);
    const q1 = op('Slice', [q, c('zero', DataType.INT64, [0]), half, axis3], 'q1');
    const q2 = op('Slice', [q, half, c('full', DataType.INT64, [D]), axis3], 'q2');
    const r1 = op('Sub', [op('Mul', [q1, cos], 'q1_cos'), op('Mul', [q2, sin], 'q2_sin')], 'r1');
    const r2 = op('Add', [op('Mul', [q2, cos], 'q2_cos'), op('Mul', [q1, sin], 'q1_sin')], 'r2');
    rotated = op('Concat', [r1, r2], 'rotated', [{ name: 'axis', type: INT, i: 3 }]);
  }
  // Heads h = kv * G + g share key head kv: [1, H, R, D] -> [1, KV, G*R, D] against keys [1, KV, D, T].
  const grouped = op('Reshape', [op('Transpose', [rotated], 'heads_first', [ints('perm', [0, 2, 1, 3])]), c('group_shape', DataType.INT64, [0, m.kvHeads, -1, D])], 'grouped');
  const keysT = op('Transpose', [toF(presentKey, 'keys_f32')], 'keys_t', [ints('perm', [0, 1, 3, 2])]);
  let scores = op('Mul', [op('MatMul', [grouped, keysT], 'qk'), c('scale', DataType.FLOAT, [m.scale], [])], 'scaled'); // [1, KV, G*R, T]
  if (m.softcap > 0) {
    const cap = c('softcap', DataType.FLOAT, [m.softcap], []);
    scores = op('Mul', [op('Tanh', [op('Div', [scores, cap], 'capped')], 'tanh'), cap], 'softcapped');
  }
  const perHead = op('Reshape', [scores, c('head_shape', DataType.INT64, [0, m.heads, -1, 0])], 'per_head'); // [1, H, R, T]
  // Causal mask for the asked rows: key t is visible to row r when t <= past + r = T - S + r.
  const one = c('one', DataType.INT64, [1], []);
  const zeroI = c('zero_scalar', DataType.INT64, [0], []);
  const total = op('Gather', [op('Shape', [presentKey], 'key_shape'), c('two', DataType.INT64, [2], [])], 'total', [{ name: 'axis', type: INT, i: 0 }]);
  const seq = op('Gather', [op('Shape', [query], 'query_shape'), one], 'seq', [{ name: 'axis', type: INT, i: 0 }]);
  const limit = op('Unsqueeze', [op('Add', [ATTENTION_ROWS_INPUT, op('Sub', [total, seq], 'past')], 'limit'), c('axes1', DataType.INT64, [1])], 'limit_col'); // [R, 1]
  const keysIdx = op('Unsqueeze', [op('Range', [zeroI, total, one], 'key_index'), c('axes0', DataType.INT64, [0])], 'key_row'); // [1, T]
  const visible = op('LessOrEqual', [keysIdx, limit], 'visible'); // [R, T]
  const bias = op('Where', [visible, c('open', DataType.FLOAT, [0], []), c('closed', DataType.FLOAT, [-Infinity], [])], 'mask');
  nodes.push({ opType: 'Softmax', name: `${L}/softmax`, input: [op('Add', [perHead, bias], 'masked')], output: [out], attribute: [{ name: 'axis', type: INT, i: -1 }] });
  rw.addNodes(...nodes);
  return rows;
}
