import { OwnRedis } from '../../hardening/ownRedis.js';
import { buildHardeningModels, shortDocuments, stackEnv, waitForJobs } from '../../hardening/support.js';
import { ApiClient } from '../../support/http.js';
import { longAnswerQuestions } from '../../support/longAnswers.js';
import { spawnService, waitUntil, type Spawned } from '../../support/processes.js';
import { parseExposition } from '../../support/prometheus.js';
import { StallingClient } from '../../support/stallingClient.js';

/**
 * Questions in progress are bounded: per API key (ASK_MAX_PER_CLIENT: 429 + Retry-After beyond), running per
 * process (ASK_MAX_CONCURRENT) and waiting (ASK_MAX_QUEUED: 503 + Retry-After beyond), shown on /metrics;
 * search is served throughout. Asks are held in progress by real streaming clients that stop reading (the
 * stream then pauses and stays open for STREAM_STALL_MS).
 */
const C = 'admit';
const ADMIN = 'admission-admin-key-0123456789';
const PER_CLIENT = 2;
const CONCURRENT = 3;
const QUEUED = 2;
let own: OwnRedis;
let api: Spawned;
let worker: Spawned;
let client: ApiClient;
let question: string;
const keys: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };
const held: StallingClient[] = [];

const as = (key: string) => ({ authorization: `Bearer ${key}` });

async function metrics(): Promise<{ inFlight: number; queued: number; perClient: number; queueFull: number }> {
  const m = parseExposition((await client.call('GET', '/metrics', undefined, as(ADMIN))).body);
  return {
    inFlight: m.value('rag_asks_in_flight') ?? -1,
    queued: m.value('rag_asks_queued') ?? -1,
    perClient: m.value('rag_asks_rejected_total', { reason: 'per_client' }) ?? -1,
    queueFull: m.value('rag_asks_rejected_total', { reason: 'queue_full' }) ?? -1,
  };
}

/** A streamed ask that stays in progress: its client reads nothing. */
async function hold(key: string): Promise<void> {
  held.push(await StallingClient.open(api.port!, '/v1/ask', { collection: C, question, stream: true, maxTokens: 4096 }, { rcvbuf: 2048, headers: as(key) }));
}

async function ask(key: string): Promise<{ status: number; retryAfter: string | null; ms: number; message: string }> {
  const started = performance.now();
  const r = await client.call('POST', '/v1/ask', { collection: C, question: 'which colour?', maxTokens: 4 }, as(key));
  return { status: r.status, retryAfter: r.headers.get('retry-after'), ms: performance.now() - started, message: r.body?.error?.message ?? '' };
}

beforeAll(async () => {
  // A private redis-server: the logical databases of the shared one are all taken.
  own = await OwnRedis.start();
  const r = { url: own.url };
  const env = stackEnv(r.url, buildHardeningModels(), {
    PREFILL_ON_INGEST: 'false',
    ADMIN_API_KEY: ADMIN,
    ASK_MAX_PER_CLIENT: String(PER_CLIENT),
    ASK_MAX_CONCURRENT: String(CONCURRENT),
    ASK_MAX_QUEUED: String(QUEUED),
    STREAM_STALL_MS: '120000',
    STREAM_SEND_BUFFER_BYTES: '4096',
  });
  [api, worker] = await Promise.all([spawnService('services/main.js', env, 'listening'), spawnService('services/workers/main.js', env, 'ready')]);
  client = new ApiClient(`http://127.0.0.1:${api.port}`);
  for (const k of ['a', 'b', 'c'] as const) keys[k] = (await client.call('POST', '/v1/admin/keys', { name: `client-${k}`, scopes: ['ask'] }, as(ADMIN))).body.key;
  const ingest = await client.call('POST', `/v1/collections/${C}/documents`, { documents: shortDocuments(20, 'a') }, as(ADMIN));
  await waitForJobs(client, ingest.body.jobIds, 120_000, as(ADMIN));
  // An answer far longer than a stalled stream's buffers, so a held ask pauses instead of finishing.
  [question] = await longAnswerQuestions(client, C, 1000, 1, as(ADMIN));
}, 300_000);

afterAll(async () => {
  held.forEach((h) => h.kill());
  await Promise.all([api?.kill(), worker?.kill()]);
  await own?.stop();
});

it('per-key cap (429), process-wide running and waiting bounds (503), on /metrics; search still served', async () => {
  const base = await metrics();
  expect(base).toEqual({ inFlight: 0, queued: 0, perClient: 0, queueFull: 0 });

  // Key a holds its two questions: a third is refused at once with 429 and Retry-After.
  await hold(keys.a);
  await hold(keys.a);
  await waitUntil(async () => (await metrics()).inFlight === 2, 30_000, 'two asks in flight');
  const third = await ask(keys.a);
  expect(third.status).toBe(429);
  expect(Number(third.retryAfter)).toBeGreaterThanOrEqual(1);
  expect(third.message).toMatch(/this API key already has 2 questions in progress/);
  expect(third.ms).toBeLessThan(5000);

  // Key b takes the last running slot, then waits; key c waits too; the queue is then full: 503 at once.
  await hold(keys.b);
  await hold(keys.b);
  await hold(keys.c);
  await waitUntil(async () => {
    const m = await metrics();
    return m.inFlight === CONCURRENT && m.queued === QUEUED;
  }, 30_000, `${CONCURRENT} in flight and ${QUEUED} queued`);
  const overflow = await ask(keys.c);
  expect(overflow.status).toBe(503);
  expect(Number(overflow.retryAfter)).toBeGreaterThanOrEqual(1);
  expect(overflow.message).toMatch(/busy/);
  expect(overflow.ms).toBeLessThan(5000);

  // Search does not wait behind the questions.
  const search = await client.call('POST', '/v1/search', { collection: C, query: 'zx7q' }, as(keys.c));
  expect(search.status).toBe(200);
  expect(search.body.hits[0].documentId).toBe('a7');

  expect(await metrics()).toEqual({ inFlight: CONCURRENT, queued: QUEUED, perClient: 1, queueFull: 1 });

  // A running ask ends (its client leaves): the first waiting one starts; key a may ask again.
  held[0]!.kill();
  await waitUntil(async () => {
    const m = await metrics();
    return m.inFlight === CONCURRENT && m.queued === QUEUED - 1;
  }, 30_000, 'a waiting ask to start');
  // Everything ends when the clients leave: nothing stays counted.
  held.forEach((h) => h.kill());
  await waitUntil(async () => {
    const m = await metrics();
    return m.inFlight === 0 && m.queued === 0;
  }, 60_000, 'all slots released');
  const again = await ask(keys.a);
  expect(again.status).toBe(200);
}, 180_000);
