import { Analyzer, type AnalyzerConfig, type AnalyzerOptions } from './Analyzer.js';

/**
 * Okapi BM25 over an in-memory inverted index with incremental add/remove.
 *
 * score(q, d) = sum over distinct query terms t of  qtf(t) * idf(t) * tf(t,d) * (k1 + 1) / (tf(t,d) + k1 * (1 - b + b * |d| / avgdl))
 * idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))   (the non-negative Lucene form)
 *
 * Collection statistics (N, df, total length) are integers updated on every add/remove and scores
 * are computed from them at query time, so an index built incrementally scores exactly like one
 * built from scratch over the same documents.
 */
export interface Bm25Params {
  k1: number;
  b: number;
}

export const DEFAULT_BM25_PARAMS: Bm25Params = { k1: 1.2, b: 0.75 };

export interface Bm25Options extends Partial<Bm25Params> {
  analyzer?: AnalyzerOptions;
}

export interface ScoredId {
  id: string;
  score: number;
}

interface DocEntry {
  length: number;
  /** term -> frequency in this document. */
  tf: Map<string, number>;
}

/** Serialised form: the vocabulary once, each document as flat [termIndex, tf, ...] pairs. */
export interface Bm25Json {
  format: 'bm25/1';
  params: Bm25Params;
  analyzer: AnalyzerConfig;
  terms: string[];
  docs: [id: string, pairs: number[]][];
}

export class Bm25Index {
  readonly params: Bm25Params;
  readonly analyzer: Analyzer;
  private readonly docs = new Map<string, DocEntry>();
  /** term -> (doc id -> tf). */
  private readonly postings = new Map<string, Map<string, number>>();
  private totalLength = 0;

  constructor(options: Bm25Options = {}) {
    this.params = { k1: options.k1 ?? DEFAULT_BM25_PARAMS.k1, b: options.b ?? DEFAULT_BM25_PARAMS.b };
    if (!(this.params.k1 >= 0) || !(this.params.b >= 0 && this.params.b <= 1)) {
      throw new RangeError(`BM25 needs k1 >= 0 and 0 <= b <= 1 (got k1=${this.params.k1}, b=${this.params.b})`);
    }
    this.analyzer = new Analyzer(options.analyzer);
  }

  get size(): number {
    return this.docs.size;
  }

  has(id: string): boolean {
    return this.docs.has(id);
  }

  /**
   * Index a document; throws if the id is present (remove it first to replace). A title, when
   * given, is indexed with the text: questions often name the topic the passage never repeats.
   */
  add(id: string, text: string, title?: string): void {
    this.addTerms(id, title ? [...this.analyzer.terms(title), ...this.analyzer.terms(text)] : this.analyzer.terms(text));
  }

  /** Index a document given as already-analysed terms (from this index's analyzer). */
  addTerms(id: string, terms: readonly string[]): void {
    const tf = new Map<string, number>();
    for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
    this.insert(id, tf);
  }

  private insert(id: string, tf: Map<string, number>): void {
    if (this.docs.has(id)) throw new Error(`Bm25Index: document ${id} already indexed`);
    let length = 0;
    for (const [term, n] of tf) {
      length += n;
      let p = this.postings.get(term);
      if (!p) this.postings.set(term, (p = new Map()));
      p.set(id, n);
    }
    this.docs.set(id, { length, tf });
    this.totalLength += length;
  }

  /** Remove a document; returns false if it was not indexed. */
  remove(id: string): boolean {
    const doc = this.docs.get(id);
    if (!doc) return false;
    for (const term of doc.tf.keys()) {
      const p = this.postings.get(term);
      if (!p) continue;
      p.delete(id);
      if (p.size === 0) this.postings.delete(term);
    }
    this.totalLength -= doc.length;
    this.docs.delete(id);
    return true;
  }

  idf(term: string): number {
    const n = this.docs.size;
    const df = this.postings.get(term)?.size ?? 0;
    return Math.log(1 + (n - df + 0.5) / (df + 0.5));
  }

