import { MS_DOMAIN } from './GraphBuilder.js';
import type { IndexedNode, OnnxIndex } from './OnnxIndex.js';
import { DataType, type IAttributeProto } from './proto.js';
import { TensorTypes } from './tensorTypes.js';

/** Which export family a decoder file belongs to (what the rewrites and taps must handle). */
export type ExportFamily = 'optimum' | 'genai' | 'unknown';

/** How caller positions reach RoPE: an input the export has, one wired in by rewrite, or not at all. */
export type PositionsMode = 'honoured' | 'rewired' | 'refused';
/**
 * How attention probabilities are read: `softmax` gathers rows of each layer's Softmax output; `gqa-query` gathers
 * rows of GroupQueryAttention's query input and the runtime computes those rows from them and the layer's keys;
 * `gqa-qk` gathers rows of the probabilities GroupQueryAttention outputs with qk_output=2 (exact, but the kernel
 * then materialises [heads, S, T] per layer in every pass of the session, so it serves checks, not serving).
 */
export type TapsMode = 'softmax' | 'gqa-query' | 'gqa-qk';

export interface LayerTap {
  layer: number;
  /** What rows are gathered from: the Softmax output / GQA output_qk [B, heads, S, T], or GQA's query input [B, S, W]. */
  tensor: string;
  elemType: number;
  /** For GroupQueryAttention: the node (qk_output is switched on for gqa-qk; its output 3 is then `tensor`). */
  gqaNode?: IndexedNode;
}

/** What the rewrite needs to form attention rows from GQA's query input and present keys as the kernel does. */
export interface GqaQueryMath {
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Rotate the query rows by their positions with these caches (do_rotary=1), or take them as they are. */
  rotary: { cosCache: string; sinCache: string } | null;
  /** 1/sqrt(D) when the node leaves it unset. */
  scale: number;
  /** 0 = none; else scores become softcap * tanh(scores / softcap). */
  softcap: number;
}

/** Where a logits selector goes: a Gather on `hidden` (the LM head's activation input) feeding `consumer` at `inputIndex`. */
export interface SelectorSite {
  hidden: string;
  consumer: IndexedNode;
  inputIndex: number;
}

export interface DecoderExport {
  family: ExportFamily;
  /** optimum-fp32 | optimum-fp16 | optimum-q4 | optimum-q4f16 | optimum-int8 | optimum-uint8 | optimum-bnb4 | genai-gqa | unknown */
  variant: string;
  layers: number;
  kvDtype: 'float32' | 'float16';
  logitsDtype: 'float32' | 'float16';
  positions: { mode: PositionsMode; reason: string | null; gqaNodes: IndexedNode[]; rotaryCacheLength: number | null };
  taps: { mode: TapsMode; layers: LayerTap[]; gqa?: GqaQueryMath } | { mode: null; reason: string };
  /** A native logits-count input the export already has, a site to add one, or why neither. */
  selector: { native: string } | { site: SelectorSite } | { reason: string };
}

const MATMUL_LIKE = new Set(['MatMul', 'MatMulNBits', 'MatMulInteger', 'MatMulBnb4', 'FusedMatMul', 'Gemm', 'MatMulIntegerToFloat', 'DynamicQuantizeMatMul']);
const FUSED_ATTENTION = ['GroupQueryAttention', 'MultiHeadAttention', 'Attention', 'PackedAttention', 'PackedMultiHeadAttention', 'SparseAttention'];

function attr(n: IndexedNode, name: string): IAttributeProto | undefined {
  return (n.node.attribute ?? []).find((a) => a.name === name);
}

function attrInt(n: IndexedNode, name: string, fallback: number): number {
  const a = attr(n, name);
  return a?.i !== undefined && a.i !== null ? Number(a.i) : fallback;
}

const isMs = (n: IndexedNode): boolean => n.node.domain === MS_DOMAIN;
const layerOf = (name: string): number | null => {
  const m = /layers?[._/](\d+)\b/.exec(name);
  return m ? Number(m[1]) : null;
};

/** The layer order of per-layer nodes, from their names (exporters scope nodes as `/model/layers.N/...`). */
function byLayer(nodes: IndexedNode[], what: string): { ok: IndexedNode[] } | { reason: string } {
  const entries = nodes.map((n, order) => ({ n, layer: layerOf(n.node.name ?? '') ?? layerOf((n.node.output ?? [])[0] ?? ''), order }));
  if (entries.every((e) => e.layer !== null)) {
    const seen = new Set<number>();
    for (const e of entries) {
      if (seen.has(e.layer as number)) return { reason: `layer ${e.layer} has more than one ${what}` };
      seen.add(e.layer as number);
    }
    entries.sort((a, b) => (a.layer as number) - (b.layer as number));
  }
  return { ok: entries.map((e) => e.n) };
}

