import { KvCache } from '../model/kv/KvCache.js';
import { kvKernels } from '../model/kv/KvKernels.js';
import { ropeInverseFrequencies, rotationRows } from '../model/kv/rope.js';

/**
 * Lays caches out one after another at contiguous positions from 0: each part's keys are rotated by the native
 * kernel from the positions they were cached at to their slots (one run per part, so the kernel's output is a
 * block-sized piece still in cache when it is copied into place), values are copied as they are. Equals
 * `KvCache.concat(parts.map((p, i) => p.reencode({start: offset_i})))` (the float64 reference) within fp32 rounding of
 * cos/sin; parts already in place (the prefix) are copied bit for bit.
 */
export async function layOutContiguous(parts: KvCache[], layers: number, kvHeads: number, headDim: number, ropeTheta: number): Promise<KvCache> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const D = headDim;
  for (const p of parts) {
    if (p.length > 0 && (p.layerCount !== layers || p.kvHeads !== kvHeads || p.headDim !== headDim)) {
      throw new Error(`layOutContiguous: cache shape ${p.layerCount}x${p.kvHeads}x${p.headDim}, expected ${layers}x${kvHeads}x${headDim}`);
    }
  }
  const out = Array.from({ length: layers }, () => ({ key: new Float32Array(kvHeads * total * D), value: new Float32Array(kvHeads * total * D) }));
  const invFreq = ropeInverseFrequencies(headDim, ropeTheta);
  let start = 0;
  for (const p of parts) {
    const L = p.length;
    if (L === 0) continue;
    const rows = rotationRows(
      Float64Array.from({ length: L }, (_, t) => start + t - p.positions[t]),
      invFreq,
    );
    const keys = rows.moves ? await kvKernels.rotateKeys(p.layers.map((l) => l.key), kvHeads, headDim, rows) : p.layers.map((l) => l.key);
    for (let l = 0; l < layers; l++) {
      for (let h = 0; h < kvHeads; h++) {
        const at = (h * total + start) * D;
        out[l].key.set(keys[l].subarray(h * L * D, (h + 1) * L * D), at);
        out[l].value.set(p.layers[l].value.subarray(h * L * D, (h + 1) * L * D), at);
      }
    }
    start += L;
  }
  return new KvCache(out, kvHeads, headDim, Int32Array.from({ length: total }, (_, i) => i));
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