  /** Query term -> count in the query, as BM25's qtf. */
  private queryTerms(query: string): Map<string, number> {
    const qtf = new Map<string, number>();
    for (const t of this.analyzer.terms(query)) qtf.set(t, (qtf.get(t) ?? 0) + 1);
    return qtf;
  }

  /** One term's contribution for a document of length `len`. */
  private termScore(weight: number, tf: number, len: number, avgdl: number): number {
    const { k1, b } = this.params;
    return (weight * (tf * (k1 + 1))) / (tf + k1 * (1 - b + (b * len) / avgdl));
  }

  /** BM25 scores of every document sharing a term with the query (others score 0). */
  scoreAll(query: string): Map<string, number> {
    const scores = new Map<string, number>();
    const n = this.docs.size;
    if (n === 0) return scores;
    const avgdl = this.totalLength / n || 1;
    for (const [term, q] of this.queryTerms(query)) {
      const p = this.postings.get(term);
      if (!p) continue;
      const w = q * this.idf(term);
      for (const [id, tf] of p) scores.set(id, (scores.get(id) ?? 0) + this.termScore(w, tf, this.docs.get(id)!.length, avgdl));
    }
    return scores;
  }

  /** BM25 scores of the given documents only (0 for one not indexed): cheap when the ids are few. */
  scoreDocuments(query: string, ids: readonly string[]): number[] {
    const n = this.docs.size;
    if (n === 0) return ids.map(() => 0);
    const avgdl = this.totalLength / n || 1;
    const weights = [...this.queryTerms(query)].map(([term, q]) => [term, q * this.idf(term)] as const);
    return ids.map((id) => {
      const doc = this.docs.get(id);
      if (!doc) return 0;
      let s = 0;
      for (const [term, w] of weights) {
        const tf = doc.tf.get(term);
        if (tf) s += this.termScore(w, tf, doc.length, avgdl);
      }
      return s;
    });
  }

  /** Top k documents by score (ties by id, so results are deterministic); zero scores are not returned. */
  search(query: string, k: number): ScoredId[] {
    const all = [...this.scoreAll(query)].map(([id, score]) => ({ id, score }));
    all.sort((x, y) => y.score - x.score || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    return all.slice(0, Math.max(0, k));
  }

  toJSON(): Bm25Json {
    const termIndex = new Map<string, number>();
    const terms: string[] = [];
    const docs: [string, number[]][] = [];
    for (const [id, doc] of this.docs) {
      const pairs: number[] = [];
      for (const [term, n] of doc.tf) {
        let i = termIndex.get(term);
        if (i === undefined) {
          i = terms.length;
          termIndex.set(term, i);
          terms.push(term);
        }
        pairs.push(i, n);
      }
      docs.push([id, pairs]);
    }
    return { format: 'bm25/1', params: { ...this.params }, analyzer: this.analyzer.toJSON(), terms, docs };
  }

  static fromJSON(json: unknown): Bm25Index {
    const j = json as Partial<Bm25Json> | null;
    if (!j || j.format !== 'bm25/1' || !Array.isArray(j.terms) || !Array.isArray(j.docs) || !j.params || !j.analyzer) {
      throw new Error('Bm25Index.fromJSON: not a bm25/1 snapshot');
    }
    const index = new Bm25Index({ ...j.params, analyzer: j.analyzer });
    const terms = j.terms;
    for (const [id, pairs] of j.docs) {
      if (typeof id !== 'string' || !Array.isArray(pairs) || pairs.length % 2 !== 0) {
        throw new Error('Bm25Index.fromJSON: malformed document entry');
      }
      const tf = new Map<string, number>();
      for (let i = 0; i < pairs.length; i += 2) {
        const term = terms[pairs[i]];
        const n = pairs[i + 1];
        if (term === undefined || !Number.isInteger(n) || n < 1) throw new Error(`Bm25Index.fromJSON: bad term entry in ${id}`);
        tf.set(term, n);
      }
      index.insert(id, tf);
    }
    return index;
  }
}
