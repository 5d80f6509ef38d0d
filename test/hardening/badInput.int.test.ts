import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { queueOptions, QUEUES } from '../../indexer/pipeline/jobs.js';
import { ApiClient } from '../support/http.js';
import { spawnService, type Spawned } from '../support/processes.js';
import { OwnRedis } from './ownRedis.js';
import { buildHardeningModels, shortDocuments, stackEnv, storedState, waitForJobs, type StoredState } from './support.js';

const C = 'hostile';
const ADMIN = 'hardening-admin-key-0123456789';
const AUTH = { authorization: `Bearer ${ADMIN}` };
const LIMIT = 256 * 1024;
let own: OwnRedis;
let redis: Redis;
let api: Spawned;
let worker: Spawned;
let client: ApiClient;
let before: StoredState;
let chunkJobsBefore: number;

const JSON_TYPE = { 'content-type': 'application/json' };

interface Case {
  name: string;
  method: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  /** Exact status when it matters (413, 415, 401); any 4xx otherwise. */
  status?: number;
  /** Part of the error message that must appear. */
  message?: RegExp;
}

const docs = `/v1/collections/${C}/documents`;
const post = (path: string, body: string | Buffer, extra: Partial<Case> = {}): Omit<Case, 'name'> => ({ method: 'POST', path, body, headers: JSON_TYPE, ...extra });
const json = (v: unknown) => JSON.stringify(v);
const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
const huge = (n: number) => json({ text: 'x'.repeat(n) });

