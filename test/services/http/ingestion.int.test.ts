import type { Redis } from 'ioredis';
import { allParagraphs, loadSquad } from '../../../indexer/sources/squad.js';
import { keys } from '../../../indexer/store/keys.js';
import { ApiClient, waitForJobs as waitForJobsOverHttp } from '../../support/http.js';
import { freshRedis, sharedFile, spawnService, tempDir, waitUntil, type Spawned } from '../../support/processes.js';

const C = 'squad';
let redis: Redis;
let api: Spawned;
let worker: Spawned;
let client: ApiClient;
let paragraphs: Awaited<ReturnType<typeof allParagraphs>>;

const waitForJobs = (jobIds: string[]) => waitForJobsOverHttp(client, jobIds, 240_000);

async function storedCounts() {
  const [docs, chunks, log] = await Promise.all([redis.zcard(keys.docs(C)), redis.scard(keys.chunks(C)), redis.xlen(keys.log(C))]);
  return { docs, chunks, log };
}

beforeAll(async () => {
  const r = await freshRedis(1);
  redis = r.redis;
  const env = { REDIS_URL: r.url, DATA_DIR: tempDir('ingest'), PORT: '0', RUN_WORKERS: 'false', SNAPSHOT_INTERVAL_MS: '0' };
  [api, worker] = await Promise.all([spawnService('services/main.js', env, 'listening'), spawnService('services/workers/main.js', env, 'ready')]);
  client = new ApiClient(`http://127.0.0.1:${api.port}`);
  const squad = await loadSquad(sharedFile('squad-v1.1-dev.json'));
  // Every 10th paragraph: 200+ paragraphs spread over all 48 articles.
  paragraphs = allParagraphs(squad).filter((_, i) => i % 10 === 0).slice(0, 200);
}, 120_000);

afterAll(async () => {
  await Promise.all([api?.kill(), worker?.kill()]);
  redis?.disconnect();
});

