import fs from 'node:fs';
import path from 'node:path';
import { analyseDecoderExport, type DecoderExport } from './DecoderExport.js';
import { OnnxIndex } from './OnnxIndex.js';
import { OnnxRewrite } from './OnnxRewrite.js';
import { halfToFloat32 } from '../kv/half.js';
import { DataType, tensorValueInfo } from './proto.js';
import type { TapsMode } from './DecoderExport.js';

/** Inputs and outputs the rewrite adds (the runtime feeds and fetches them by these names). */
export const LOGITS_ROWS_INPUT = 'rag_logits_rows';
export const ATTENTION_ROWS_INPUT = 'rag_attention_rows';
export const attentionOutputName = (layer: number): string => `rag_attention.${layer}`;
export const queryOutputName = (layer: number): string => `rag_query.${layer}`;

/** GroupQueryAttention's query math, for computing attention rows from tapped queries (gqa-query). */
export interface GqaQueryTaps {
  /** Rotary caches [positions, D/2] as the graph stores them (float32 values), or null when queries arrive rotated. */
  cos: Float32Array | null;
  sin: Float32Array | null;
  /** 1/sqrt(D) when the node leaves it 0. */
  scale: number;
  softcap: number;
}

/** Bump when the rewrite changes: cached files of an older version are rewritten. */
const REWRITE_VERSION = 3;

export interface RuntimeGraph {
  /** The file to load (the source itself when nothing had to change). */
  path: string;
  source: string;
  export: DecoderExport;
  /** Input taking the row indices whose logits are computed, or the export's own count input, or null. */
  logitsRows: { input: string; kind: 'rows' | 'count' } | null;
  /**
   * Taps: the row-index input and one output per layer (element type as the graph computes it): [1, heads, R, T]
   * probabilities (softmax, gqa-qk), or [1, R, W] GroupQueryAttention query rows (gqa-query, with `gqa`).
   */
  taps: { mode: TapsMode; rowsInput: string; outputs: { name: string; elemType: number }[]; gqa: GqaQueryTaps | null } | null;
  /** True when an up-to-date rewritten file was reused. */
  cached: boolean;
}

/** `model_q4.onnx` -> `model_q4.rag.onnx` / `model_q4.rag-taps.onnx` (next to the source, so external data resolves). */
export function runtimePathFor(source: string, taps: TapsMode | null): string {
  const suffix = taps === null ? '' : taps === 'gqa-qk' ? '-taps-qk' : '-taps';
  return path.join(path.dirname(source), `${path.basename(source, '.onnx')}.rag${suffix}.onnx`);
}

function floatValues(bytes: Buffer, dataType: number): Float32Array {
  const copy = new Uint8Array(bytes); // aligned
  return dataType === DataType.FLOAT16 ? halfToFloat32(new Uint16Array(copy.buffer, 0, copy.length / 2)) : new Float32Array(copy.buffer, 0, copy.length / 4);
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
    let taps: RuntimeGraph['taps'] = null;
    if (wantsTaps && ex.taps.mode !== null) {
      const gqaMath = ex.taps.gqa;
      let gqa: GqaQueryTaps | null = null;
      if (ex.taps.mode === 'gqa-query' && gqaMath) {
        const table = (name: string) => floatValues(ix.initializerBytes(name, path.dirname(source)), ix.initializers.get(name)?.dataType ?? DataType.FLOAT);
        gqa = { cos: gqaMath.rotary ? table(gqaMath.rotary.cosCache) : null, sin: gqaMath.rotary ? table(gqaMath.rotary.sinCache) : null, scale: gqaMath.scale, softcap: gqaMath.softcap };
      }
      const name = ex.taps.mode === 'gqa-query' ? queryOutputName : attentionOutputName;
      taps = { mode: ex.taps.mode, rowsInput: ATTENTION_ROWS_INPUT, outputs: ex.taps.layers.map((t) => ({ name: name(t.layer), elemType: t.elemType })), gqa };
    }
    const base = {
      source,
      export: ex,
      logitsRows: 'native' in ex.selector ? { input: ex.selector.native, kind: 'count' as const } : needsSelector ? { input: LOGITS_ROWS_INPUT, kind: 'rows' as const } : null,
      taps,
    };
    if (!needsSelector && !needsPositions && !wantsTaps) return { ...base, path: source, cached: true };

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
        // Probabilities [B, heads, S, T] are gathered on the query axis 2; GQA's query input [B, S, W] on axis 1.
        const axis = ex.taps.mode === 'gqa-query' ? 1 : 2;
        rw.addNodes({ opType: 'Gather', name: `/rag/attention_rows/Gather_${t.layer}`, input: [t.tensor, ATTENTION_ROWS_INPUT], output: [out], attribute: [{ name: 'axis', type: 2, i: axis }] });
        const dims = ex.taps.mode === 'gqa-query' ? ['batch_size', 'rag_attention_row_count', 'qkv_width'] : ['batch_size', 'num_heads', 'rag_attention_row_count', 'total_sequence_length'];
        rw.addOutput(tensorValueInfo(out, t.elemType, dims));
        orderBeforeNextLayer(ix, rw, out, t.layer, t.elemType);
      }
    }
    rw.write(source, target);
    fs.writeFileSync(stampPath, JSON.stringify(stamp) + '\n');
    return { ...base, path: target, cached: false };
  } finally {
    ix.close();
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
