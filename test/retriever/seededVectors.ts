/** Reproducible unit vectors (Gaussian directions from a seeded PRNG) for index mechanics tests. */
export function seededUnitVectors(count: number, dim: number, seed: number): Float32Array[] {
  let s = seed >>> 0;
  const uniform = (): number => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  const out: Float32Array[] = [];
  for (let n = 0; n < count; n++) {
    const v = new Float32Array(dim);
    let norm = 0;
    for (let i = 0; i < dim; i++) {
      v[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
      norm += v[i] * v[i];
    }
    for (let i = 0; i < dim; i++) v[i] /= Math.sqrt(norm);
    out.push(v);
  }
  return out;
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Exact top-k by cosine (inputs are unit vectors), the reference the index is checked against. */
export function exactTopK(query: Float32Array, entries: readonly (readonly [string, Float32Array])[], k: number): { key: string; score: number }[] {
  return entries
    .map(([key, v]) => ({ key, score: dot(query, v) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}
