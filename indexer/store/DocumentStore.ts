import type { Redis } from 'ioredis';
import { EmbedderMismatchError } from '../embedding/Embedder.js';
import { keys } from './keys.js';
import { APPLY_DOCUMENT, DELETE_DOCUMENT } from './scripts.js';
import type { CollectionInfo, EmbedderInfo, LogEntry, StoredChunk, StoredDocument } from './types.js';

export interface ChunkWithVector {
  chunk: StoredChunk;
  vector: Float32Array;
}

export type ApplyResult =
  | { applied: true; added: number; removed: number }
  /** current: this version is already stored (an earlier attempt wrote it); stale: a newer one is; deleted: deleted after this version. */
  | { applied: false; reason: 'current' | 'stale' | 'deleted' };

type DocMeta = Omit<StoredDocument, 'text'>;

function vectorBytes(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function bytesToVector(b: Buffer): Float32Array {
  // Copy: a Buffer from ioredis may share a pooled ArrayBuffer at an unaligned offset.
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/**
 * Durable documents, chunks and vectors in Redis (run with append-only persistence). Writes go
 * through Lua scripts so a document's chunks, the change log and the counters move together.
 */
export class DocumentStore {
  constructor(private readonly redis: Redis) {}

  nextVersion(collection: string): Promise<number> {
    return this.redis.incr(keys.versionCounter(collection));
  }

  async getDocument(collection: string, id: string): Promise<StoredDocument | null> {
    const [meta, text] = await this.redis.hmget(keys.doc(collection, id), 'meta', 'text');
    if (!meta || text === null) return null;
    return { ...(JSON.parse(meta) as DocMeta), text };
  }

  async getDocumentMeta(collection: string, id: string): Promise<DocMeta | null> {
    const meta = await this.redis.hget(keys.doc(collection, id), 'meta');
    return meta ? (JSON.parse(meta) as DocMeta) : null;
  }

  /** Document records (without text) in the order asked; missing ones are null. */
  getDocumentMetas(collection: string, ids: string[]): Promise<(DocMeta | null)[]> {
    return this.fieldOfEach(ids.map((id) => keys.doc(collection, id)), 'meta', (v) => JSON.parse(v.toString()) as DocMeta);
  }

  /** Chunks in the order asked; missing ones (deleted since) come back as null. */
  getChunks(collection: string, ids: string[]): Promise<(StoredChunk | null)[]> {
    return this.fieldOfEach(ids.map((id) => keys.chunk(collection, id)), 'meta', (v) => JSON.parse(v.toString()) as StoredChunk);
  }

  getVectors(collection: string, ids: string[]): Promise<(Float32Array | null)[]> {
    return this.fieldOfEach(ids.map((id) => keys.chunk(collection, id)), 'vec', bytesToVector);
  }

  /** One hash field of many keys in one round trip, parsed; absent ones are null. */
  private async fieldOfEach<T>(hashKeys: string[], field: string, parse: (v: Buffer) => T): Promise<(T | null)[]> {
    if (hashKeys.length === 0) return [];
    const p = this.redis.pipeline();
    for (const k of hashKeys) p.hgetBuffer(k, field);
    const res = (await p.exec()) ?? [];
    return res.map(([err, v]) => (err || !v ? null : parse(v as Buffer)));
  }

  /** Replace a document's chunks if `doc.version` is newer than what is stored and not deleted since. */
  async applyDocument(doc: StoredDocument, chunks: ChunkWithVector[], embedder: EmbedderInfo): Promise<ApplyResult> {
    const c = doc.collection;
    const meta: DocMeta = {
      id: doc.id,
      collection: c,
      title: doc.title,
      metadata: doc.metadata,
      contentHash: doc.contentHash,
      chunkIds: chunks.map((x) => x.chunk.id),
      version: doc.version,
      updatedAt: doc.updatedAt,
    };
    const keyList = [
      keys.doc(c, doc.id),
      keys.tombstone(c, doc.id),
      keys.docs(c),
      keys.chunks(c),
      keys.log(c),
      keys.meta(c),
      keys.collections(),
      ...chunks.map((x) => keys.chunk(c, x.chunk.id)),
    ];
    const args: (string | Buffer | number)[] = [
      doc.version,
      JSON.stringify(meta),
      doc.text,
      embedder.id,
      embedder.dim,
      c,
      Date.now(),
      keys.chunk(c, ''),
      chunks.length,
      doc.id,
    ];
    for (const { chunk, vector } of chunks) {
      if (vector.length !== embedder.dim) throw new Error(`chunk ${chunk.id}: vector has ${vector.length} dims, embedder ${embedder.dim}`);
      args.push(chunk.id, JSON.stringify(chunk), vectorBytes(vector));
    }
    const res = (await this.redis.eval(APPLY_DOCUMENT, keyList.length, ...keyList, ...args)) as [number, string, number | string | undefined, number?];
    if (res[0] === -1) throw new EmbedderMismatchError({ id: res[1], dim: Number(res[2]) }, embedder, c);
    if (res[0] === 0) return { applied: false, reason: res[1] as 'current' | 'stale' | 'deleted' };
    return { applied: true, added: Number(res[2]), removed: Number(res[3]) };
  }

  async deleteDocument(collection: string, id: string): Promise<boolean> {
    const k = [keys.doc(collection, id), keys.tombstone(collection, id), keys.docs(collection), keys.chunks(collection), keys.log(collection), keys.versionCounter(collection)];
    const res = await this.redis.eval(DELETE_DOCUMENT, k.length, ...k, keys.chunk(collection, ''), id);
    return Number(res) === 1;
  }

  /** Delete every document of a collection (each through the tombstoning path), then its bookkeeping keys. */
  async deleteCollection(collection: string): Promise<number> {
    let deleted = 0;
    for (;;) {
      const ids = await this.listDocumentIds(collection, 0, 500);
      if (ids.length === 0) break;
      for (const id of ids) if (await this.deleteDocument(collection, id)) deleted++;
    }
    await this.redis.del(keys.meta(collection), keys.docs(collection), keys.chunks(collection), keys.log(collection));
    await this.redis.srem(keys.collections(), collection);
    return deleted;
  }

  async collectionExists(collection: string): Promise<boolean> {
    return (await this.redis.sismember(keys.collections(), collection)) === 1;
  }

  async collectionEmbedder(collection: string): Promise<EmbedderInfo | null> {
    const e = await this.redis.hget(keys.meta(collection), 'embedder');
    return e ? (JSON.parse(e) as EmbedderInfo) : null;
  }

  async collectionInfo(collection: string): Promise<CollectionInfo | null> {
    if (!(await this.collectionExists(collection))) return null;
    const [[, meta], [, docs], [, chunks]] = (await this.redis
      .pipeline()
      .hgetall(keys.meta(collection))
      .zcard(keys.docs(collection))
      .scard(keys.chunks(collection))
      .exec()) as [[unknown, Record<string, string>], [unknown, number], [unknown, number]];
    return {
      name: collection,
      embedder: meta.embedder ? (JSON.parse(meta.embedder) as EmbedderInfo) : null,
      documents: docs,
      chunks,
      createdAt: meta.createdAt ? new Date(Number(meta.createdAt)).toISOString() : null,
    };
  }

  async listCollections(): Promise<CollectionInfo[]> {
    const names = (await this.redis.smembers(keys.collections())).sort();
    const infos = await Promise.all(names.map((n) => this.collectionInfo(n)));
    return infos.filter((x): x is CollectionInfo => x !== null);
  }

  async listDocumentIds(collection: string, offset = 0, limit = 100): Promise<string[]> {
    return this.redis.zrange(keys.docs(collection), String(offset), String(offset + limit - 1));
  }

  async allChunkIds(collection: string): Promise<string[]> {
    return this.redis.smembers(keys.chunks(collection));
  }

  /** Change-log entries strictly after `afterId` ('0' for all), oldest first. */
  async readLog(collection: string, afterId: string, count = 5000): Promise<LogEntry[]> {
    const start = afterId === '0' ? '-' : `(${afterId}`;
    const rows = await this.redis.xrange(keys.log(collection), start, '+', 'COUNT', String(count));
    return rows.map(([id, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      return { id, op: f.op as 'add' | 'del', chunkId: f.chunk! };
    });
  }

  async lastLogId(collection: string): Promise<string> {
    const rows = await this.redis.xrevrange(keys.log(collection), '+', '-', 'COUNT', '1');
    return rows[0]?.[0] ?? '0';
  }
}
