import type { DocumentStore } from '../../indexer/store/DocumentStore.js';
import type { IndexRegistry } from '../../retriever/IndexRegistry.js';
import type { SearchMode, SearchService } from '../../retriever/SearchService.js';
import type { CollectionStatistics, DenseInputs } from './RankerFeatures.js';
import type { RankerPassage } from './SentenceCandidates.js';

/**
 * The ranker's input as serving produces it: the project's search over a collection (its hits, in order,
 * with their scores), each hit's document title, and the collection's BM25 statistics.
 */
export interface SearchDeps {
  search: SearchService;
  store: DocumentStore;
  registry: IndexRegistry;
}

export interface RetrievedPassages {
  passages: RankerPassage[];
  stats: CollectionStatistics;
  mode: SearchMode;
  /** Question and sentence vectors, when sentence vectors are available (a prototype: serving stores none yet). */
  dense?: DenseInputs;
}

export async function searchPassages(deps: SearchDeps, collection: string, question: string, k: number, mode?: SearchMode): Promise<RetrievedPassages | null> {
  const result = await deps.search.search(collection, question, k, mode);
  const index = await deps.registry.current(collection);
  if (!index) return null;
  const docIds = [...new Set(result.chunks.map((c) => c.documentId))];
  const metas = await deps.store.getDocumentMetas(collection, docIds);
  const titles = new Map(metas.filter((m) => m !== null).map((m) => [m!.id, m!.title]));
  const passages = result.chunks.map((c, rank) => ({
    documentId: c.documentId,
    chunkId: c.id,
    title: titles.get(c.documentId) || undefined,
    text: c.text,
    start: c.start,
    sentences: c.sentences,
    chunkIndex: c.index,
    score: result.hits[rank].score,
    rank,
  }));
  return { passages, stats: index.lexical, mode: result.mode };
}
