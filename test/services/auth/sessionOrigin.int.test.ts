import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { queueOptions, QUEUES } from '../../../indexer/pipeline/jobs.js';
import { CALIBRATE_QUEUE } from '../../../services/workers/CalibrationWorker.js';
import { ApiClient } from '../../support/http.js';
import { freshRedis, spawnService, tempDir, type Spawned } from '../../support/processes.js';

/**
 * State-changing calls authenticated by the dashboard's session cookie are refused (403) unless Origin or
 * Sec-Fetch-Site show this same origin; Bearer-key calls are unaffected. The cookie is Secure when the
 * request came over https through a trusted proxy (TRUST_PROXY_HOPS).
 */
const ADMIN = 'origin-admin-key-0123456789';
let redis: Redis;
let api: Spawned;
let client: ApiClient;
let origin: string;
let calibrate: Queue;
let index: Queue;

beforeAll(async () => {
  const r = await freshRedis(10);
  redis = r.redis;
  api = await spawnService('services/main.js', { REDIS_URL: r.url, DATA_DIR: tempDir('origin'), PORT: '0', RUN_WORKERS: 'false', ADMIN_API_KEY: ADMIN, GENERATOR_MODEL: 'absent/model', TRUST_PROXY_HOPS: '1' }, 'listening');
  origin = `http://127.0.0.1:${api.port}`;
  client = new ApiClient(origin);
  calibrate = new Queue(CALIBRATE_QUEUE, queueOptions(redis));
  index = new Queue(QUEUES.index, queueOptions(redis));
}, 60_000);

afterAll(async () => {
  await api?.kill();
  await calibrate?.close();
  await index?.close();
  redis?.disconnect();
});

const bearer = { authorization: `Bearer ${ADMIN}` };

async function login(headers: Record<string, string> = {}): Promise<{ cookie: string; setCookie: string }> {
  const r = await client.call('POST', '/v1/admin/session', { key: ADMIN }, headers);
  expect(r.status).toBe(201);
  const setCookie = r.headers.get('set-cookie')!;
  return { cookie: setCookie.split(';')[0]!, setCookie };
}

const victims: string[] = [];
async function newKeyId(): Promise<string> {
  const r = await client.call('POST', '/v1/admin/keys', { name: 'victim', scopes: ['ask'] }, bearer);
  expect(r.status).toBe(201);
  victims.push(r.body.id);
  return r.body.id;
}

/** Every state-changing admin route, with the status a same-origin call gets (404: the origin check passed, the job does not exist). */
const ROUTES: { name: string; method: string; path: string | (() => Promise<string>); body?: unknown; ok: number }[] = [
  { name: 'create key', method: 'POST', path: '/v1/admin/keys', body: { name: 'csrf', scopes: ['admin'] }, ok: 201 },
  { name: 'revoke key', method: 'DELETE', path: async () => `/v1/admin/keys/${await newKeyId()}`, ok: 200 },
  { name: 'retry job', method: 'POST', path: '/v1/admin/jobs/rag-index/ing-none/retry', body: {}, ok: 404 },
  { name: 'remove job', method: 'DELETE', path: '/v1/admin/jobs/rag-index/ing-none', ok: 404 },
  { name: 'recalibrate', method: 'POST', path: '/v1/admin/calibration', body: {}, ok: 202 },
  { name: 'log out', method: 'DELETE', path: '/v1/admin/session', ok: 200 },
  { name: 'Bull Board: pause queue', method: 'PUT', path: '/admin/queues/api/queues/rag-index/pause', ok: 200 },
  { name: 'Bull Board: resume queue', method: 'PUT', path: '/admin/queues/api/queues/rag-index/resume', ok: 200 },
];

async function send(route: (typeof ROUTES)[number], headers: Record<string, string>): Promise<number> {
  const path = typeof route.path === 'string' ? route.path : await route.path();
  return (await client.call(route.method, path, route.body, headers)).status;
}

it('with the session cookie, every state-changing admin route refuses another origin, a cross-site fetch and a request naming no origin', async () => {
  const { cookie } = await login();
  const calibrationsBefore = await calibrate.count();
  const refused: string[] = [];
  for (const route of ROUTES) {
    for (const [what, headers] of [
      ['evil Origin', { cookie, origin: 'http://evil.example' }],
      ['Sec-Fetch-Site cross-site', { cookie, 'sec-fetch-site': 'cross-site' }],
      ['Sec-Fetch-Site same-site', { cookie, 'sec-fetch-site': 'same-site', origin }],
      ['no Origin', { cookie }],
      ['Origin "null"', { cookie, origin: 'null' }],
    ] as const) {
      const status = await send(route, headers);
      expect({ route: route.name, what, status }).toEqual({ route: route.name, what, status: 403 });
      refused.push(`${route.name}/${what}`);
    }
  }
  expect(refused).toHaveLength(ROUTES.length * 5);
  // Nothing changed: no key created or revoked, no job queued, the queue not paused, the session still valid.
  const keys = (await client.call('GET', '/v1/admin/keys', undefined, bearer)).body.keys as { id: string; name: string }[];
  expect(keys.filter((k) => k.name === 'csrf')).toEqual([]);
  expect(victims.length).toBe(5);
  for (const id of victims) expect(keys.map((k) => k.id)).toContain(id);
  expect(await calibrate.count()).toBe(calibrationsBefore);
  expect(await index.isPaused()).toBe(false);
  expect((await client.call('GET', '/v1/admin/session', undefined, { cookie })).status).toBe(200);
  // Reading with the cookie needs no origin.
  expect((await client.call('GET', '/v1/admin/keys', undefined, { cookie })).status).toBe(200);
}, 60_000);

it('with the session cookie, the same routes work from this origin (Origin or Sec-Fetch-Site: same-origin)', async () => {
  for (const route of ROUTES) {
    for (const headers of [{ origin }, { 'sec-fetch-site': 'same-origin' }] as Record<string, string>[]) {
      const { cookie } = await login();
      const status = await send(route, { cookie, ...headers });
      expect({ route: route.name, headers, status }).toEqual({ route: route.name, headers, status: route.ok });
    }
  }
  expect(await index.isPaused()).toBe(false);
}, 60_000);

it('with a Bearer key, the Origin does not matter', async () => {
  for (const route of ROUTES.filter((r) => r.name !== 'log out')) {
    const status = await send(route, { ...bearer, origin: 'http://evil.example' });
    expect({ route: route.name, status }).toEqual({ route: route.name, status: route.ok });
  }
}, 60_000);

it('the session cookie is Secure when the request came over https through the trusted proxy, whose origin then counts', async () => {
  expect((await login()).setCookie).not.toMatch(/Secure/);
  const viaProxy = await login({ 'x-forwarded-proto': 'https' });
  expect(viaProxy.setCookie).toMatch(/; Secure/);
  expect(viaProxy.setCookie).toMatch(/HttpOnly/);
  const host = `127.0.0.1:${api.port}`;
  const create = { name: 'via-proxy', scopes: ['ask'] };
  expect((await client.call('POST', '/v1/admin/keys', create, { cookie: viaProxy.cookie, 'x-forwarded-proto': 'https', origin: `https://${host}` })).status).toBe(201);
  // The page was served over https, so an http Origin is another origin.
  expect((await client.call('POST', '/v1/admin/keys', create, { cookie: viaProxy.cookie, 'x-forwarded-proto': 'https', origin: `http://${host}` })).status).toBe(403);
}, 60_000);
