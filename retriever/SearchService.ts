import type { Embedder } from '../indexer/embedding/Embedder.js';
import type { DocumentStore } from '../indexer/store/DocumentStore.js';
import type { StoredChunk } from '../indexer/store/types.js';
import { DEFAULT_SEARCH_MODE, HYBRID_CANDIDATES, HYBRID_FUSION } from './defaults.js';
import { fuseHybrid, type Scored } from './Fusion.js';
import type { IndexRegistry } from './IndexRegistry.js';

export type SearchMode = 'dense' | 'bm25' | 'hybrid';

export interface SearchHit {
  documentId: string;
  chunkId: string;
  score: number;
  text: string;
  start: number;
  end: number;
}

export interface SearchResult {
  hits: SearchHit[];
  chunks: StoredChunk[];
  mode: SearchMode;
}

/** Query-time retrieval over one collection: dense, BM25 or their fusion, hydrated from the store. */
export class SearchService {
  constructor(
    private readonly store: DocumentStore,
    private readonly registry: IndexRegistry,
    private readonly embedder: Embedder,
  ) {}

  async search(collection: string, query: string, k: number, mode: SearchMode = DEFAULT_SEARCH_MODE, ef?: number): Promise<SearchResult> {
    const index = await this.registry.current(collection);
    if (!index || index.size === 0) return { hits: [], chunks: [], mode };
    // Over-fetch so deletions racing with this query (dropped at hydration) do not shrink the answer;
    // score-normalised fusion also needs deep enough lists (measured, see defaults.ts).
    const depth = mode === 'hybrid' ? Math.max(k * 2, HYBRID_CANDIDATES) : Math.max(k * 2, k + 10);
    const dense = async (): Promise<Scored[]> => {
      const [qv] = await this.embedder.embed([query]);
      return index.vectors.search(qv!, Math.min(depth, index.size), { ef }).map((h) => ({ id: h.key, score: h.score }));
    };
    const lexical = (): Scored[] => index.lexical.search(query, depth);
    let ranked: Scored[];
    if (mode === 'dense') ranked = await dense();
    else if (mode === 'bm25') ranked = lexical();
    else ranked = fuseHybrid(lexical(), await dense(), HYBRID_FUSION);

    const hits: SearchHit[] = [];
    const kept: StoredChunk[] = [];
    // Hydrate only as deep as the answer needs: the top 2k first (hybrid ranks 50+ candidates, and reading every one
    // from Redis cost more than the search), further slices only when deleted chunks leave fewer than k.
    for (let from = 0; from < ranked.length && hits.length < k; ) {
      const slice = ranked.slice(from, from + (from === 0 ? 2 * k : depth));
      const chunks = await this.store.getChunks(collection, slice.map((r) => r.id));
      slice.forEach((r, i) => {
        const c = chunks[i];
        if (!c || hits.length >= k) return;
        kept.push(c);
        hits.push({ documentId: c.documentId, chunkId: c.id, score: r.score, text: c.text, start: c.start, end: c.end });
      });
      from += slice.length;
    }
    return { hits, chunks: kept, mode };
  }
}
