import { createHash } from 'node:crypto';
import type { ConnectionOptions, DefaultJobOptions, KeyPrefixOptions, QueueBaseOptions } from 'bullmq';
import type { DocumentInput, StoredChunk } from '../store/types.js';

/**
 * The ingestion flow, one per document version: chunk (parse + split) -> embed (batched across
 * documents) -> index (atomic write to the store + change log). BullMQ runs children before parents,
 * so the user-facing job is the flow's root, the index step.
 */
export const QUEUES = { chunk: 'rag-chunk', embed: 'rag-embed', index: 'rag-index', prefill: 'rag-prefill' } as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/**
 * BullMQ's key prefix for every queue: a Redis Cluster hash tag, so all of a queue's keys and a flow's parent
 * and children (which live in different queues and are updated by one Lua script) share one slot. One tag for
 * all queues puts the queue traffic on one cluster shard; documents, chunks and vectors spread by collection.
 */
export const QUEUE_PREFIX = '{rag}';

/** Connection and key prefix: what every Queue, Worker and FlowProducer of the service is built with. */
export type QueueConnection = QueueBaseOptions & Required<KeyPrefixOptions>;

export function queueOptions(connection: ConnectionOptions): QueueConnection {
  return { connection, prefix: QUEUE_PREFIX };
}

export interface IngestJobData {
  collection: string;
  document: Required<Pick<DocumentInput, 'id' | 'text'>> & { title: string; metadata: Record<string, unknown> };
  contentHash: string;
  /** Assigned when the ingest was accepted; the store ignores versions older than what it holds. */
  version: number;
  requestId?: string;
}

export type ChunkRecord = Omit<StoredChunk, 'collection'>;

export interface ChunkStepResult {
  /** True when the stored document already has this content: later steps do nothing. */
  unchanged: boolean;
  chunks: ChunkRecord[];
}

export interface EmbedStepResult {
  unchanged: boolean;
  chunks: ChunkRecord[];
  /** Base64 of each chunk's float32 vector, same order as chunks. */
  vectors: string[];
  embedder: { id: string; dim: number };
  embedded: number;
  reused: number;
}

export interface IndexStepResult {
  documentId: string;
  applied: boolean;
  reason?: string;
  added: number;
  removed: number;
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** Documents submitted without an id are named by their text, so resubmitting the same text is a no-op. */
export function defaultDocumentId(text: string): string {
  return `doc-${sha256(text).slice(0, 24)}`;
}

/** Hash over everything that makes a document version distinct. */
export function documentContentHash(doc: IngestJobData['document']): string {
  return sha256(JSON.stringify([doc.title, doc.text, doc.metadata]));
}

/** Deterministic id: the same document content submitted twice maps to the same job (a no-op). */
export function ingestJobId(collection: string, documentId: string, contentHash: string): string {
  return `ing-${sha256(`${collection}\u0000${documentId}\u0000${contentHash}`).slice(0, 32)}`;
}

/** Chunk ids depend on the document and the chunk content, so unchanged chunks keep their id (and vector) across edits. */
export function chunkIdFor(documentId: string, chunkContentHash: string, occurrence: number): string {
  return sha256(`${documentId}\u0000${chunkContentHash}\u0000${occurrence}`).slice(0, 24);
}

export function jobOptions(attempts: number): DefaultJobOptions {
  return {
    attempts,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 7 * 24 * 3600, count: 200_000 },
    removeOnFail: { age: 30 * 24 * 3600 },
  };
}
