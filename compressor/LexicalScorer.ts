import { Bm25Index, type Bm25Options } from '../retriever/Bm25Index.js';
import { BM25_PARAMS } from '../retriever/defaults.js';

/**
 * Lexical sentence relevance: BM25 of each sentence against the question, with the sentences of the
 * context as the collection (so idf reflects which words are distinctive within this context). The cheap
 * baseline the attention probe is compared with; it needs no model pass.
 */
export function lexicalSentenceScores(sentences: readonly string[], question: string, options: Bm25Options = { ...BM25_PARAMS }): number[] {
  const index = new Bm25Index(options);
  return analysedSentenceScores(sentences.map((s) => index.analyzer.terms(s)), question, index);
}

/** The same, for sentences already analysed with `index`'s analyzer; `index` must be empty. */
export function analysedSentenceScores(sentences: readonly (readonly string[])[], question: string, index: Bm25Index = new Bm25Index({ ...BM25_PARAMS })): number[] {
  sentences.forEach((terms, i) => index.addTerms(String(i), terms));
  const scores = index.scoreAll(question);
  return sentences.map((_, i) => scores.get(String(i)) ?? 0);
}
