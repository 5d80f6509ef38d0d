/**
 * Retrieval and answer metrics.
 *
 * Retrieval: per query, from a ranked id list and the set of relevant ids; average with `mean`.
 * Answers: SQuAD v1.1 exact match and token F1 with the official normalisation (lowercase, drop
 * ASCII punctuation, drop the articles a/an/the, collapse whitespace), max over gold answers.
 */

function relevantSet(relevant: Iterable<string>): Set<string> {
  return relevant instanceof Set ? (relevant as Set<string>) : new Set(relevant);
}

/** |relevant ∩ top-k| / |relevant|. With one relevant id this is hit@k (0 or 1). */
export function recallAtK(ranked: readonly string[], relevant: Iterable<string>, k: number): number {
  const rel = relevantSet(relevant);
  if (rel.size === 0) throw new RangeError('recallAtK: a query needs at least one relevant id');
  const seen = new Set<string>();
  for (const id of ranked.slice(0, Math.max(0, k))) if (rel.has(id)) seen.add(id);
  return seen.size / rel.size;
}

/** 1 / rank of the first relevant id within the top k (rank from 1), 0 if none. */
export function reciprocalRankAtK(ranked: readonly string[], relevant: Iterable<string>, k: number): number {
  const rel = relevantSet(relevant);
  if (rel.size === 0) throw new RangeError('reciprocalRankAtK: a query needs at least one relevant id');
  const n = Math.min(ranked.length, Math.max(0, k));
  for (let i = 0; i < n; i++) if (rel.has(ranked[i])) return 1 / (i + 1);
  return 0;
}

export { mean } from '../infra/stats.js';

// Python's string.punctuation, which the official script strips.
const ASCII_PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
// Python's \b in a str pattern is Unicode-aware; JS \b is not, hence explicit look-arounds.
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

/** The official SQuAD answer normalisation. */
export function normalizeAnswer(s: string): string {
  const noPunct = s.toLowerCase().replace(ASCII_PUNCTUATION, '');
  return noPunct.replace(ARTICLES, ' ').split(/\s+/u).filter(Boolean).join(' ');
}

/**
 * Word tokens for answer containment: the official normalisation, except that punctuation separates words
 * instead of vanishing, so `appearance".[citation` still holds the word "appearance" (the official rule
 * would glue it to "citation").
 */
function containmentTokens(s: string): string {
  return normalizeAnswer(s.replace(ASCII_PUNCTUATION, ' '));
}

/** Does `text` hold one of the gold answers as a run of whole words (both sides normalised alike)? */
export function containsAnswer(text: string, golds: readonly string[]): boolean {
  const t = ` ${containmentTokens(text)} `;
  return golds.some((g) => {
    const n = containmentTokens(g);
    return n.length > 0 && t.includes(` ${n} `);
  });
}

export function exactMatch(prediction: string, gold: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(gold) ? 1 : 0;
}

/** Token-level F1 over normalised whitespace tokens (v1.1 semantics: 0 when either side has no tokens). */
export function tokenF1(prediction: string, gold: string): number {
  const p = normalizeAnswer(prediction).split(' ').filter(Boolean);
  const g = normalizeAnswer(gold).split(' ').filter(Boolean);
  const counts = new Map<string, number>();
  for (const t of g) counts.set(t, (counts.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of p) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      same++;
      counts.set(t, c - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / p.length;
  const recall = same / g.length;
  return (2 * precision * recall) / (precision + recall);
}

/** EM and F1 of one prediction against all gold answers (the max over golds, as the official script does). */
export function squadScores(prediction: string, golds: readonly string[]): { em: number; f1: number } {
  if (golds.length === 0) throw new RangeError('squadScores: no gold answers');
  let em = 0;
  let f1 = 0;
  for (const g of golds) {
    em = Math.max(em, exactMatch(prediction, g));
    f1 = Math.max(f1, tokenF1(prediction, g));
  }
  return { em, f1 };
}

export interface Span {
  start: number;
  end: number;
}

/** Fraction of [start, end) covered by the union of `spans` (1 for an empty target). */
export function spanCoverage(spans: readonly Span[], start: number, end: number): number {
  if (end <= start) return 1;
  const clipped = spans
    .map((s) => ({ start: Math.max(s.start, start), end: Math.min(s.end, end) }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  let covered = 0;
  let reach = start;
  for (const s of clipped) {
    if (s.end <= reach) continue;
    covered += s.end - Math.max(s.start, reach);
    reach = s.end;
  }
  return covered / (end - start);
}

export interface KeptSpan extends Span {
  documentId: string;
}

/**
 * Gold-sentence retention: did the context the generator saw keep the sentence(s) holding an answer span?
 * Kept spans are whole sentences, so this is "some gold answer span of the gold document is fully covered by
 * kept spans of that document" (max over gold answers, as EM/F1 are).
 */
export function answerRetained(kept: readonly KeptSpan[], documentId: string, answers: readonly Span[]): boolean {
  const spans = kept.filter((k) => k.documentId === documentId);
  return answers.some((a) => spanCoverage(spans, a.start, a.end) === 1);
}

/** Document ids in rank order, first occurrence only (several chunks of one document count once). */
export function rankedDocuments(hits: readonly { documentId: string }[]): string[] {
  return [...new Set(hits.map((h) => h.documentId))];
}