describe('ingestion over HTTP with real workers', () => {
  let jobIds: string[] = [];

  it('accepts a batch of 200 SQuAD paragraphs and indexes all of them', async () => {
    const res = await client.post(`/v1/collections/${C}/documents`, {
      documents: paragraphs.map((p) => ({ id: p.id, title: p.title, text: p.context, metadata: { article: p.articleIndex } })),
    });
    expect(res.status).toBe(202);
    expect(res.body.documentIds).toEqual(paragraphs.map((p) => p.id));
    expect(res.body.jobIds).toHaveLength(200);
    jobIds = res.body.jobIds;
    await waitForJobs(jobIds);
    const counts = await storedCounts();
    expect(counts.docs).toBe(200);
    expect(counts.chunks).toBeGreaterThanOrEqual(200);
    expect(counts.log).toBe(counts.chunks);
    const info = await client.get(`/v1/collections/${C}`);
    expect(info.body).toMatchObject({ name: C, documents: 200, chunks: counts.chunks });
    expect(info.body.embedder.dim).toBe(512);
  }, 300_000);

  it("finds each question's own paragraph", async () => {
    let found1 = 0;
    let found10 = 0;
    let total = 0;
    for (const p of paragraphs) {
      // The paragraph's own opening sentence must bring it back first.
      const opening = p.context.slice(0, 200);
      const self = await client.post('/v1/search', { collection: C, query: opening, k: 1 });
      expect(self.status).toBe(200);
      expect(self.body.hits[0].documentId).toBe(p.id);
      for (const q of p.qas) {
        const r = await client.post('/v1/search', { collection: C, query: q.question, k: 10 });
        const ids: string[] = r.body.hits.map((h: { documentId: string }) => h.documentId);
        total++;
        if (ids[0] === p.id) found1++;
        if (ids.includes(p.id)) found10++;
      }
    }
    // Over 200 paragraphs nearly every question finds its own; the full-corpus figures are in `rag bench retrieval`.
    expect(found10 / total).toBeGreaterThanOrEqual(0.97);
    expect(found1 / total).toBeGreaterThanOrEqual(0.85);
  }, 300_000);

  it('returns hits whose offsets point into the stored document', async () => {
    const p = paragraphs[7]!;
    const r = await client.post('/v1/search', { collection: C, query: p.qas[0]!.question, k: 3 });
    for (const h of r.body.hits) {
      const doc = await client.get(`/v1/collections/${C}/documents/${h.documentId}`);
      expect(doc.body.text.slice(h.start, h.end)).toBe(h.text);
    }
  });

  it('re-ingesting the same batch adds nothing', async () => {
    const before = await storedCounts();
    const res = await client.post(`/v1/collections/${C}/documents`, {
      documents: paragraphs.map((p) => ({ id: p.id, title: p.title, text: p.context, metadata: { article: p.articleIndex } })),
    });
    expect(res.status).toBe(202);
    expect(res.body.jobIds).toEqual(jobIds);
    await waitForJobs(res.body.jobIds);
    expect(await storedCounts()).toEqual(before);
  });

  it('updating a document replaces its chunks', async () => {
    const p = paragraphs[3]!;
    const before = await client.get(`/v1/collections/${C}/documents/${p.id}`);
    const oldChunkIds: string[] = before.body.chunkIds;
    const newText = 'The zebra-striped lighthouse of Quillmarsh was painted by Ottoline Vance in 1911. It still guides ferries.';
    const res = await client.post(`/v1/collections/${C}/documents`, { id: p.id, title: p.title, text: newText });
    await waitForJobs(res.body.jobIds);
    const after = await client.get(`/v1/collections/${C}/documents/${p.id}`);
    expect(after.body.text).toBe(newText);
    expect(after.body.chunkIds).not.toEqual(oldChunkIds);
    for (const id of oldChunkIds) expect(await redis.exists(keys.chunk(C, id))).toBe(0);
    const hit = await client.post('/v1/search', { collection: C, query: 'Who painted the zebra-striped lighthouse of Quillmarsh?', k: 3 });
    expect(hit.body.hits[0].documentId).toBe(p.id);
    expect(hit.body.hits[0].text).toContain('Ottoline Vance');
    const old = await client.post('/v1/search', { collection: C, query: p.context.slice(0, 200), k: 10 });
    expect(old.body.hits.map((h: { chunkId: string }) => h.chunkId)).not.toEqual(expect.arrayContaining(oldChunkIds));
    expect((await storedCounts()).docs).toBe(200);
  }, 120_000);

  it('deleting removes a document from search and from the store at once', async () => {
    const p = paragraphs[5]!;
    const doc = await client.get(`/v1/collections/${C}/documents/${p.id}`);
    const del = await client.delete(`/v1/collections/${C}/documents/${p.id}`);
    expect(del.status).toBe(200);
    expect((await client.get(`/v1/collections/${C}/documents/${p.id}`)).status).toBe(404);
    for (const id of doc.body.chunkIds as string[]) expect(await redis.exists(keys.chunk(C, id))).toBe(0);
    for (const mode of ['bm25', 'dense', 'hybrid']) {
      const r = await client.post('/v1/search', { collection: C, query: p.context.slice(0, 200), k: 10, mode });
      expect(r.body.hits.map((h: { documentId: string }) => h.documentId)).not.toContain(p.id);
    }
    expect((await storedCounts()).docs).toBe(199);
    expect((await client.delete(`/v1/collections/${C}/documents/${p.id}`)).status).toBe(404);
  });

  it('rejects malformed requests with a 4xx naming the problem, changing nothing', async () => {
    const before = await storedCounts();
    const cases: [string, string, unknown, number, RegExp][] = [
      ['POST', `/v1/collections/${C}/documents`, '{"text": "unterminated', 400, /malformed JSON/],
      ['POST', `/v1/collections/${C}/documents`, {}, 400, /text|documents/],
      ['POST', `/v1/collections/${C}/documents`, { text: 42 }, 400, /text/],
      ['POST', `/v1/collections/${C}/documents`, { text: '   ' }, 400, /text: must not be empty/],
      ['POST', `/v1/collections/${C}/documents`, { documents: [] }, 400, /documents/],
      ['POST', `/v1/collections/${C}/documents`, { documents: [{ text: 'ok' }, { text: '' }] }, 400, /documents\.1\.text/],
      ['POST', `/v1/collections/${C}/documents`, { id: '../etc/passwd', text: 'x' }, 400, /id/],
      ['POST', `/v1/collections/${C}/documents`, { text: 'x', extra: true }, 400, /extra|unrecognized/i],
      ['POST', `/v1/collections/bad%20name/documents`, { text: 'x' }, 400, /collection/],
      ['POST', `/v1/collections/${C}/documents`, { text: 'x'.repeat(21 * 1024 * 1024) }, 413, /limit/],
      ['POST', '/v1/search', { collection: C }, 400, /query/],
      ['POST', '/v1/search', { collection: C, query: 'x', k: 0 }, 400, /k/],
      ['POST', '/v1/search', { collection: C, query: 'x', mode: 'psychic' }, 400, /mode/],
      ['POST', '/v1/search', { collection: 'nope', query: 'x' }, 404, /collection nope not found/],
      ['GET', '/v1/jobs/does-not-exist', undefined, 404, /job/],
      ['GET', `/v1/collections/${C}/documents/missing-doc`, undefined, 404, /not found/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const r = await client.call(method, path, body);
      expect({ path, status: r.status }).toEqual({ path, status });
      expect(r.body.error.message).toMatch(message);
    }
    const wrongType = await fetch(`${client.base}/v1/search`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(wrongType.status).toBe(415);
    expect(await storedCounts()).toEqual(before);
    expect((await client.get('/healthz')).status).toBe(200);
  }, 60_000);
});