/**
 * Reads what a decoder export is and what the runtime must do to serve it: its family and precision, KV and
 * logits types, whether caller positions can reach RoPE (an input, or GroupQueryAttention's position_ids input 9
 * wired by rewrite), where each layer's attention probabilities can be tapped, and where a logits selector fits.
 */
export function analyseDecoderExport(ix: OnnxIndex, opts: { gqaTaps?: 'query' | 'qk' } = {}): DecoderExport {
  const inputs = new Set(ix.inputs.map((i) => i.info.name ?? ''));
  const layers = [...inputs].filter((n) => /^past_key_values\.\d+\.key$/.test(n)).length;
  if (layers === 0) throw new Error('not a decoder with past: no past_key_values.N.key inputs (the optimum/genai decoder-with-past signature)');
  const types = new TensorTypes(ix);
  const kvType = ix.elemType('past_key_values.0.key');
  const logitsType = ix.elemType('logits') || types.of('logits');
  const ops = (op: string) => ix.nodes.filter((n) => n.node.opType === op);
  const gqa = ops('GroupQueryAttention').filter(isMs);
  const softmax = ops('Softmax').filter((n) => !n.node.domain || n.node.domain === 'ai.onnx');

  // ---- family and precision
  const family: ExportFamily = gqa.length > 0 ? 'genai' : softmax.length === layers ? 'optimum' : 'unknown';
  const nbits = ops('MatMulNBits');
  const matmulInteger = ops('MatMulInteger');
  const fp16Weights = [...ix.initializers.values()].some((t) => t.dataType === DataType.FLOAT16 && t.dims.reduce((a, b) => a * b, 1) >= 512);
  let precision: string;
  if (nbits.length > 0) precision = fp16Weights ? 'q4f16' : 'q4';
  else if (ops('MatMulBnb4').length > 0) precision = 'bnb4';
  else if (matmulInteger.length > 0) precision = matmulInteger.some((n) => ix.initializers.get((n.node.input ?? [])[1] ?? '')?.dataType === DataType.UINT8) ? 'uint8' : 'int8';
  else precision = fp16Weights ? 'fp16' : 'fp32';
  const variant = family === 'genai' ? 'genai-gqa' : family === 'optimum' ? `optimum-${precision}` : 'unknown';

  // ---- positions
  let positions: DecoderExport['positions'];
  const rotaryCacheLength = gqa.length > 0 ? (ix.initializers.get((gqa[0].node.input ?? [])[7] ?? '')?.dims[0] ?? null) : null;
  if (inputs.has('position_ids')) positions = { mode: 'honoured', reason: null, gqaNodes: [], rotaryCacheLength };
  else if (gqa.length === layers && gqa.every((n) => attrInt(n, 'do_rotary', 0) === 1 && attrInt(n, 'rotary_interleaved', 0) === 0 && !(n.node.input ?? [])[9])) {
    positions = { mode: 'rewired', reason: null, gqaNodes: gqa, rotaryCacheLength };
  } else {
    const why =
      gqa.length > 0
        ? gqa.some((n) => attrInt(n, 'rotary_interleaved', 0) !== 0)
          ? 'its GroupQueryAttention uses interleaved rotary, which cached-key re-encoding (rotate-half) does not match'
          : 'its GroupQueryAttention nodes do not all apply rotary inside (do_rotary=1), so there is no position input to wire'
        : 'it has no position_ids input and no GroupQueryAttention whose position input could be wired: positions are derived inside the graph';
    positions = { mode: 'refused', reason: why, gqaNodes: [], rotaryCacheLength };
  }

  // ---- attention taps
  let taps: DecoderExport['taps'];
  if (gqa.length > 0) {
    const ordered = byLayer(gqa, 'GroupQueryAttention');
    const first = gqa[0];
    const inputsOf = (n: IndexedNode) => n.node.input ?? [];
    const D = ix.initializers.get(inputsOf(first)[7] ?? '')?.dims[1];
    const unsupported = gqa.some((n) => inputsOf(n)[10] || inputsOf(n)[11])
      ? 'its GroupQueryAttention takes an attention bias or head sinks'
      : gqa.some((n) => attrInt(n, 'smooth_softmax', 0) !== 0 || attrInt(n, 'local_window_size', -1) > 0 || attrInt(n, 'rotary_interleaved', 0) !== 0)
        ? 'its GroupQueryAttention uses smooth softmax, a sliding window or interleaved rotary'
        : null;
    if ('reason' in ordered) taps = { mode: null, reason: ordered.reason };
    else if (ordered.ok.length !== layers) taps = { mode: null, reason: `${ordered.ok.length} GroupQueryAttention nodes for ${layers} layers` };
    else if (opts.gqaTaps === 'qk') {
      taps = {
        mode: 'gqa-qk',
        layers: ordered.ok.map((n, layer) => ({ layer, tensor: `${n.node.name}/output_qk`, elemType: types.of(inputsOf(n)[0] ?? ''), gqaNode: n })),
      };
    } else if (unsupported) taps = { mode: null, reason: `cannot recompute attention rows from the query: ${unsupported}` };
    else if ((ix.opsets.get('') ?? 0) < 13) taps = { mode: null, reason: `opset ${ix.opsets.get('')} < 13` };
    else {
      const scaleAttr = attr(first, 'scale')?.f;
      const rotary = attrInt(first, 'do_rotary', 0) === 1 ? { cosCache: inputsOf(first)[7] as string, sinCache: inputsOf(first)[8] as string } : null;
      const pastDims = ix.inputs.find((i) => i.info.name === 'past_key_values.0.key')?.info.type?.tensorType?.shape?.dim ?? [];
      const headDim = Number(pastDims[3]?.dimValue ?? 0) || (D ? 2 * D : 0);
      if (!headDim) taps = { mode: null, reason: 'the head size is not declared (past_key_values.0.key dim 3, rotary caches)' };
      else {
        taps = {
          mode: 'gqa-query',
          layers: ordered.ok.map((n, layer) => ({ layer, tensor: inputsOf(n)[0] as string, elemType: types.of(inputsOf(n)[0] ?? ''), gqaNode: n })),
          gqa: {
            heads: attrInt(first, 'num_heads', 0),
            kvHeads: attrInt(first, 'kv_num_heads', 0),
            headDim,
            rotary,
            scale: scaleAttr ? Number(scaleAttr) : 1 / Math.sqrt(headDim),
            softcap: Number(attr(first, 'softcap')?.f ?? 0),
          },
        };
      }
    }
  } else if (softmax.length === 0) {
    const fused = [...new Set(ix.nodes.filter((n) => FUSED_ATTENTION.includes(n.node.opType ?? '')).map((n) => `${n.node.domain ? n.node.domain + '.' : ''}${n.node.opType}`))];
    taps = {
      mode: null,
      reason:
        fused.length > 0
          ? `the graph uses fused attention (${fused.join(', ')}) whose probabilities cannot be read`
          : 'the graph has no Softmax node (not an unfused decoder export)',
    };
  } else if (softmax.length !== layers) {
    taps = { mode: null, reason: `${softmax.length} Softmax nodes for ${layers} layers: cannot tell which are attention` };
  } else {
    const ordered = byLayer(softmax, 'Softmax');
    taps =
      'reason' in ordered
        ? { mode: null, reason: ordered.reason }
        : {
            mode: 'softmax',
            layers: ordered.ok.map((n, layer) => {
              const tensor = (n.node.output ?? [])[0] as string;
              return { layer, tensor, elemType: types.of(tensor) };
            }),
          };
  }

  // ---- logits selector
  const native = ['num_logits_to_keep', 'logits_to_keep'].find((n) => inputs.has(n));
  let selector: DecoderExport['selector'];
  if (native) selector = { native };
  else {
    const site = findSelectorSite(ix);
    selector = site ? { site } : { reason: 'the LM head (a MatMul-like node ending in the logits output) was not found' };
  }

  return {
    family,
    variant,
    layers,
    kvDtype: kvType === DataType.FLOAT16 ? 'float16' : 'float32',
    logitsDtype: logitsType === DataType.FLOAT16 ? 'float16' : 'float32',
    positions,
    taps,
    selector,
  };
}

/**
 * The LM head's activation input: from the `logits` output back along input 0 through casts and rescales to the
 * first MatMul-like node; its input 0 (or, for dynamic int8, the DynamicQuantizeLinear's input) is the last hidden
 * state [B, S, H]. Gathering rows there makes the head project only those rows.
 */
function findSelectorSite(ix: OnnxIndex): SelectorSite | null {
  const producers = ix.producers();
  let p = producers.get('logits');
  for (let steps = 0; p && steps < 8; steps++) {
    if (MATMUL_LIKE.has(p.node.opType ?? '')) {
      const act = (p.node.input ?? [])[0] ?? '';
      const dq = producers.get(act);
      if (dq && dq.node.opType === 'DynamicQuantizeLinear') return { hidden: (dq.node.input ?? [])[0] as string, consumer: dq, inputIndex: 0 };
      return { hidden: act, consumer: p, inputIndex: 0 };
    }
    if (!['Cast', 'Mul', 'Add', 'Div', 'Identity'].includes(p.node.opType ?? '')) return null;
    p = producers.get((p.node.input ?? [])[0] ?? '');
  }
  return null;
}
