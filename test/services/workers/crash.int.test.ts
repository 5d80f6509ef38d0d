import type { Redis } from 'ioredis';
import { allParagraphs, loadSquad } from '../../../indexer/sources/squad.js';
import { keys } from '../../../indexer/store/keys.js';
import { ApiClient } from '../../support/http.js';
import { freshRedis, sharedFile, spawnService, tempDir, waitUntil, type Spawned } from '../../support/processes.js';

const C = 'crash';
let redis: Redis;
let api: Spawned;
let client: ApiClient;
let env: Record<string, string>;

beforeAll(async () => {
  const r = await freshRedis(2);
  redis = r.redis;
  // A short lock so jobs held by the killed worker are handed back within seconds.
  env = { REDIS_URL: r.url, DATA_DIR: tempDir('crash'), PORT: '0', RUN_WORKERS: 'false', JOB_LOCK_MS: '4000', SNAPSHOT_INTERVAL_MS: '0' };
  api = await spawnService('services/main.js', env, 'listening');
  client = new ApiClient(`http://127.0.0.1:${api.port}`);
}, 60_000);

afterAll(async () => {
  await api?.kill();
  redis?.disconnect();
});

it('a worker killed with SIGKILL mid-batch loses nothing and indexes every document exactly once', async () => {
  const squad = await loadSquad(sharedFile('squad-v1.1-dev.json'));
  const docs = allParagraphs(squad)
    .slice(0, 500)
    .map((p) => ({ id: p.id, title: p.title, text: p.context }));
  const res = await client.post(`/v1/collections/${C}/documents`, { documents: docs });
  expect(res.status).toBe(202);
  const jobIds: string[] = res.body.jobIds;

  let worker = await spawnService('services/workers/main.js', env, 'ready');
  await waitUntil(async () => (await redis.zcard(keys.docs(C))) >= 120, 180_000, '120 documents indexed');
  await worker.kill('SIGKILL');
  const atKill = await redis.zcard(keys.docs(C));
  expect(atKill).toBeLessThan(500);

  worker = await spawnService('services/workers/main.js', env, 'ready');
  try {
    await waitUntil(
      async () => {
        if ((await redis.zcard(keys.docs(C))) !== 500) return false;
        // One request at a time on one kept-alive connection: a burst of 50 parallel connections left idle between
        // polls was seen to meet the server's keep-alive close on a loaded machine ("other side closed").
        for (const id of jobIds.slice(-50)) if ((await client.get(`/v1/jobs/${id}`)).body.state !== 'completed') return false;
        return true;
      },
      300_000,
      'all 500 documents indexed after the restart',
      1000,
    );
    for (const id of jobIds) {
      const s = await client.get(`/v1/jobs/${id}`);
      expect(s.body.state).toBe('completed');
    }
    const chunkCount = await redis.scard(keys.chunks(C));
    const log = await redis.xrange(keys.log(C), '-', '+');
    const adds = log.filter(([, f]) => f[1] === 'add').map(([, f]) => f[3]);
    // Exactly once: one 'add' per chunk in the change log, no deletes, no duplicates.
    expect(adds).toHaveLength(chunkCount);
    expect(new Set(adds).size).toBe(chunkCount);
    expect(log.some(([, f]) => f[1] === 'del')).toBe(false);
    const stored = await redis.zrange(keys.docs(C), '0', '-1');
    expect(new Set(stored)).toEqual(new Set(docs.map((d) => d.id)));
    // The searchable index holds each chunk once.
    await client.post('/v1/search', { collection: C, query: 'anything', k: 1 });
    const info = await client.get(`/v1/collections/${C}`);
    expect(info.body.index.vectors).toBe(chunkCount);
  } finally {
    await worker.kill();
  }
}, 600_000);
