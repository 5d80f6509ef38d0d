import type { ChunkDraft } from '../text/Chunker.js';
import type { Span } from '../text/SentenceSplitter.js';

/** Records persisted by the DocumentStore; everything the search and ask paths read comes from here. */
export type { Span };

export interface DocumentInput {
  id: string;
  title?: string;
  text: string;
  metadata?: Record<string, unknown>;
}

export interface StoredDocument {
  id: string;
  collection: string;
  title: string;
  text: string;
  metadata: Record<string, unknown>;
  contentHash: string;
  chunkIds: string[];
  /** Monotonic per collection, assigned when the ingest was accepted; older versions never overwrite newer ones. */
  version: number;
  updatedAt: string;
}

/** A chunk as the chunker drafted it (offsets, sentence spans in document offsets, hash), with its identity. */
export interface StoredChunk extends ChunkDraft {
  id: string;
  collection: string;
  documentId: string;
}

export interface EmbedderInfo {
  id: string;
  dim: number;
}

export interface CollectionInfo {
  name: string;
  embedder: EmbedderInfo | null;
  documents: number;
  chunks: number;
  createdAt: string | null;
}

/** One entry of a collection's change log; search indexes replay it to stay current. */
export interface LogEntry {
  id: string;
  op: 'add' | 'del';
  chunkId: string;
}