const CASES: Case[] = [
  // Malformed JSON
  { name: 'truncated JSON', ...post(docs, '{"text": "a"', { message: /malformed JSON/ }) },
  { name: 'single quotes', ...post(docs, "{'text':'a'}", { message: /malformed JSON/ }) },
  { name: 'trailing comma', ...post(docs, '{"text":"a",}', { message: /malformed JSON/ }) },
  { name: 'NaN literal', ...post(docs, '{"text":"a","metadata":{"n":NaN}}', { message: /malformed JSON/ }) },
  { name: 'empty body', ...post(docs, '', { message: /body/ }) },
  { name: 'JSON null', ...post(docs, 'null') },
  { name: 'top-level string', ...post(docs, '"a document"') },
  { name: 'top-level number', ...post(docs, '123') },
  { name: 'comment in JSON', ...post('/v1/search', '{"collection":"hostile", /* x */ "query":"a"}', { message: /malformed JSON/ }) },
  // Arrays where objects are expected, and other wrong types
  { name: 'array body', ...post(docs, '[]') },
  { name: 'array of documents', ...post(docs, json([{ text: 'a' }])) },
  { name: 'text is a number', ...post(docs, json({ text: 5 }), { message: /^text:/ }) },
  { name: 'text is an array', ...post(docs, json({ text: ['a'] }), { message: /^text:/ }) },
  { name: 'text is an object', ...post(docs, json({ text: { a: 1 } }), { message: /^text:/ }) },
  { name: 'documents is an object', ...post(docs, json({ documents: { 0: { text: 'a' } } }), { message: /^documents:/ }) },
  { name: 'documents is empty', ...post(docs, json({ documents: [] }), { message: /^documents:/ }) },
  { name: 'document is a number', ...post(docs, json({ documents: [5] }), { message: /^documents\.0:/ }) },
  { name: 'metadata is an array', ...post(docs, json({ text: 'a', metadata: [1, 2] }), { message: /^metadata:/ }) },
  { name: 'title is a number', ...post(docs, json({ text: 'a', title: 42 }), { message: /^title:/ }) },
  { name: 'unknown field', ...post(docs, json({ text: 'a', extra: 1 })) },
  { name: 'search k as a string', ...post('/v1/search', json({ collection: C, query: 'q', k: '5' }), { message: /^k:/ }) },
  { name: 'search mode unknown', ...post('/v1/search', json({ collection: C, query: 'q', mode: 'sql' }), { message: /^mode:/ }) },
  { name: 'search body is an array', ...post('/v1/search', json([{ collection: C, query: 'q' }])) },
  { name: 'ask collection is an object', ...post('/v1/ask', json({ collection: { $ne: null }, question: 'q' }), { message: /^collection:/ }) },
  { name: 'chat messages is an object', ...post('/v1/chat/completions', json({ model: `rag/${C}`, messages: { role: 'user', content: 'q' } }), { message: /^messages:/ }) },
  { name: 'chat with no user text', ...post('/v1/chat/completions', json({ model: `rag/${C}`, messages: [{ role: 'system', content: 'q' }] }), { message: /^messages:/ }) },
  // Huge or out-of-range numbers
  { name: 'k overflowing to Infinity', ...post('/v1/search', `{"collection":"${C}","query":"q","k":1e400}`, { message: /^k:/ }) },
  { name: 'k = 1e20', ...post('/v1/search', json({ collection: C, query: 'q', k: 1e20 }), { message: /^k:/ }) },
  { name: 'k negative', ...post('/v1/search', json({ collection: C, query: 'q', k: -1 }), { message: /^k:/ }) },
  { name: 'k fractional', ...post('/v1/search', json({ collection: C, query: 'q', k: 2.5 }), { message: /^k:/ }) },
  { name: 'ask k = 1e308', ...post('/v1/ask', json({ collection: C, question: 'q', k: 1e308 }), { message: /^k:/ }) },
  { name: 'ask seed beyond 2^53', ...post('/v1/ask', `{"collection":"${C}","question":"q","seed":9007199254740993}`, { message: /^seed:/ }) },
  { name: 'ask budgetTokens huge', ...post('/v1/ask', json({ collection: C, question: 'q', budgetTokens: 1e15 }), { message: /^budgetTokens:/ }) },
  { name: 'chat seed 1e300', ...post('/v1/chat/completions', json({ model: `rag/${C}`, messages: [{ role: 'user', content: 'q' }], seed: 1e300 }), { message: /^seed:/ }) },
  { name: 'chat max_tokens 1e9', ...post('/v1/chat/completions', json({ model: `rag/${C}`, messages: [{ role: 'user', content: 'q' }], max_tokens: 1e9 }), { message: /^max_tokens:/ }) },
  // Oversized bodies, on every body-taking route
  { name: 'huge ingest body', ...post(docs, huge(LIMIT + 10), { status: 413, message: /byte limit/ }) },
  { name: 'huge search body', ...post('/v1/search', json({ collection: C, query: 'q'.repeat(LIMIT) }), { status: 413 }) },
  { name: 'huge ask body', ...post('/v1/ask', json({ collection: C, question: 'q'.repeat(LIMIT) }), { status: 413 }) },
  { name: 'huge chat body', ...post('/v1/chat/completions', json({ model: `rag/${C}`, messages: [{ role: 'user', content: 'q'.repeat(LIMIT) }] }), { status: 413 }) },
  { name: 'huge admin key body', ...post('/v1/admin/keys', json({ name: 'n'.repeat(LIMIT), scopes: ['ask'] }), { status: 413 }) },
  { name: 'metadata too large (within the body limit)', ...post(docs, json({ text: 'a', metadata: { blob: 'm'.repeat(100_000) } }), { message: /^metadata:/ }) },
  { name: 'question over 4000 characters', ...post('/v1/ask', json({ collection: C, question: 'q'.repeat(5000) }), { message: /^question:/ }) },
  { name: 'chat question over 4000 characters', ...post('/v1/chat/completions', json({ model: `rag/${C}`, messages: [{ role: 'user', content: 'q'.repeat(5000) }] }), { message: /4000/ }) },
  { name: 'nested 100 levels deep', ...post(docs, `{"text":"a","metadata":{"x":${'['.repeat(100)}${']'.repeat(100)}}}`, { message: /nested deeper/ }) },
  { name: 'gzip bomb (small on the wire, over the limit inflated)', ...post(docs, gzipSync(huge(LIMIT * 8)), { headers: { ...JSON_TYPE, 'content-encoding': 'gzip' }, status: 413 }) },
  { name: 'unknown content encoding', ...post(docs, json({ text: 'a' }), { headers: { ...JSON_TYPE, 'content-encoding': 'x-custom' }, status: 415 }) },
  // Invalid UTF-8 and charsets
  { name: 'invalid UTF-8 in text', ...post(docs, bytes('{"text":"caf', [0xc3, 0x28], '"}'), { message: /UTF-8/ }) },
  { name: 'overlong UTF-8 slash', ...post(docs, bytes('{"id":"a', [0xc0, 0xaf], 'b","text":"x"}'), { message: /UTF-8/ }) },
  { name: 'stray 0xFF byte in search', ...post('/v1/search', bytes('{"collection":"hostile","query":"', [0xff], '"}'), { message: /UTF-8/ }) },
  { name: 'UTF-8 encoded surrogate', ...post(docs, bytes('{"text":"', [0xed, 0xa0, 0x80], '"}'), { message: /UTF-8/ }) },
  { name: 'unpaired surrogate escape', ...post(docs, '{"text":"a\\udc00b"}', { message: /surrogate/ }) },
  { name: 'latin1 charset', ...post(docs, json({ text: 'a' }), { headers: { 'content-type': 'application/json; charset=latin1' }, status: 415 }) },
  { name: 'UTF-16 body', ...post(docs, Buffer.from(json({ text: 'a' }), 'utf16le'), { headers: { 'content-type': 'application/json; charset=utf-16' }, status: 415 }) },
  // Control characters
  { name: 'control character in text', ...post(docs, json({ text: 'a\u0001b' }), { message: /^text: must not contain control/ }) },
  { name: 'ANSI escape in title', ...post(docs, json({ text: 'a', title: '\u001b[31mred' }), { message: /^title:/ }) },
  { name: 'NUL in query', ...post('/v1/search', json({ collection: C, query: 'a\u0000b' }), { message: /^query:/ }) },
  { name: 'BEL in question', ...post('/v1/ask', json({ collection: C, question: 'why\u0007' }), { message: /^question:/ }) },
  { name: 'control character in chat question', ...post('/v1/chat/completions', json({ model: `rag/${C}`, messages: [{ role: 'user', content: 'a\u0008b' }] }), { message: /control/ }) },
  { name: 'control character in document id', ...post(docs, json({ id: '\u0001abc', text: 'a' }), { message: /^id:/ }) },
  { name: 'NUL in collection path', method: 'GET', path: '/v1/collections/hostile%00', message: /^collection:/ },
  { name: 'newline in document id path', method: 'GET', path: `/v1/collections/${C}/documents/d0%0Ax`, message: /^id:/ },
  // Path-like names
  { name: 'dot-dot document id', ...post(docs, json({ id: '../../etc/passwd', text: 'a' }), { message: /^id:/ }) },
  { name: 'slash in document id', ...post(docs, json({ id: 'a/b', text: 'a' }), { message: /^id:/ }) },
  { name: 'absolute path document id', ...post(docs, json({ documents: [{ id: '/etc/passwd', text: 'a' }] }), { message: /^documents\.0\.id:/ }) },
  { name: 'encoded traversal in document path', method: 'GET', path: `/v1/collections/${C}/documents/..%2F..%2Fetc%2Fpasswd`, message: /^id:/ },
  { name: 'dot-dot delete', method: 'DELETE', path: `/v1/collections/${C}/documents/%2E%2E%2Fd0`, message: /^id:/ },
  { name: 'traversal collection in URL', ...post('/v1/collections/..%2Fsecret/documents', json({ text: 'a' }), { message: /^collection:/ }) },
  { name: 'traversal collection in search', ...post('/v1/search', json({ collection: '../indexes', query: 'q' }), { message: /^collection:/ }) },
  { name: 'backslash collection', method: 'GET', path: '/v1/collections/..%5Cwindows', message: /^collection:/ },
  { name: 'traversal job id', method: 'GET', path: '/v1/jobs/..%2F..%2Fdump.rdb', message: /^id:/ },
  { name: 'path as chat model', ...post('/v1/chat/completions', json({ model: 'rag/../../etc/passwd', messages: [{ role: 'user', content: 'q' }] }), { message: /^model:/ }) },
  { name: 'URL as chat model', ...post('/v1/chat/completions', json({ model: 'http://169.254.169.254/latest', messages: [{ role: 'user', content: 'q' }] }), { message: /^model:/ }) },
  { name: 'file URL as collection', ...post('/v1/chat/completions', json({ model: 'x', collection: 'file:///etc/passwd', messages: [{ role: 'user', content: 'q' }] }), { message: /^collection:/ }) },
  { name: 'overlong document id', method: 'GET', path: `/v1/collections/${C}/documents/${'a'.repeat(200)}`, message: /^id:/ },
  { name: 'overlong collection name', method: 'GET', path: `/v1/collections/${'c'.repeat(65)}`, message: /^collection:/ },
  // Duplicate and prototype keys
  { name: 'duplicate text key', ...post(docs, '{"text":"a","text":"b"}', { message: /duplicate key "text"/ }) },
  { name: 'duplicate collection key', ...post('/v1/search', `{"collection":"${C}","query":"x","collection":"other"}`, { message: /duplicate key "collection"/ }) },
  { name: 'duplicate key via escape', ...post(docs, '{"text":"a","t\\u0065xt":"b"}', { message: /duplicate key/ }) },
  { name: '__proto__ in metadata', ...post(docs, '{"text":"a","metadata":{"__proto__":{"polluted":true}}}', { message: /__proto__/ }) },
  { name: 'constructor.prototype', ...post(docs, '{"text":"a","metadata":{"constructor":{"prototype":{"polluted":true}}}}', { message: /not allowed/ }) },
  // Content type
  { name: 'text/plain body', ...post(docs, json({ text: 'a' }), { headers: { 'content-type': 'text/plain' }, status: 415 }) },
  { name: 'form body', ...post(docs, 'text=a', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415 }) },
  { name: 'no content type', ...post(docs, json({ text: 'a' }), { headers: {}, status: 415 }) },
  // Missing or wrong keys
  { name: 'no API key', ...post(docs, json({ text: 'a' }), { headers: { ...JSON_TYPE, authorization: '' }, status: 401 }) },
  { name: 'unknown API key', ...post(docs, json({ text: 'a' }), { headers: { ...JSON_TYPE, authorization: 'Bearer rag_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB' }, status: 401 }) },
  { name: 'Basic auth', method: 'GET', path: '/v1/collections', headers: { authorization: 'Basic YWRtaW46YWRtaW4=' }, status: 401 },
  { name: 'two tokens in the header', method: 'GET', path: '/v1/collections', headers: { authorization: `Bearer ${ADMIN} extra` }, status: 401 },
  { name: 'key in the query string', method: 'GET', path: `/v1/collections?api_key=${ADMIN}`, headers: { authorization: '' }, status: 401 },
  { name: 'forged session cookie', method: 'GET', path: '/v1/admin/keys', headers: { authorization: '', cookie: 'rag_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, status: 401 },
  { name: 'session login with a wrong key', ...post('/v1/admin/session', json({ key: 'not-the-admin-key' }), { headers: { ...JSON_TYPE, authorization: '' }, status: 401 }) },
];

async function send(c: Case): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...AUTH, ...(c.headers ?? {}) };
  for (const [k, v] of Object.entries(headers)) if (v === '') delete headers[k];
  const res = await fetch(client.base + c.path, { method: c.method, headers, body: c.body });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* asserted below */
  }
  return { status: res.status, body, headers: res.headers };
}

