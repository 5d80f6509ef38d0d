import type { Redis } from 'ioredis';
import { keys } from '../../indexer/store/keys.js';
import { ApiClient } from '../support/http.js';
import { spawnService, waitUntil, type Spawned } from '../support/processes.js';
import { OwnRedis } from './ownRedis.js';
import { buildHardeningModels, expectIndexedOnce, shortDocuments, stackEnv, waitForJobs } from './support.js';

const C = 'crash1k';
const N = 1000;
let own: OwnRedis;
let redis: Redis;
let api: Spawned;
let client: ApiClient;
let env: Record<string, string>;

beforeAll(async () => {
  own = await OwnRedis.start();
  redis = own.redis;
  const r = { url: own.url };
  // Short documents and the tiny encoder keep 1,000 documents cheap; a 2 s lock hands a killed worker's jobs back quickly.
  env = stackEnv(r.url, buildHardeningModels(), { JOB_LOCK_MS: '2000', PREFILL_ON_INGEST: 'false', SHUTDOWN_TIMEOUT_MS: '10000' });
  api = await spawnService('services/main.js', env, 'listening');
  client = new ApiClient(`http://127.0.0.1:${api.port}`);
}, 120_000);

afterAll(async () => {
  await api?.kill();
  await own?.stop();
});

const indexed = () => redis.zcard(keys.docs(C));

it('workers stopped with SIGTERM and killed with SIGKILL mid-ingestion of 1,000 documents index every document exactly once', async () => {
  const docs = shortDocuments(N);
  const res = await client.post(`/v1/collections/${C}/documents`, { documents: docs });
  expect(res.status).toBe(202);
  const jobIds: string[] = res.body.jobIds;
  expect(new Set(jobIds).size).toBe(N);

  // 1. A graceful stop: active jobs finish (or are handed back), the process exits 0 within the shutdown timeout.
  let worker = await spawnService('services/workers/main.js', env, 'ready');
  await waitUntil(async () => (await indexed()) >= 150, 180_000, '150 documents indexed', 100);
  const exited = new Promise<number | null>((resolve) => worker.child.once('exit', (code) => resolve(code)));
  const stopAt = Date.now();
  worker.child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(Date.now() - stopAt).toBeLessThan(15_000);
  const afterStop = await indexed();
  expect(afterStop).toBeLessThan(N);

  // 2. A crash: SIGKILL while jobs are active.
  worker = await spawnService('services/workers/main.js', env, 'ready');
  await waitUntil(async () => (await indexed()) >= afterStop + 200, 180_000, '200 more documents indexed', 100);
  await worker.kill('SIGKILL');
  expect(await indexed()).toBeLessThan(N);

  // 3. A fresh worker finishes the rest, including the jobs the killed one held.
  worker = await spawnService('services/workers/main.js', env, 'ready');
  try {
    await waitForJobs(client, jobIds, 400_000);
    // Exactly once: one 'add' per chunk in the change log, no deletes, no duplicates.
    const chunkCount = await expectIndexedOnce(redis, C, N);
    expect(new Set(await redis.zrange(keys.docs(C), '0', '-1'))).toEqual(new Set(docs.map((d) => d.id)));
    // Each stored document holds the text that was sent.
    for (const i of [0, 499, 999]) {
      const d = await client.get(`/v1/collections/${C}/documents/d${i}`);
      expect(d.body.text).toBe(docs[i]!.text);
    }
    // The searchable index holds each chunk once, and finds a document by its unique token.
    const hit = await client.post('/v1/search', { collection: C, query: 'zx777q', k: 1, mode: 'bm25' });
    expect(hit.body.hits[0].documentId).toBe('d777');
    const info = await client.get(`/v1/collections/${C}`);
    expect(info.body.index.vectors).toBe(chunkCount);
  } finally {
    await worker.kill();
  }
}, 600_000);
