/**
 * Combining ranked lists from different retrievers (BM25 and dense cosine).
 *
 * - Reciprocal-rank fusion: score = sum_i w_i / (k + rank_i), rank from 1. Ignores score scales.
 * - Score-normalised fusion: each list's scores are mapped to a common scale (min-max to [0, 1],
 *   or z-scores), then summed with weights. Keeps how *much* better the top hit is, which RRF throws
 *   away; that matters when one retriever is much stronger than the other (BM25 vs USE-lite here).
 *
 * An id missing from a list is below everything that list returned: it gets the list's lowest
 * normalised score (0 for min-max), and no RRF contribution.
 */
export interface Scored {
  id: string;
  score: number;
}

export interface WeightedList {
  items: Scored[];
  weight: number;
}

export type Normalisation = 'minmax' | 'zscore';

export type FusionMethod = 'rrf' | Normalisation;

export interface HybridFusionOptions {
  method: FusionMethod;
  /** Weight of the BM25 list. */
  lexicalWeight: number;
  /** Weight of the dense (cosine) list. */
  denseWeight: number;
  /** RRF rank constant (used by method 'rrf'). */
  rrfK?: number;
}

function byScoreThenId(a: Scored, b: Scored): number {
  return b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** Weighted reciprocal-rank fusion. Lists are taken in the order given (best first). */
export function reciprocalRankFusion(lists: WeightedList[], k = 60): Scored[] {
  const acc = new Map<string, number>();
  for (const { items, weight } of lists) {
    const seen = new Set<string>();
    let rank = 0;
    for (const { id } of items) {
      if (seen.has(id)) continue;
      seen.add(id);
      rank++;
      acc.set(id, (acc.get(id) ?? 0) + weight / (k + rank));
    }
  }
  return [...acc].map(([id, score]) => ({ id, score })).sort(byScoreThenId);
}

/** Normalised copies of a list's scores, plus the value an absent id gets. */
export function normaliseScores(items: Scored[], how: Normalisation): { scores: Map<string, number>; floor: number } {
  const scores = new Map<string, number>();
  if (items.length === 0) return { scores, floor: 0 };
  const values = items.map((i) => i.score);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (how === 'minmax') {
    const range = hi - lo;
    // A single value (or all equal) carries no ranking information beyond presence: everyone present gets 1.
    for (const { id, score } of items) if (!scores.has(id)) scores.set(id, range > 0 ? (score - lo) / range : 1);
    return { scores, floor: 0 };
  }
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
  for (const { id, score } of items) if (!scores.has(id)) scores.set(id, sd > 0 ? (score - mean) / sd : 0);
  return { scores, floor: sd > 0 ? (lo - mean) / sd : 0 };
}

/** Weighted sum of per-list normalised scores over the union of ids. */
export function normalisedScoreFusion(lists: WeightedList[], how: Normalisation): Scored[] {
  const norms = lists.map((l) => ({ ...normaliseScores(l.items, how), weight: l.weight }));
  const ids = new Set<string>();
  for (const l of lists) for (const { id } of l.items) ids.add(id);
  const out: Scored[] = [];
  for (const id of ids) {
    let score = 0;
    for (const n of norms) score += n.weight * (n.scores.get(id) ?? n.floor);
    out.push({ id, score });
  }
  return out.sort(byScoreThenId);
}

/** BM25 + dense fusion with the configured method; the search service's hybrid mode. */
export function fuseHybrid(lexical: Scored[], dense: Scored[], options: HybridFusionOptions): Scored[] {
  const lists: WeightedList[] = [
    { items: lexical, weight: options.lexicalWeight },
    { items: dense, weight: options.denseWeight },
  ];
  if (options.method === 'rrf') return reciprocalRankFusion(lists, options.rrfK ?? 60);
  return normalisedScoreFusion(lists, options.method);
}
