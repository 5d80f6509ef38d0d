import type { Redis } from 'ioredis';
import { ApiKeyStore } from '../../services/auth/ApiKeyStore.js';
import { ApiClient } from '../support/http.js';
import { spawnService, waitUntil, type Spawned } from '../support/processes.js';
import { OwnRedis } from './ownRedis.js';
import { buildHardeningModels, stackEnv } from './support.js';

/** Two API replicas on one Redis: the limits are per caller across replicas, not per process. */
let own: OwnRedis;
let redis: Redis;
let apis: Spawned[] = [];
let clients: ApiClient[] = [];

beforeAll(async () => {
  own = await OwnRedis.start();
  redis = own.redis;
  const r = { url: own.url };
  const env = stackEnv(r.url, buildHardeningModels(), { RATE_LIMIT_REQUESTS: '5', RATE_LIMIT_ASK_REQUESTS: '2', RATE_LIMIT_WINDOW_SECONDS: '60', GENERATOR_MODEL: 'absent/model' });
  apis = await Promise.all([spawnService('services/main.js', env, 'listening'), spawnService('services/main.js', env, 'listening')]);
  clients = apis.map((a) => new ApiClient(`http://127.0.0.1:${a.port}`));
  // Counted requests start once both replicas are ready: before their Redis client is, the limiter lets requests through (by design).
  await Promise.all(clients.map((c) => waitUntil(async () => (await c.get('/readyz')).status === 200, 60_000, 'readiness')));
}, 120_000);

afterAll(async () => {
  await Promise.all(apis.map((a) => a.kill()));
  await own?.stop();
});

function expectLimited(r: { status: number; body: any; headers: Headers }, who: RegExp): void {
  expect(r.status).toBe(429);
  const retry = Number(r.headers.get('retry-after'));
  expect(Number.isInteger(retry)).toBe(true);
  expect(retry).toBeGreaterThanOrEqual(1);
  expect(retry).toBeLessThanOrEqual(60);
  expect(r.body.error.code).toBe('rate_limited');
  expect(r.body.error.message).toMatch(who);
  expect(r.body.error.message).toContain(`retry after ${retry} s`);
}

it('without authentication, limits each client address across both replicas with 429 and Retry-After', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await clients[i % 2]!.get('/v1/collections')).status);
  expect(statuses).toEqual([200, 200, 200, 200, 200]);
  const over = await clients[1]!.get('/v1/collections');
  expectLimited(over, /this client address/);
  expectLimited(await clients[0]!.get('/v1/collections'), /this client address/);
  // Health and readiness probes are not rate limited.
  expect((await clients[0]!.get('/healthz')).status).toBe(200);
  expect(Number(await redis.exists('rag:ratelimit:all:ip:::ffff:127.0.0.1')) + Number(await redis.exists('rag:ratelimit:all:ip:127.0.0.1'))).toBe(1);
});

it('with API keys, each key has its own budget, and questions have a smaller one', async () => {
  const store = new ApiKeyStore(redis);
  const a = (await store.create('client a', ['ask'])).key;
  const b = (await store.create('client b', ['ask'])).key;
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  // Authentication is enforced once a key exists (each replica re-reads that within 2 s).
  await new Promise((r) => setTimeout(r, 2500));
  for (let i = 0; i < 5; i++) expect((await clients[i % 2]!.call('GET', '/v1/collections', undefined, as(a))).status).toBe(200);
  expectLimited(await clients[0]!.call('GET', '/v1/collections', undefined, as(a)), /this API key/);
  // Key b is unaffected by a's use; its question budget (2) runs out before its overall budget (5).
  expect((await clients[1]!.call('GET', '/v1/collections', undefined, as(b))).status).toBe(200);
  const ask = () => clients[0]!.call('POST', '/v1/ask', { collection: 'none', question: 'why?' }, as(b));
  expect((await ask()).status).toBe(404);
  expect((await ask()).status).toBe(404);
  expectLimited(await ask(), /this API key/);
  expect((await clients[1]!.call('GET', '/v1/collections', undefined, as(b))).status).toBe(200);
});
