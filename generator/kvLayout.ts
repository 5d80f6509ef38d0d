import { KvCache } from '../model/kv/KvCache.js';
import { ropeInverseFrequencies, rotateHeadByTable, rotationTable } from '../model/kv/rope.js';

/** A cache placed whole, or only the given token indices of it (in order). */
export type LayoutPart = KvCache | { cache: KvCache; indices: ArrayLike<number> | null };

/**
 * Lays caches out one after another at contiguous positions from 0, rotating each key straight into the output
 * (one copy of the data instead of re-encode + concat: assembly time is most of the time to first token when
 * every block is cached). A part given with `indices` places only those tokens, copied straight from its cache
 * (no `select` copy first). Same rotations as KvCache.reencodeTo, so the result is bit-identical to
 * `KvCache.concat(parts.map((p, i) => p.select(indices).reencode({start: offset_i})))`.
 */
export function layOutContiguous(parts: LayoutPart[], layers: number, kvHeads: number, headDim: number, ropeTheta: number): KvCache {
  const total = layoutLength(parts);
  const out = Array.from({ length: layers }, () => ({ key: new Float32Array(kvHeads * total * headDim), value: new Float32Array(kvHeads * total * headDim) }));
  layOutInto(out, total, parts, kvHeads, headDim, ropeTheta);
  return new KvCache(out, kvHeads, headDim, Int32Array.from({ length: total }, (_, i) => i));
}

/** Tokens the parts place. */
export function layoutLength(parts: readonly LayoutPart[]): number {
  return parts.reduce((n, p) => n + (p instanceof KvCache ? p.length : (p.indices ?? p.cache).length), 0);
}

/**
 * layOutContiguous's one copy, into per-layer arrays holding `stride` tokens per head (the first
 * layoutLength(parts) of each head written): a decode buffer with room to grow takes the context this way.
 */
export function layOutInto(out: { key: Float32Array; value: Float32Array }[], stride: number, parts: readonly LayoutPart[], kvHeads: number, headDim: number, ropeTheta: number): void {
  const layers = out.length;
  const plan = parts.map((p) => {
    const { cache, indices } = p instanceof KvCache ? { cache: p, indices: null } : p;
    if (indices !== null) {
      for (let i = 0; i < indices.length; i++) {
        if (!Number.isInteger(indices[i]) || indices[i] < 0 || indices[i] >= cache.length) throw new RangeError(`token index ${indices[i]} outside [0, ${cache.length})`);
      }
    }
    return { cache, indices };
  });
  if (layoutLength(parts) > stride) throw new RangeError(`layOutInto: ${layoutLength(parts)} tokens exceed the stride ${stride}`);
  const D = headDim;
  const invFreq = ropeInverseFrequencies(headDim, ropeTheta);
  let start = 0;
  for (const { cache: p, indices } of plan) {
    const L = (indices ?? p).length;
    if (L === 0) continue;
    if (p.layerCount !== layers || p.kvHeads !== kvHeads || p.headDim !== headDim) {
      throw new Error(`layOutContiguous: cache shape ${p.layerCount}x${p.kvHeads}x${p.headDim}, expected ${layers}x${kvHeads}x${headDim}`);
    }
    const source = (t: number): number => (indices ? indices[t] : t);
    // Kept tokens come in runs (whole sentences, whole blocks): one copy per run and head, not one per token.
    const runs: { from: number; count: number; to: number }[] = [];
    for (let t = 0; t < L; ) {
      let u = t + 1;
      while (u < L && source(u) === source(u - 1) + 1) u++;
      runs.push({ from: source(t), count: u - t, to: t });
      t = u;
    }
    const table = rotationTable(
      Float64Array.from({ length: L }, (_, t) => start + t - p.positions[source(t)]),
      invFreq,
    );
    const S = p.length;
    for (let l = 0; l < layers; l++) {
      const src = p.layers[l];
      for (let h = 0; h < kvHeads; h++) {
        const at = (h * stride + start) * D;
        for (const r of runs) {
          const from = (h * S + r.from) * D;
          out[l].key.set(src.key.subarray(from, from + r.count * D), at + r.to * D);
          out[l].value.set(src.value.subarray(from, from + r.count * D), at + r.to * D);
        }
        rotateHeadByTable(out[l].key, at, L, table);
      }
    }
    start += L;
  }
}

/** Overwrites tokens [start, start + part.length) of `target` with `part` (same positions expected). Mutates target. */
export function overwriteRange(target: KvCache, start: number, part: KvCache): void {
  const D = target.headDim;
  const total = target.length;
  const L = part.length;
  if (start < 0 || start + L > total) throw new RangeError(`overwriteRange: [${start}, ${start + L}) outside [0, ${total})`);
  for (let t = 0; t < L; t++) {
    if (part.positions[t] !== target.positions[start + t]) throw new Error(`overwriteRange: token ${t} at position ${part.positions[t]}, slot is ${target.positions[start + t]}`);
  }
  for (let l = 0; l < target.layerCount; l++) {
    for (let h = 0; h < target.kvHeads; h++) {
      target.layers[l].key.set(part.layers[l].key.subarray(h * L * D, (h + 1) * L * D), (h * total + start) * D);
      target.layers[l].value.set(part.layers[l].value.subarray(h * L * D, (h + 1) * L * D), (h * total + start) * D);
    }
  }
}
