/**
 * Sentinel features: how much the last prompt token attends to each context sentence, per (layer, head).
 *
 * Inputs are the tapped attentions of one question pass (per layer [heads, S, T], the DecoderModel layout),
 * the key columns that belong to the context, and each sentence as its list of key columns. The last query
 * row (S - 1) is the last prompt token. Per (layer, head) its row is restricted to the context columns and
 * renormalised to sum to 1, so prompt scaffolding (prefix, question, attention sink) does not dilute the
 * signal; a sentence's feature is the mean of that distribution over the sentence's columns.
 */
export interface FeatureLayout {
  layers: number;
  heads: number;
}

/** Flat index of (layer, head) in a feature vector. */
export function featureIndex(layout: FeatureLayout, layer: number, head: number): number {
  return layer * layout.heads + head;
}

export interface QuestionPassAttention {
  /** Per layer [heads, S, T] row-major. */
  attentions: Float32Array[];
  heads: number;
  /** S: query tokens of the pass; the last one is the last prompt token. */
  queryLength: number;
  /** T: keys (past + S). */
  keyLength: number;
}

export interface SentenceColumns {
  /** Key columns (indices into T) of the sentence's tokens; must be context columns. */
  columns: ArrayLike<number>;
}

/**
 * Last-token attention over the context columns, renormalised per (layer, head): result[l*H + h][c] for the
 * c-th context column. Float64 so means over long contexts do not lose precision.
 */
export function lastTokenContextAttention(pass: QuestionPassAttention, contextColumns: ArrayLike<number>): Float64Array[] {
  const { attentions, heads: H, queryLength: S, keyLength: T } = pass;
  const C = contextColumns.length;
  if (C === 0) throw new Error('sentence features: no context columns');
  for (let c = 0; c < C; c++) {
    const col = contextColumns[c];
    if (!Number.isInteger(col) || col < 0 || col >= T) throw new RangeError(`context column ${col} outside [0, ${T})`);
  }
  const out: Float64Array[] = [];
  for (const [l, a] of attentions.entries()) {
    if (a.length !== H * S * T) throw new Error(`layer ${l}: attention has ${a.length} values, expected ${H}x${S}x${T}`);
    for (let h = 0; h < H; h++) {
      const row = (h * S + (S - 1)) * T;
      const v = new Float64Array(C);
      let sum = 0;
      for (let c = 0; c < C; c++) {
        v[c] = a[row + contextColumns[c]];
        sum += v[c];
      }
      // A head that puts no mass on the context carries no preference: spread it uniformly.
      if (sum > 0) for (let c = 0; c < C; c++) v[c] /= sum;
      else v.fill(1 / C);
      out.push(v);
    }
  }
  return out;
}

/**
 * Feature vector (layers x heads, index l*H + h) per sentence: the mean over the sentence's tokens of the
 * renormalised last-token attention.
 */
export function sentenceFeatures(pass: QuestionPassAttention, contextColumns: ArrayLike<number>, sentences: SentenceColumns[]): Float64Array[] {
  const dist = lastTokenContextAttention(pass, contextColumns);
  const where = new Map<number, number>();
  for (let c = 0; c < contextColumns.length; c++) where.set(contextColumns[c], c);
  return sentences.map((s, si) => {
    const n = s.columns.length;
    if (n === 0) throw new Error(`sentence ${si} has no tokens`);
    const idx = Array.from(s.columns, (col) => {
      const c = where.get(col);
      if (c === undefined) throw new RangeError(`sentence ${si}: column ${col} is not a context column`);
      return c;
    });
    const f = new Float64Array(dist.length);
    for (let k = 0; k < dist.length; k++) {
      let sum = 0;
      for (const c of idx) sum += dist[k][c];
      f[k] = sum / n;
    }
    return f;
  });
}

/** Probe-free ("raw attention") relevance: the feature mean over all layer-heads. */
export function rawAttentionScore(features: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < features.length; i++) s += features[i];
  return s / features.length;
}
