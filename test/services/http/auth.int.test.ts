import { execFile } from 'node:child_process';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { ApiClient } from '../../support/http.js';
import { DIST, freshRedis, spawnService, tempDir, type Spawned } from '../../support/processes.js';

const ADMIN = 'test-admin-key-0123456789abcdef';
let redis: Redis;
let api: Spawned;
let base: string;
let env: Record<string, string>;

async function call(method: string, p: string, key?: string, body?: unknown, headers: Record<string, string> = {}) {
  const client = new ApiClient(base);
  return client.call(method, p, body, { ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers });
}

/** Every protected endpoint with the least scope it needs. */
const ENDPOINTS: [string, string, 'ask' | 'ingest' | 'admin', unknown?][] = [
  ['POST', '/v1/collections/c1/documents', 'ingest', { text: 'hello world' }],
  ['DELETE', '/v1/collections/c1/documents/d1', 'ingest'],
  ['GET', '/v1/jobs/ing-x', 'ingest'],
  ['GET', '/v1/collections', 'ask'],
  ['GET', '/v1/collections/c1', 'ask'],
  ['GET', '/v1/collections/c1/documents/d1', 'ask'],
  ['POST', '/v1/search', 'ask', { collection: 'c1', query: 'q' }],
  ['POST', '/v1/ask', 'ask', { collection: 'c1', question: 'q' }],
  ['GET', '/v1/models', 'ask'],
  ['POST', '/v1/chat/completions', 'ask', { model: 'rag/c1', messages: [{ role: 'user', content: 'q' }] }],
  ['GET', '/v1/admin/keys', 'admin'],
  ['POST', '/v1/admin/keys', 'admin', { name: 'x', scopes: ['ask'] }],
  ['DELETE', '/v1/admin/keys/abcdefabcdef', 'admin'],
];

beforeAll(async () => {
  const r = await freshRedis(5);
  redis = r.redis;
  env = { REDIS_URL: r.url, DATA_DIR: tempDir('auth'), PORT: '0', RUN_WORKERS: 'false', ADMIN_API_KEY: ADMIN, GENERATOR_MODEL: 'absent/model' };
  api = await spawnService('services/main.js', env, 'listening');
  base = `http://127.0.0.1:${api.port}`;
}, 60_000);

afterAll(async () => {
  await api?.kill();
  redis?.disconnect();
});

describe('API keys and scopes', () => {
  const keys: Record<string, string> = {};

  it('creates scoped keys with the bootstrap admin key, stored hashed', async () => {
    for (const scope of ['ask', 'ingest'] as const) {
      const r = await call('POST', '/v1/admin/keys', ADMIN, { name: `${scope} client`, scopes: [scope] });
      expect(r.status).toBe(201);
      expect(r.body.key).toMatch(/^rag_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{32}$/);
      keys[scope] = r.body.key;
    }
    const stored = JSON.stringify(await redis.hgetall('rag:apikeys'));
    for (const k of Object.values(keys)) expect(stored).not.toContain(k.split('_')[2]);
    const list = await call('GET', '/v1/admin/keys', ADMIN);
    expect(list.body.keys.map((k: any) => k.name)).toEqual(['ask client', 'ingest client']);
    expect(list.body.keys[0].hash).toBeUndefined();
  });

  it('refuses missing, malformed, wrong and under-scoped keys on every endpoint', async () => {
    for (const [method, p, needed, body] of ENDPOINTS) {
      const none = await call(method, p, undefined, body);
      expect({ p, status: none.status }).toEqual({ p, status: 401 });
      expect(none.body.error.message).toMatch(/API key/);
      const wrong = await call(method, p, 'rag_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB', body);
      expect({ p, status: wrong.status }).toEqual({ p, status: 401 });
      const malformed = await call(method, p, undefined, body, { authorization: 'Basic abc' });
      expect({ p, status: malformed.status }).toEqual({ p, status: 401 });
      for (const scope of ['ask', 'ingest'] as const) {
        const allowed = scope === 'ingest' ? needed !== 'admin' : needed === 'ask';
        const r = await call(method, p, keys[scope], body);
        if (allowed) expect({ p, scope, status: r.status }).not.toEqual({ p, scope, status: 403 });
        else expect({ p, scope, status: r.status, msg: r.body.error.message }).toEqual({ p, scope, status: 403, msg: `authorization: key "${scope} client" lacks the "${needed}" scope` });
        expect(r.status).not.toBe(401);
      }
      const admin = await call(method, p, ADMIN, body);
      expect([401, 403]).not.toContain(admin.status);
    }
  });

  it('leaves health endpoints open', async () => {
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect([200, 503]).toContain((await call('GET', '/readyz')).status);
  });

  it('a revoked key stops working at once', async () => {
    const created = await call('POST', '/v1/admin/keys', ADMIN, { name: 'temp', scopes: ['ask'] });
    expect((await call('GET', '/v1/collections', created.body.key)).status).toBe(200);
    expect((await call('DELETE', `/v1/admin/keys/${created.body.id}`, ADMIN)).status).toBe(200);
    expect((await call('GET', '/v1/collections', created.body.key)).status).toBe(401);
  });

  it('the dashboard session: admin keys only, HttpOnly SameSite cookie, logout ends it', async () => {
    expect((await call('POST', '/v1/admin/session', undefined, { key: keys.ingest })).status).toBe(401);
    const login = await call('POST', '/v1/admin/session', undefined, { key: ADMIN });
    expect(login.status).toBe(201);
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const session = cookie.split(';')[0]!;
    expect((await call('GET', '/v1/admin/session', undefined, undefined, { cookie: session })).status).toBe(200);
    expect((await call('GET', '/v1/admin/keys', undefined, undefined, { cookie: session })).status).toBe(200);
    // Logging out changes state: with the cookie it must come from this origin, as the dashboard's own page does.
    expect((await call('DELETE', '/v1/admin/session', undefined, undefined, { cookie: session, origin: base })).status).toBe(200);
    expect((await call('GET', '/v1/admin/keys', undefined, undefined, { cookie: session })).status).toBe(401);
  });

  it('`rag keys create` makes a working key', async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [path.join(DIST, 'services/cli/rag.js'), 'keys', 'create', '--name', 'cli', '--scopes', 'ingest'], { env: { ...process.env, ...env } }, (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    const created = JSON.parse(out);
    expect(created.scopes).toEqual(['ingest']);
    expect((await call('GET', '/v1/jobs/ing-nothing', created.key)).status).toBe(404);
    expect((await call('GET', '/v1/admin/keys', created.key)).status).toBe(403);
  });
});
