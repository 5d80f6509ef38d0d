import type { GqaQueryTaps } from './onnx/RuntimeGraph.js';

export interface GqaRowsInput {
  /** Tapped query-input rows [R, width]: the first heads x D columns are the query (packed QKV keeps K and V after). */
  query: Float32Array;
  width: number;
  /** The layer's keys after this pass [kvHeads, T, D] (rotated, as GroupQueryAttention stores them in present). */
  keys: Float32Array;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Past length: query row s attends keys 0..P+s. */
  past: number;
  /** Query indices within the pass, one per tapped row. */
  rows: readonly number[];
  /** Position of each tapped row (its rotary angle). */
  positions: readonly number[];
  math: GqaQueryTaps;
}

/**
 * The attention probabilities of the tapped query rows of one GroupQueryAttention layer, computed as the kernel
 * computes them: the query rotated by its position with the graph's own rotary caches (rotate-half), scored
 * against the layer's keys, scaled, soft-capped when the node says so, causally masked, softmax. Accumulates in
 * float64. Returns [heads, R, T]; only R rows are ever formed, never the S x T matrix.
 */
export function gqaAttentionRows(a: GqaRowsInput): Float32Array {
  const { heads, kvHeads, headDim: D, past, rows, math } = a;
  const T = a.keys.length / (kvHeads * D);
  const R = rows.length;
  const half = D / 2;
  const group = heads / kvHeads;
  const scale = math.scale > 0 ? math.scale : 1 / Math.sqrt(D);
  const out = new Float32Array(heads * R * T);
  const q = new Float64Array(D);
  const scores = new Float64Array(T);
  for (let r = 0; r < R; r++) {
    const last = past + rows[r]; // causal: keys 0..last
    const pos = a.positions[r];
    for (let h = 0; h < heads; h++) {
      const base = r * a.width + h * D;
      for (let d = 0; d < D; d++) q[d] = a.query[base + d];
      if (math.cos && math.sin) {
        if (pos < 0 || (pos + 1) * half > math.cos.length) throw new RangeError(`position ${pos} outside the rotary cache`);
        for (let i = 0; i < half; i++) {
          const c = math.cos[pos * half + i];
          const s = math.sin[pos * half + i];
          const x1 = q[i];
          const x2 = q[i + half];
          q[i] = x1 * c - x2 * s;
          q[i + half] = x2 * c + x1 * s;
        }
      }
      const kBase = Math.floor(h / group) * T * D;
      let max = -Infinity;
      for (let t = 0; t <= last; t++) {
        let dot = 0;
        const k = kBase + t * D;
        for (let d = 0; d < D; d++) dot += q[d] * a.keys[k + d];
        let sc = dot * scale;
        if (math.softcap > 0) sc = math.softcap * Math.tanh(sc / math.softcap);
        scores[t] = sc;
        if (sc > max) max = sc;
      }
      let z = 0;
      for (let t = 0; t <= last; t++) {
        scores[t] = Math.exp(scores[t] - max);
        z += scores[t];
      }
      const o = (h * R + r) * T;
      for (let t = 0; t <= last; t++) out[o + t] = scores[t] / z;
    }
  }
  return out;
}
