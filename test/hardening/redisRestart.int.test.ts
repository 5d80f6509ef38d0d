import type { Redis } from 'ioredis';
import { keys } from '../../indexer/store/keys.js';
import { ApiClient } from '../support/http.js';
import { spawnService, type Spawned } from '../support/processes.js';
import { OwnRedis } from './ownRedis.js';
import { buildHardeningModels, shortDocuments, stackEnv, waitForJobs } from './support.js';

/**
 * A Redis this test owns (its own port and append-only file), killed with SIGKILL in the middle of an
 * ingestion and started again on the same files: every ingest the API acknowledged (202) is indexed.
 */
const C = 'durable';
const N = 160;
let own: OwnRedis;
let redis: Redis;
let api: Spawned;
let worker: Spawned;
let client: ApiClient;

beforeAll(async () => {
  own = await OwnRedis.start();
  redis = own.redis;
  const env = stackEnv(own.url, buildHardeningModels(), { PREFILL_ON_INGEST: 'false', JOB_LOCK_MS: '3000' });
  [api, worker] = await Promise.all([spawnService('services/main.js', env, 'listening'), spawnService('services/workers/main.js', env, 'ready')]);
  client = new ApiClient(`http://127.0.0.1:${api.port}`);
}, 120_000);

afterAll(async () => {
  await Promise.all([api?.kill(), worker?.kill()]);
  await own?.stop();
});

it('no acknowledged ingest is lost when Redis is killed and restarted on its append-only file', async () => {
  const docs = shortDocuments(N, 'r');
  const acknowledged = new Map<string, string>();
  let failures = 0;
  let restarted: Promise<void> | null = null;
  let pendingAtKill = 0;
  // The first half in one batch, acknowledged just before the kill, so most of it is still queued when Redis dies.
  const batch = await client.post(`/v1/collections/${C}/documents`, { documents: docs.slice(0, N / 2) });
  expect(batch.status).toBe(202);
  docs.slice(0, N / 2).forEach((d, i) => acknowledged.set(d.id, batch.body.jobIds[i]));
  pendingAtKill = N / 2 - (await redis.zcard(keys.docs(C)));
  // SIGKILL: no shutdown work, no final fsync. The same server binary restarts on the same files 1.5 s later.
  await own.kill('SIGKILL');
  restarted = new Promise((r) => setTimeout(r, 1500)).then(() => own.startServer());
  // Readiness says so at once (load balancers stop sending traffic), rather than hanging.
  const probe = await client.get('/readyz');
  expect(probe.status).toBe(503);
  expect(probe.body.checks.redis).toBe(false);
  // The second half one by one, across the outage.
  for (const d of docs.slice(N / 2)) {
    try {
      const r = await fetch(`${client.base}/v1/collections/${C}/documents`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(d),
        signal: AbortSignal.timeout(20_000),
      });
      if (r.status === 202) acknowledged.set(d.id, ((await r.json()) as { jobIds: string[] }).jobIds[0]!);
      else failures++;
    } catch {
      failures++;
    }
  }
  await restarted;
  process.stderr.write(`redis restart: ${acknowledged.size} acknowledged, ${failures} failed, ${pendingAtKill} acknowledged but not yet indexed at the kill\n`);
  expect(pendingAtKill).toBeGreaterThan(0);
  // Requests made while Redis was down failed fast with 503 (REDIS_REQUEST_TIMEOUT_MS) or went through once it was back.
  expect(acknowledged.size + failures).toBe(N);
  expect(acknowledged.size).toBeGreaterThanOrEqual(N / 2);
  await waitForJobs(client, [...acknowledged.values()], 300_000);
  const stored = new Set(await redis.zrange(keys.docs(C), '0', '-1'));
  for (const id of acknowledged.keys()) expect(stored.has(id)).toBe(true);
  // Exactly once per chunk in the change log, and every stored document is intact.
  const log = await redis.xrange(keys.log(C), '-', '+');
  const adds = log.filter(([, f]) => f[1] === 'add').map(([, f]) => f[3]);
  expect(new Set(adds).size).toBe(adds.length);
  expect(adds.length).toBe(await redis.scard(keys.chunks(C)));
  for (const id of [...acknowledged.keys()].filter((_, i) => i % 20 === 0)) {
    const d = await client.get(`/v1/collections/${C}/documents/${id}`);
    expect(d.body.text).toBe(docs.find((x) => x.id === id)!.text);
  }
  expect((await client.get('/readyz')).status).toBe(200);
}, 400_000);
