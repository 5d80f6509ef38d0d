import { crashPoint } from '../../infra/crashPoint.js';
import type { DocumentStore } from '../store/DocumentStore.js';
import type { StoredChunk } from '../store/types.js';
import { decodeVector } from './EmbedStep.js';
import type { EmbedStepResult, IndexStepResult, IngestJobData } from './jobs.js';

/**
 * Called after a document version is durably indexed (the KV prefill queue hooks in here), also when a retried
 * attempt finds its write already applied: the attempt that wrote it may have died before the hook ran, so the
 * hook must be idempotent (the prefill job has a deterministic id).
 */
export type AfterIndexHook = (event: { collection: string; documentId: string; title: string; version: number; chunks: StoredChunk[] }) => Promise<void>;

/** Atomically replace the document's chunks in the store; searchers pick the change up from the log. */
export async function runIndexStep(
  data: IngestJobData,
  embedded: EmbedStepResult,
  deps: { store: DocumentStore; afterIndex?: AfterIndexHook },
): Promise<IndexStepResult> {
  const { collection, document } = data;
  if (embedded.unchanged) return { documentId: document.id, applied: false, reason: 'unchanged', added: 0, removed: 0 };
  const chunks: StoredChunk[] = embedded.chunks.map((c) => ({ ...c, collection }));
  const res = await deps.store.applyDocument(
    {
      id: document.id,
      collection,
      title: document.title,
      text: document.text,
      metadata: document.metadata,
      contentHash: data.contentHash,
      chunkIds: chunks.map((c) => c.id),
      version: data.version,
      updatedAt: new Date().toISOString(),
    },
    chunks.map((chunk, i) => ({ chunk, vector: decodeVector(embedded.vectors[i]!) })),
    embedded.embedder,
  );
  if (!res.applied && res.reason !== 'current') return { documentId: document.id, applied: false, reason: res.reason, added: 0, removed: 0 };
  await crashPoint('after-index-write', { collection, documentId: document.id });
  if (deps.afterIndex) await deps.afterIndex({ collection, documentId: document.id, title: document.title, version: data.version, chunks });
  return res.applied
    ? { documentId: document.id, applied: true, added: res.added, removed: res.removed }
    : { documentId: document.id, applied: false, reason: res.reason, added: 0, removed: 0 };
}
