import type { Redis } from 'ioredis';
import { UseLiteEmbedder } from '../../indexer/embedding/UseLiteEmbedder.js';
import { IndexRegistry } from '../../retriever/IndexRegistry.js';
import { SearchService } from '../../retriever/SearchService.js';
import { DOCS } from '../generator/fixtures.js';
import { freshRedis, tempDir } from '../support/processes.js';
import { inProcessIngestion, type InProcessIngestion } from '../support/inProcessIngestion.js';

const C = 'searchsvc';
let redis: Redis;
let embedder: UseLiteEmbedder;
let ing: InProcessIngestion;
let search: SearchService;

const dot = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);

beforeAll(async () => {
  const r = await freshRedis(11);
  redis = r.redis;
  embedder = await UseLiteEmbedder.create();
  ing = inProcessIngestion(r.url, redis, embedder, { target: 24, max: 40 });
  ing.startWorkers();
  await ing.settle(await ing.submit(C, DOCS.map((d) => ({ ...d, metadata: {} }))));
  search = new SearchService(ing.store, new IndexRegistry(ing.store, tempDir('search-snapshots')), embedder);
}, 90_000);
afterAll(async () => {
  await ing?.close();
  await embedder?.close();
  redis?.disconnect();
});

describe('SearchService over an ingested collection (real store, real embedder)', () => {
  it('bm25 ranks the chunk with the question words first; hits are the stored chunks with exact document offsets', async () => {
    const r = await search.search(C, 'how many pupils did the grammar school open with', 3, 'bm25');
    expect(r.mode).toBe('bm25');
    expect(r.hits[0]!.documentId).toBe('doc-school');
    expect(r.hits.length).toBeLessThanOrEqual(3);
    expect(r.chunks.map((c) => c.id)).toEqual(r.hits.map((h) => h.chunkId));
    for (const h of r.hits) {
      const doc = await ing.store.getDocument(C, h.documentId);
      expect(doc!.text.slice(h.start, h.end)).toBe(h.text);
    }
  });

  it('dense ranking equals the exact cosine ranking over the stored vectors', async () => {
    const query = 'a bridge designed by an engineer';
    const r = await search.search(C, query, 4, 'dense');
    const ids = await ing.store.allChunkIds(C);
    const vectors = await ing.store.getVectors(C, ids);
    const [q] = await embedder.embed([query]);
    const exact = ids.map((id, i) => ({ id, score: dot(q!, vectors[i]!) })).sort((a, b) => b.score - a.score);
    expect(r.hits.map((h) => h.chunkId)).toEqual(exact.slice(0, 4).map((e) => e.id));
    r.hits.forEach((h, i) => expect(h.score).toBeCloseTo(exact[i]!.score, 5));
  });

  it('hybrid returns k distinct chunks, the gold one first for a lexical and semantic match', async () => {
    const r = await search.search(C, 'When was the railway bridge finished?', 5, 'hybrid');
    expect(r.hits[0]!.documentId).toBe('doc-bridge');
    expect(new Set(r.hits.map((h) => h.chunkId)).size).toBe(r.hits.length);
    expect(r.hits.length).toBe(Math.min(5, (await ing.store.allChunkIds(C)).length));
  });

  it('a deleted document is gone from the very next search in every mode; an unknown collection has no hits', async () => {
    expect(await ing.store.deleteDocument(C, 'doc-market')).toBe(true);
    for (const mode of ['bm25', 'dense', 'hybrid'] as const) {
      const r = await search.search(C, 'farmers bring cheese apples and wool to the market', 10, mode);
      expect(r.hits.map((h) => h.documentId)).not.toContain('doc-market');
    }
    expect(await search.search('no-such-collection', 'anything', 3)).toEqual({ hits: [], chunks: [], mode: 'hybrid' });
  });
});
