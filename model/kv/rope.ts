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

/** cos/sin of every (distinct delta, frequency) pair, shared by all layers and heads of one re-encode. */
export interface RotationTable {
  half: number;
  cos: Float64Array;
  sin: Float64Array;
  /** Row of the table for each token (-1 = delta 0, nothing to do). */
  row: Int32Array;
}

/**
 * Precomputes the rotations for `deltas` once: a cache re-encode applies the same angles to every layer and head,
 * and a shifted block has a single delta, so this turns layers x heads x tokens x D/2 trig calls into a few.
 * Same float64 angles and cos/sin as rotateHeadInPlace, so results are bit-identical.
 */
export function rotationTable(deltas: ArrayLike<number>, invFreq: Float64Array): RotationTable {
  const half = invFreq.length;
  const rowOfDelta = new Map<number, number>();
  const row = new Int32Array(deltas.length).fill(-1);
  for (let t = 0; t < deltas.length; t++) {
    const d = deltas[t];
    if (d === 0) continue;
    let r = rowOfDelta.get(d);
    if (r === undefined) rowOfDelta.set(d, (r = rowOfDelta.size));
    row[t] = r;
  }
  const cos = new Float64Array(rowOfDelta.size * half);
  const sin = new Float64Array(rowOfDelta.size * half);
  for (const [d, r] of rowOfDelta) {
    for (let i = 0; i < half; i++) {
      const angle = d * invFreq[i];
      cos[r * half + i] = Math.cos(angle);
      sin[r * half + i] = Math.sin(angle);
    }
  }
  return { half, cos, sin, row };
}

/** rotateHeadInPlace with precomputed rotations. */
export function rotateHeadByTable(data: Float32Array, offset: number, len: number, table: RotationTable): void {
  const { half, cos, sin, row } = table;
  const headDim = 2 * half;
  for (let t = 0; t < len; t++) {
    const r = row[t];
    if (r < 0) continue;
    const base = offset + t * headDim;
    const rb = r * half;
    for (let i = 0; i < half; i++) {
      const c = cos[rb + i];
      const s = sin[rb + i];
      const x1 = data[base + i];
      const x2 = data[base + i + half];
      data[base + i] = x1 * c - x2 * s;
      data[base + i + half] = x2 * c + x1 * s;
    }
  }
}
