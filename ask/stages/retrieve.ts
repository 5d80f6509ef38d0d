import type { DocumentStore } from '../../indexer/store/DocumentStore.js';
import type { SearchHit, SearchService } from '../../retriever/SearchService.js';
import type { AskRequest } from '../AskRequest.js';
import { PlanningError } from '../errors.js';
import { blockSourceOf, newPassage, type Passage } from '../Passage.js';

export interface Retrieved {
  passages: Passage[];
  hits: SearchHit[];
}

/** Stage `retrieve`: the top-k chunks of the collection for the question, each with its document's title. */
export async function retrieve(search: SearchService, store: DocumentStore, req: AskRequest): Promise<Retrieved> {
  const found = await search.search(req.collection, req.question, req.k, req.searchMode);
  if (found.chunks.length === 0) throw new PlanningError(`collection ${req.collection} has nothing to answer from (no chunks retrieved)`);
  const metas = await store.getDocumentMetas(req.collection, [...new Set(found.chunks.map((c) => c.documentId))]);
  const titles = new Map(metas.filter((m) => m !== null).map((m) => [m.id, m.title]));
  const passages = found.chunks.map((c, rank) =>
    newPassage(rank, { ...blockSourceOf(c, titles.get(c.documentId)), end: c.end, score: found.hits[rank]?.score ?? null, index: c.index }),
  );
  return { passages, hits: found.hits };
}
