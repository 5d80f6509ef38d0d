import type { Redis } from 'ioredis';
import { EmbedderMismatchError } from '../../../indexer/embedding/Embedder.js';
import { UseLiteEmbedder } from '../../../indexer/embedding/UseLiteEmbedder.js';
import { documentContentHash, ingestJobId, QUEUES } from '../../../indexer/pipeline/jobs.js';
import { freshRedis } from '../../support/processes.js';
import { inProcessIngestion, type InProcessIngestion } from '../../support/inProcessIngestion.js';

const C = 'ingsvc';
let redis: Redis;
let embedder: UseLiteEmbedder;
let ing: InProcessIngestion;

const DOC = {
  id: 'harbour',
  title: 'The Harbour',
  text: 'The harbour was dredged in 1910. Fishing boats still land their catch at dawn. A ferry crosses to the island twice a day.',
  metadata: { source: 'test' },
};

beforeAll(async () => {
  const r = await freshRedis(14);
  redis = r.redis;
  embedder = await UseLiteEmbedder.create();
  ing = inProcessIngestion(r.url, redis, embedder);
}, 60_000);
afterAll(async () => {
  await ing?.close();
  await embedder?.close();
  redis?.disconnect();
});

describe('IngestionService (real queues, real workers, real embedder)', () => {
  it('turns a document into one deterministic flow that waits, then runs chunk -> embed -> index to a stored, searchable version', async () => {
    const [jobId] = await ing.submit(C, [DOC]);
    expect(jobId).toBe(ingestJobId(C, DOC.id, documentContentHash(DOC)));
    // Nothing consumes the queues yet: the flow waits on its children.
    expect(await ing.service.status(jobId!)).toMatchObject({ id: jobId, state: 'waiting', progress: 0, documentId: DOC.id, collection: C });
    expect(await ing.service.queue('chunk').getJobCounts('waiting')).toEqual({ waiting: 1 });
    ing.startWorkers();
    const [done] = await ing.settle([jobId!]);
    const stored = await ing.store.getDocument(C, DOC.id);
    expect(stored).not.toBeNull();
    expect(done).toMatchObject({ state: 'completed', progress: 100, result: { documentId: DOC.id, applied: true, added: stored!.chunkIds.length, removed: 0 } });
    expect(stored!.text).toBe(DOC.text);
    expect(stored!.metadata).toEqual(DOC.metadata);
    const chunks = await ing.store.getChunks(C, stored!.chunkIds);
    expect(chunks.map((c) => c!.text).join(' ')).toContain('ferry crosses');
    const vectors = await ing.store.getVectors(C, stored!.chunkIds);
    // The stored vector is the embedder's vector of the chunk text.
    const [direct] = await embedder.embed([chunks[0]!.text]);
    let diff = 0;
    vectors[0]!.forEach((v, i) => (diff = Math.max(diff, Math.abs(v - direct![i]!))));
    expect(diff).toBeLessThanOrEqual(1e-5);
    expect(await ing.store.collectionEmbedder(C)).toMatchObject({ id: embedder.id, dim: embedder.dim });
  }, 90_000);

  it('resubmitting the same content is a no-op; changed content is a new version that replaces the old one', async () => {
    const counts = async () => (await ing.service.queue('index').getJobCounts('completed')).completed;
    const before = await counts();
    const version = (await ing.store.getDocument(C, DOC.id))!.version;
    const [same] = await ing.submit(C, [DOC]);
    expect(same).toBe(ingestJobId(C, DOC.id, documentContentHash(DOC)));
    expect(await counts()).toBe(before);
    expect((await ing.store.getDocument(C, DOC.id))!.version).toBe(version);

    const edited = { ...DOC, text: `${DOC.text} The lighthouse keeper retired in 1964.` };
    const [next] = await ing.submit(C, [edited]);
    expect(next).not.toBe(same);
    await ing.settle([next!]);
    const stored = (await ing.store.getDocument(C, DOC.id))!;
    expect(stored.version).toBeGreaterThan(version);
    expect(stored.text).toBe(edited.text);
    expect(await ing.service.status('ing-unknown')).toBeNull();
    expect(await redis.exists(`bull:${QUEUES.index}:${next}`)).toBe(1);
  }, 90_000);

  it('refuses to add to a collection built with another embedder', async () => {
    await expect(ing.service.assertEmbedder(C, { id: embedder.id, dim: embedder.dim })).resolves.toBeUndefined();
    await expect(ing.service.assertEmbedder(C, { id: 'another-model', dim: embedder.dim })).rejects.toBeInstanceOf(EmbedderMismatchError);
    await expect(ing.service.assertEmbedder('fresh-collection', { id: 'another-model', dim: 3 })).resolves.toBeUndefined();
  });
});