async function chunkJobCount(): Promise<number> {
  const q = new Queue(QUEUES.chunk, queueOptions(redis));
  try {
    return Object.values(await q.getJobCounts()).reduce((a, b) => a + b, 0);
  } finally {
    await q.close();
  }
}

beforeAll(async () => {
  own = await OwnRedis.start();
  redis = own.redis;
  const r = { url: own.url };
  const env = stackEnv(r.url, buildHardeningModels(), { ADMIN_API_KEY: ADMIN, MAX_BODY_BYTES: String(LIMIT), RATE_LIMIT_REQUESTS: '100000', RATE_LIMIT_ASK_REQUESTS: '100000' });
  [api, worker] = await Promise.all([spawnService('services/main.js', env, 'listening'), spawnService('services/workers/main.js', env, 'ready')]);
  client = new ApiClient(`http://127.0.0.1:${api.port}`);
  const res = await client.call('POST', docs, { documents: shortDocuments(6) }, AUTH);
  expect(res.status).toBe(202);
  await waitForJobs(client, res.body.jobIds, 120_000, AUTH);
  before = await storedState(redis, C);
  chunkJobsBefore = await chunkJobCount();
}, 180_000);

afterAll(async () => {
  await Promise.all([api?.kill(), worker?.kill()]);
  await own?.stop();
});

describe('hostile and malformed requests', () => {
  it(`has at least 50 cases`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s → 4xx with a message', async (_name, c) => {
    const r = await send(c);
    const summary = { status: r.status, message: r.body?.error?.message };
    if (c.status) expect(summary.status).toBe(c.status);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(typeof summary.message).toBe('string');
    expect(summary.message.length).toBeGreaterThan(3);
    if (c.message) expect(summary.message).toMatch(c.message);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('leaves the server healthy and the stored data unchanged', async () => {
    expect((await client.get('/healthz')).status).toBe(200);
    expect((await client.get('/readyz')).status).toBe(200);
    // Give any wrongly accepted ingest time to reach the store before comparing.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await storedState(redis, C)).toEqual(before);
    expect(await chunkJobCount()).toBe(chunkJobsBefore);
    expect(await redis.exists(`rag:{${C.replace('hostile', '..')}}:docs`)).toBe(0);
    const search = await client.call('POST', '/v1/search', { collection: C, query: 'zx3q', k: 3, mode: 'bm25' }, AUTH);
    expect(search.status).toBe(200);
    expect(search.body.hits[0].documentId).toBe('d3');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(api.output()).not.toMatch(/unhandled error/);
  });
});
