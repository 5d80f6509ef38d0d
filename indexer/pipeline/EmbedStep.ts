import type { Embedder } from '../embedding/Embedder.js';
import type { DocumentStore } from '../store/DocumentStore.js';
import type { ChunkStepResult, EmbedStepResult } from './jobs.js';

export function encodeVector(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

export function decodeVector(s: string): Float32Array {
  const b = Buffer.from(s, 'base64');
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** Embed the chunks that have no stored vector yet; unchanged chunks of an edited document reuse theirs. */
export async function runEmbedStep(
  collection: string,
  chunked: ChunkStepResult,
  deps: { store: DocumentStore; embedder: Embedder },
): Promise<EmbedStepResult> {
  const embedderInfo = { id: deps.embedder.id, dim: deps.embedder.dim };
  if (chunked.unchanged) return { unchanged: true, chunks: [], vectors: [], embedder: embedderInfo, embedded: 0, reused: 0 };
  const stored = await deps.store.getVectors(
    collection,
    chunked.chunks.map((c) => c.id),
  );
  const missing = chunked.chunks.map((c, i) => ({ c, i })).filter(({ i }) => !stored[i] || stored[i]!.length !== embedderInfo.dim);
  const fresh = missing.length ? await deps.embedder.embed(missing.map(({ c }) => c.text)) : [];
  const vectors = stored.slice();
  missing.forEach(({ i }, j) => (vectors[i] = fresh[j]!));
  return {
    unchanged: false,
    chunks: chunked.chunks,
    vectors: vectors.map((v) => encodeVector(v!)),
    embedder: embedderInfo,
    embedded: missing.length,
    reused: chunked.chunks.length - missing.length,
  };
}
