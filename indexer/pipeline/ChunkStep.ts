import { chunkDocument, type TokenCounter } from '../text/Chunker.js';
import type { DocumentStore } from '../store/DocumentStore.js';
import { chunkIdFor, type ChunkRecord, type ChunkStepResult, type IngestJobData } from './jobs.js';

export interface ChunkStepDeps {
  store: DocumentStore;
  counter: TokenCounter;
  targetTokens: number;
  maxTokens: number;
}

/** Parse and split a document into sentence-aligned chunks with stable ids. */
export async function runChunkStep(data: IngestJobData, deps: ChunkStepDeps): Promise<ChunkStepResult> {
  const { collection, document } = data;
  const stored = await deps.store.getDocumentMeta(collection, document.id);
  if (stored && stored.contentHash === data.contentHash) return { unchanged: true, chunks: [] };

  const drafts = chunkDocument(document.text, { targetTokens: deps.targetTokens, maxTokens: deps.maxTokens }, deps.counter);
  const seen = new Map<string, number>();
  const chunks: ChunkRecord[] = drafts.map((d) => {
    const occurrence = seen.get(d.contentHash) ?? 0;
    seen.set(d.contentHash, occurrence + 1);
    return {
      id: chunkIdFor(document.id, d.contentHash, occurrence),
      documentId: document.id,
      index: d.index,
      start: d.start,
      end: d.end,
      text: d.text,
      sentences: d.sentences,
      tokenCount: d.tokenCount,
      contentHash: d.contentHash,
    };
  });
  return { unchanged: false, chunks };
}
