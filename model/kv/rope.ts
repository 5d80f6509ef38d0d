/**
 * RoPE in the Hugging Face rotate-half layout: dimension i pairs with i + D/2 and turns by
 * position * invFreq[i]. Inverse frequencies are rounded to float32 exactly as HF/optimum compute them
 * (so re-encoding matches real exports), while angles and their cos/sin are taken in float64.
 */
export function ropeInverseFrequencies(headDim: number, theta: number): Float64Array {
  const half = headDim / 2;
  const out = new Float64Array(half);
  for (let i = 0; i < half; i++) out[i] = Math.fround(1 / Math.fround(Math.pow(theta, (2 * i) / headDim)));
  return out;
}

/**
 * Rotates `len` vectors of one head in place by per-vector angle multipliers `deltas[t]` (positions).
 * Because rotations compose, R(d)·R(p)k = R(p+d)k: a key cached at p re-encoded by d equals the key at p+d.
 */
export function rotateHeadInPlace(
  data: Float32Array,
  offset: number,
  len: number,
  headDim: number,
  deltas: ArrayLike<number>,
  invFreq: Float64Array,
): void {
  const half = headDim / 2;
  for (let t = 0; t < len; t++) {
    const d = deltas[t];
    if (d === 0) continue;
    const base = offset + t * headDim;
    for (let i = 0; i < half; i++) {
      const angle = d * invFreq[i];
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const x1 = data[base + i];
      const x2 = data[base + i + half];
      data[base + i] = x1 * cos - x2 * sin;
      data[base + i + half] = x2 * cos + x1 * sin;
    }
  }
}
