import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { componentLogger } from '../infra/logger.js';
import type { DocumentStore } from '../indexer/store/DocumentStore.js';
import { Bm25Index } from './Bm25Index.js';
import { createBm25Index, TITLE_IN_LEXICAL_TEXT } from './defaults.js';
import { VectorIndex } from './VectorIndex.js';
import { writeFileAtomic } from '../infra/atomicWrite.js';

const log = componentLogger('collection-index');

interface SnapshotPointer {
  dir: string;
  lastLogId: string;
  lexicalSha256: string;
  chunks: number;
  writtenAt: string;
}

/**
 * A collection's search structures (HNSW over chunk vectors + BM25 over chunk text), kept current by
 * replaying the store's change log. Everything here is derived data: a missing or corrupt snapshot
 * means replaying the log from the start, never serving a damaged index.
 */
export class CollectionIndex {
  private constructor(
    readonly collection: string,
    readonly vectors: VectorIndex,
    readonly lexical: Bm25Index,
    private lastLogId: string,
    private readonly store: DocumentStore,
  ) {}

  get appliedLogId(): string {
    return this.lastLogId;
  }

  get size(): number {
    return this.vectors.size;
  }

  static empty(collection: string, dim: number, store: DocumentStore, ef?: number): CollectionIndex {
    return new CollectionIndex(collection, new VectorIndex(dim, { ef }), createBm25Index(), '0', store);
  }

  /** Build from the stored chunks and vectors alone (ignores snapshots and the log's history), then catch up. */
  static async rebuild(collection: string, dim: number, store: DocumentStore, ef?: number): Promise<CollectionIndex> {
    const index = CollectionIndex.empty(collection, dim, store, ef);
    index.lastLogId = await store.lastLogId(collection);
    const ids = await store.allChunkIds(collection);
    for (let i = 0; i < ids.length; i += 1000) {
      const batch = ids.slice(i, i + 1000);
      const [chunks, vecs] = await Promise.all([store.getChunks(collection, batch), store.getVectors(collection, batch)]);
      const titles = await index.titlesOf(chunks);
      batch.forEach((id, j) => {
        const c = chunks[j];
        const v = vecs[j];
        if (!c || !v) return;
        index.vectors.upsert(id, v);
        index.lexical.add(id, c.text, titles.get(c.documentId));
      });
    }
    await index.catchUp();
    return index;
  }

  /** Load the newest valid snapshot under `root` (or start empty), then catch up with the log. */
  static async open(collection: string, dim: number, store: DocumentStore, root: string, ef?: number): Promise<CollectionIndex> {
    let index: CollectionIndex | null = null;
    try {
      index = await CollectionIndex.loadSnapshot(collection, store, root, ef);
      if (index && index.vectors.dim !== dim) {
        log.warn({ collection }, 'snapshot dimension differs from the collection embedder; rebuilding from the log');
        index = null;
      }
    } catch (err) {
      log.warn({ collection, err: (err as Error).message }, 'index snapshot unusable; rebuilding from the log');
      index = null;
    }
    index ??= CollectionIndex.empty(collection, dim, store, ef);
    await index.catchUp();
    return index;
  }

  private static async loadSnapshot(collection: string, store: DocumentStore, root: string, ef?: number): Promise<CollectionIndex | null> {
    const dir = path.join(root, collection);
    let pointer: SnapshotPointer;
    try {
      pointer = JSON.parse(await fs.readFile(path.join(dir, 'CURRENT'), 'utf8')) as SnapshotPointer;
    } catch {
      return null;
    }
    const snap = path.join(dir, path.basename(pointer.dir));
    const vectors = await VectorIndex.load(path.join(snap, 'vectors'), { ef });
    const lexicalText = await fs.readFile(path.join(snap, 'lexical.json'), 'utf8');
    if (createHash('sha256').update(lexicalText).digest('hex') !== pointer.lexicalSha256) {
      throw new Error(`lexical index checksum mismatch in ${snap}`);
    }
    const lexical = Bm25Index.fromJSON(JSON.parse(lexicalText));
    if (lexical.size !== vectors.size) throw new Error(`snapshot ${snap}: ${lexical.size} lexical vs ${vectors.size} vector entries`);
    return new CollectionIndex(collection, vectors, lexical, pointer.lastLogId, store);
  }

  /** Apply every log entry written since the last catch-up, in order. */
  async catchUp(): Promise<number> {
    let applied = 0;
    for (;;) {
      const entries = await this.store.readLog(this.collection, this.lastLogId, 2000);
      if (entries.length === 0) return applied;
      const addIds = [...new Set(entries.filter((e) => e.op === 'add').map((e) => e.chunkId))];
      const [chunks, vecs] = await Promise.all([this.store.getChunks(this.collection, addIds), this.store.getVectors(this.collection, addIds)]);
      const titles = await this.titlesOf(chunks);
      const data = new Map<string, { text: string; title?: string; vec: Float32Array }>();
      addIds.forEach((id, i) => {
        const c = chunks[i];
        const v = vecs[i];
        if (c && v) data.set(id, { text: c.text, title: titles.get(c.documentId), vec: v });
      });
      for (const e of entries) {
        if (e.op === 'add') {
          // Absent data means the chunk was deleted after this entry; its 'del' entry follows.
          const d = data.get(e.chunkId);
          if (!d) continue;
          this.vectors.upsert(e.chunkId, d.vec);
          if (this.lexical.has(e.chunkId)) this.lexical.remove(e.chunkId);
          this.lexical.add(e.chunkId, d.text, d.title);
        } else {
          this.vectors.remove(e.chunkId);
          if (this.lexical.has(e.chunkId)) this.lexical.remove(e.chunkId);
        }
        this.lastLogId = e.id;
        applied++;
      }
    }
  }

  /** Document titles for BM25 (measured: the title indexed with each chunk's text helps recall). */
  private async titlesOf(chunks: ({ documentId: string } | null)[]): Promise<Map<string, string>> {
    if (!TITLE_IN_LEXICAL_TEXT) return new Map();
    const ids = [...new Set(chunks.filter((c) => c !== null).map((c) => c.documentId))];
    const metas = await this.store.getDocumentMetas(this.collection, ids);
    return new Map(metas.filter((m) => m !== null && m.title).map((m) => [m!.id, m!.title]));
  }

  /** Persist a snapshot atomically: files first, then the CURRENT pointer by rename. */
  async saveSnapshot(root: string): Promise<string> {
    const dir = path.join(root, this.collection);
    const name = `snap-${this.lastLogId.replace(/[^0-9-]/g, '')}-${Date.now()}`;
    const snap = path.join(dir, name);
    await fs.mkdir(snap, { recursive: true });
    await this.vectors.save(path.join(snap, 'vectors'));
    const lexicalText = JSON.stringify(this.lexical.toJSON());
    await writeFileAtomic(path.join(snap, 'lexical.json'), lexicalText);
    const pointer: SnapshotPointer = {
      dir: name,
      lastLogId: this.lastLogId,
      lexicalSha256: createHash('sha256').update(lexicalText).digest('hex'),
      chunks: this.vectors.size,
      writtenAt: new Date().toISOString(),
    };
    await writeFileAtomic(path.join(dir, 'CURRENT'), JSON.stringify(pointer));
    // Older snapshots are no longer referenced; readers that opened one already hold it in memory.
    for (const entry of await fs.readdir(dir)) {
      if (entry.startsWith('snap-') && entry !== name) await fs.rm(path.join(dir, entry), { recursive: true, force: true });
    }
    return snap;
  }
}
