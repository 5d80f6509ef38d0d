/** Records persisted by the DocumentStore; everything the search and ask paths read comes from here. */
export interface Span {
  start: number;
  end: number;
}

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

export interface StoredChunk {
  id: string;
  collection: string;
  documentId: string;
  index: number;
  /** Character offsets of the chunk in its document. */
  start: number;
  end: number;
  text: string;
  /** Sentence spans in document offsets (the compressor and citations reuse them). */
  sentences: Span[];
  tokenCount: number;
  contentHash: string;
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
