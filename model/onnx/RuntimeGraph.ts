import fs from 'node:fs';
import path from 'node:path';
import { analyseDecoderExport, type DecoderExport } from './DecoderExport.js';
import { OnnxIndex } from './OnnxIndex.js';
import { OnnxRewrite } from './OnnxRewrite.js';
import { DataType, tensorValueInfo } from './proto.js';

/** Inputs and outputs the rewrite adds (the runtime feeds and fetches them by these names). */
export const LOGITS_ROWS_INPUT = 'rag_logits_rows';
export const ATTENTION_ROWS_INPUT = 'rag_attention_rows';
export const attentionOutputName = (layer: number): string => `rag_attention.${layer}`;

/** Bump when the rewrite changes: cached files of an older version are rewritten. */
const REWRITE_VERSION = 1;

export interface RuntimeGraph {
  /** The file to load (the source itself when nothing had to change). */
  path: string;
  source: string;
  export: DecoderExport;
  /** Input taking the row indices whose logits are computed, or the export's own count input, or null. */
  logitsRows: { input: string; kind: 'rows' | 'count' } | null;
  /** Taps: the row-index input and one [1, heads, R, T] output per layer (element type as the graph computes it). */
  taps: { rowsInput: string; outputs: { name: string; elemType: number }[] } | null;
  /** True when an up-to-date rewritten file was reused. */
  cached: boolean;
}

/** `model_q4.onnx` -> `model_q4.rag.onnx` / `model_q4.rag-taps.onnx` (next to the source, so external data resolves). */
export function runtimePathFor(source: string, taps: boolean): string {
  return path.join(path.dirname(source), `${path.basename(source, '.onnx')}.rag${taps ? '-taps' : ''}.onnx`);
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
export function prepareRuntimeGraph(source: string, opts: { taps: boolean | 'if-exposed' }): RuntimeGraph {
  const ix = OnnxIndex.open(source);
  try {
    const ex = analyseDecoderExport(ix);
    // Test builds that expose every layer's Softmax as a graph output are meant to be read: serve them with taps.
    const outputs = new Set(ix.outputs.map((o) => o.info.name));
    const exposed = ex.taps.mode === 'softmax' && ex.taps.layers.every((t) => outputs.has(t.tensor));
    const wantsTaps = (opts.taps === true || (opts.taps === 'if-exposed' && exposed)) && ex.taps.mode !== null;
    const needsSelector = 'site' in ex.selector;
    const needsPositions = ex.positions.mode === 'rewired';
    const base = {
      source,
      export: ex,
      logitsRows: 'native' in ex.selector ? { input: ex.selector.native, kind: 'count' as const } : needsSelector ? { input: LOGITS_ROWS_INPUT, kind: 'rows' as const } : null,
      taps: wantsTaps && ex.taps.mode !== null ? { rowsInput: ATTENTION_ROWS_INPUT, outputs: ex.taps.layers.map((t) => ({ name: attentionOutputName(t.layer), elemType: t.elemType })) } : null,
    };
    if (!needsSelector && !needsPositions && !wantsTaps) return { ...base, path: source, cached: true };

    const target = runtimePathFor(source, wantsTaps);
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
    if (wantsTaps && ex.taps.mode !== null) {
      rw.addInput(tensorValueInfo(ATTENTION_ROWS_INPUT, DataType.INT64, ['rag_attention_row_count']));
      for (const t of ex.taps.layers) {
        if (t.gqaNode) {
          const outs = (t.gqaNode.node.output ?? []).length;
          rw.editNode(t.gqaNode, { appendOutputs: [...Array(Math.max(0, 3 - outs)).fill(''), t.tensor], attributes: [{ name: 'qk_output', type: 2, i: 2 }] });
        }
        const out = attentionOutputName(t.layer);
        rw.addNodes({ opType: 'Gather', name: `/rag/attention_rows/Gather_${t.layer}`, input: [t.tensor, ATTENTION_ROWS_INPUT], output: [out], attribute: [{ name: 'axis', type: 2, i: 2 }] });
        rw.addOutput(tensorValueInfo(out, t.elemType, ['batch_size', 'num_heads', 'rag_attention_row_count', 'total_sequence_length']));
      }
    }
    rw.write(source, target);
    fs.writeFileSync(stampPath, JSON.stringify(stamp) + '\n');
    return { ...base, path: target, cached: false };
  } finally {
    ix.close();
  }
}
