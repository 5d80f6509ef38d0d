import type { DecoderModel } from '../../model/DecoderModel.js';
import { KvCache } from '../../model/kv/KvCache.js';

/**
 * An independent reference for the ask pipeline's model side, built from plain forward passes: the prefix prefilled,
 * each block prefilled on its own right after the prefix, the kept tokens' keys rotated to their slot by a float64
 * RoPE written here from the formula (rotate-half), everything copied into one cache, and the final block run over it
 * with taps on its last `tapRows` rows in a single forward call. It shares with the pipeline only
 * `DecoderModel.forward` and the token ids: no KvCache re-encoding, no layOutContiguous, no generator code.
 */
export interface ReferencePass {
  /** The assembled context: prefix + kept block tokens at positions 0..length-1. */
  context: KvCache;
  /** Per block, its [start, end) in the context. */
  layout: { start: number; end: number }[];
  logits: Float32Array;
  /** Per layer [heads, tapRows, T] when tapRows > 0. */
  attentions?: Float32Array[];
}

/** Key `key` (one head vector at `from`) rotated by `delta` positions, float64 angles. */
export function rotateKey(key: ArrayLike<number>, theta: number, delta: number): Float64Array {
  const D = key.length;
  const half = D / 2;
  const out = new Float64Array(D);
  for (let i = 0; i < half; i++) {
    const invFreq = Math.fround(1 / Math.fround(theta ** ((2 * i) / D)));
    const a = delta * invFreq;
    out[i] = key[i]! * Math.cos(a) - key[i + half]! * Math.sin(a);
    out[i + half] = key[i + half]! * Math.cos(a) + key[i]! * Math.sin(a);
  }
  return out;
}

const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i);

export async function referenceBlocksPass(
  model: DecoderModel,
  prefixTokens: number[],
  blocks: { tokens: number[]; keep?: number[] | null }[],
  finalTokens: number[],
  tapRows = 0,
): Promise<ReferencePass> {
  const { layers, kvHeads, headDim, ropeTheta } = model.config;
  const P = prefixTokens.length;
  const prefix = P > 0 ? (await model.forward(prefixTokens, range(0, P), null, { logits: 'none' })).present : null;
  // Each source token: which computed cache it lives in, its index there, and the position its key was computed at.
  const parts: { cache: KvCache; index: number; from: number }[] = [];
  for (let t = 0; t < P; t++) parts.push({ cache: prefix as KvCache, index: t, from: t });
  const layout: ReferencePass['layout'] = [];
  for (const b of blocks) {
    const computed = (await model.forward(b.tokens, range(P, b.tokens.length), prefix, { logits: 'none' })).present;
    const keep = b.keep ?? range(0, b.tokens.length);
    layout.push({ start: parts.length, end: parts.length + keep.length });
    for (const i of keep) parts.push({ cache: computed, index: i, from: P + i });
  }
  const T = parts.length;
  const out = Array.from({ length: layers }, () => ({ key: new Float32Array(kvHeads * T * headDim), value: new Float32Array(kvHeads * T * headDim) }));
  parts.forEach((p, to) => {
    const L = p.cache.length;
    for (let l = 0; l < layers; l++) {
      for (let h = 0; h < kvHeads; h++) {
        const src = (h * L + p.index) * headDim;
        const dst = (h * T + to) * headDim;
        out[l]!.value.set(p.cache.layers[l]!.value.subarray(src, src + headDim), dst);
        out[l]!.key.set(rotateKey(p.cache.layers[l]!.key.subarray(src, src + headDim), ropeTheta, to - p.from), dst);
      }
    }
  });
  const context = new KvCache(out, kvHeads, headDim, Int32Array.from(range(0, T)));
  if (tapRows > 0 && tapRows !== finalTokens.length) throw new Error('the reference taps every final-block row or none');
  const fin = await model.forward(finalTokens, range(T, finalTokens.length), T > 0 ? context : null, { logits: 'last', attentions: tapRows > 0 });
  return { context, layout, logits: fin.logits as Float32Array, attentions: fin.attentions };
}
