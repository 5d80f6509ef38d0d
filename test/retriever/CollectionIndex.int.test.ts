import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { DocumentStore } from '../../indexer/store/DocumentStore.js';
import type { StoredChunk } from '../../indexer/store/types.js';
import { CollectionIndex } from '../../retriever/CollectionIndex.js';
import { freshRedis, tempDir } from '../support/processes.js';
import { seededUnitVectors } from './seededVectors.js';

const C = 'snap';
const DIM = 32;
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];
let redis: Redis;
let store: DocumentStore;
const vectors = seededUnitVectors(80, DIM, 7);

function docText(i: number): string {
  return `Document ${i} mentions ${WORDS[i % WORDS.length]} and ${WORDS[(i * 7) % WORDS.length]} number${i}.`;
}

async function putDoc(i: number): Promise<void> {
  const id = `d${i}`;
  const text = docText(i);
  const chunk: StoredChunk = { id: `c${i}`, collection: C, documentId: id, index: 0, start: 0, end: text.length, text, sentences: [{ start: 0, end: text.length }], tokenCount: 10, contentHash: `h${i}` };
  const res = await store.applyDocument(
    { id, collection: C, title: '', text, metadata: {}, contentHash: `h${i}`, chunkIds: [chunk.id], version: await store.nextVersion(C), updatedAt: '' },
    [{ chunk, vector: vectors[i]! }],
    { id: 'test-embedder', dim: DIM },
  );
  expect(res.applied).toBe(true);
}

function topIds(ix: CollectionIndex, i: number): { dense: string[]; lexical: string[] } {
  return { dense: ix.vectors.search(vectors[i]!, 5).map((h) => h.key), lexical: ix.lexical.search(`number${i}`, 5).map((h) => h.id) };
}

beforeAll(async () => {
  ({ redis } = await freshRedis(3));
  store = new DocumentStore(redis);
  for (let i = 0; i < 50; i++) await putDoc(i);
});

afterAll(() => redis.disconnect());

describe('CollectionIndex snapshots and log replay', () => {
  it('a snapshot plus the log tail reproduces the live index; corrupt snapshots are rebuilt, never served', async () => {
    const root = tempDir('snapshots');
    const live = await CollectionIndex.open(C, DIM, store, root);
    expect(live.size).toBe(50);
    expect(topIds(live, 3).dense[0]).toBe('c3');
    expect(topIds(live, 3).lexical[0]).toBe('c3');
    await live.saveSnapshot(root);
    const savedAt = live.appliedLogId;

    // Changes after the snapshot: five more documents, three deletions.
    for (let i = 50; i < 55; i++) await putDoc(i);
    for (const i of [1, 2, 52]) expect(await store.deleteDocument(C, `d${i}`)).toBe(true);

    const reopened = await CollectionIndex.open(C, DIM, store, root);
    expect(reopened.size).toBe(52);
    expect(reopened.appliedLogId).not.toBe(savedAt);
    await live.catchUp();
    for (const i of [0, 3, 17, 49, 50, 54]) expect(topIds(reopened, i)).toEqual(topIds(live, i));
    for (const gone of ['c1', 'c2', 'c52']) {
      expect(reopened.vectors.has(gone)).toBe(false);
      expect(reopened.lexical.has(gone)).toBe(false);
    }

    // Flip one byte of the HNSW graph file: the checksum refuses it and the index is rebuilt from the log.
    const snapDir = fs.readdirSync(path.join(root, C)).find((d) => d.startsWith('snap-'))!;
    const vecDir = path.join(root, C, snapDir, 'vectors');
    const graphFile = fs.readdirSync(vecDir).find((f) => f.endsWith('.hnsw'))!;
    const bytes = fs.readFileSync(path.join(vecDir, graphFile));
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    fs.writeFileSync(path.join(vecDir, graphFile), bytes);
    const rebuilt = await CollectionIndex.open(C, DIM, store, root);
    expect(rebuilt.size).toBe(52);
    for (const i of [0, 3, 17, 49, 50, 54]) expect(topIds(rebuilt, i)).toEqual(topIds(live, i));

    // A damaged lexical index is refused the same way.
    await live.saveSnapshot(root);
    const snap2 = fs.readdirSync(path.join(root, C)).find((d) => d.startsWith('snap-'))!;
    fs.appendFileSync(path.join(root, C, snap2, 'lexical.json'), ' ');
    const rebuilt2 = await CollectionIndex.open(C, DIM, store, root);
    expect(rebuilt2.size).toBe(52);
    expect(topIds(rebuilt2, 50)).toEqual(topIds(live, 50));
  });

  it('rebuild() from the stored vectors alone equals the log-replayed index', async () => {
    const replayed = CollectionIndex.empty(C, DIM, store);
    await replayed.catchUp();
    const rebuilt = await CollectionIndex.rebuild(C, DIM, store);
    expect(rebuilt.size).toBe(replayed.size);
    expect(rebuilt.appliedLogId).toBe(replayed.appliedLogId);
    for (const i of [0, 5, 33, 53]) expect(topIds(rebuilt, i)).toEqual(topIds(replayed, i));
  });

  it('a stale or deleted document version never overwrites a newer one', async () => {
    const text = 'stale';
    const chunk: StoredChunk = { id: 'cs', collection: C, documentId: 'd0', index: 0, start: 0, end: 5, text, sentences: [], tokenCount: 1, contentHash: 'x' };
    const res = await store.applyDocument(
      { id: 'd0', collection: C, title: '', text, metadata: {}, contentHash: 'x', chunkIds: ['cs'], version: 1, updatedAt: '' },
      [{ chunk, vector: vectors[0]! }],
      { id: 'test-embedder', dim: DIM },
    );
    // d0 holds version 1: the same version again is 'current' (a retried write), an older one 'stale'.
    expect(res).toEqual({ applied: false, reason: 'current' });
    const newer = (await store.getDocumentMeta(C, 'd5'))!.version;
    expect(newer).toBeGreaterThan(1);
    const stale = await store.applyDocument(
      { id: 'd5', collection: C, title: '', text, metadata: {}, contentHash: 'x', chunkIds: ['cs'], version: newer - 1, updatedAt: '' },
      [{ chunk: { ...chunk, documentId: 'd5' }, vector: vectors[0]! }],
      { id: 'test-embedder', dim: DIM },
    );
    expect(stale).toEqual({ applied: false, reason: 'stale' });
    const deleted = await store.applyDocument(
      { id: 'd1', collection: C, title: '', text, metadata: {}, contentHash: 'x', chunkIds: ['cs'], version: 3, updatedAt: '' },
      [{ chunk: { ...chunk, documentId: 'd1' }, vector: vectors[0]! }],
      { id: 'test-embedder', dim: DIM },
    );
    expect(deleted).toEqual({ applied: false, reason: 'deleted' });
    await expect(
      store.applyDocument(
        { id: 'd99', collection: C, title: '', text, metadata: {}, contentHash: 'x', chunkIds: ['cs'], version: 10_000, updatedAt: '' },
        [{ chunk: { ...chunk, documentId: 'd99' }, vector: seededUnitVectors(1, 16, 1)[0]! }],
        { id: 'other-embedder', dim: 16 },
      ),
    ).rejects.toThrow(/built with embedder test-embedder/);
    expect((await store.getDocument(C, 'd0'))!.text).toBe(docText(0));
    expect((await store.getDocument(C, 'd5'))!.text).toBe(docText(5));
  });
});
