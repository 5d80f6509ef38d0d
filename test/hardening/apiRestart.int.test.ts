import type { Redis } from 'ioredis';
import { ApiClient } from '../support/http.js';
import { spawnService, waitUntil, type Spawned } from '../support/processes.js';
import { OwnRedis } from './ownRedis.js';
import { buildHardeningModels, shortDocuments, stackEnv, storedState, waitForJobs } from './support.js';

const C = 'restart';
let own: OwnRedis;
let redis: Redis;
let worker: Spawned;
let env: Record<string, string>;
const apis: Spawned[] = [];

const QUESTIONS = ['Which record mentions zx4q?', 'What colour is record 7?', 'When was record 12 filed?', 'Which record mentions the token zx20q?'];
const ASK_OPTIONS = { collection: C, k: 4, maxTokens: 160 };
const ask = (client: ApiClient, i: number) => client.post('/v1/ask', { ...ASK_OPTIONS, question: QUESTIONS[i % QUESTIONS.length] });

async function startApi(): Promise<ApiClient> {
  const api = await spawnService('services/main.js', env, 'listening');
  apis.push(api);
  const client = new ApiClient(`http://127.0.0.1:${api.port}`);
  await waitUntil(async () => (await client.get('/readyz')).status === 200, 60_000, 'readiness');
  return client;
}

beforeAll(async () => {
  own = await OwnRedis.start();
  redis = own.redis;
  // Six asks from this one address must all be in flight at once (no per-address cap, no waiting).
  env = stackEnv(own.url, buildHardeningModels(), { PREFILL_ON_INGEST: 'false', SHUTDOWN_TIMEOUT_MS: '20000', ASK_MAX_PER_CLIENT: '0', ASK_MAX_CONCURRENT: '6' });
  worker = await spawnService('services/workers/main.js', env, 'ready');
}, 120_000);

afterAll(async () => {
  await Promise.all([worker?.kill(), ...apis.map((a) => a.kill())]);
  await own?.stop();
});

it('restarting the API during asks (SIGTERM drains, SIGKILL cuts) corrupts no stored data', async () => {
  let client = await startApi();
  const res = await client.post(`/v1/collections/${C}/documents`, { documents: shortDocuments(30) });
  await waitForJobs(client, res.body.jobIds, 120_000);
  const before = await storedState(redis, C);
  expect(before).toMatchObject({ documents: 30, chunks: 30, logEntries: 30 });
  const answers = await Promise.all(QUESTIONS.map((_, i) => ask(client, i)));
  expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
  const searchBefore = (await client.post('/v1/search', { collection: C, query: 'record zx9q', k: 5 })).body.hits;

  // 1. SIGTERM with asks in flight: the API stops taking connections but finishes every request it accepted.
  // Streamed asks send their headers before any model work, so once all six have them, all six are in flight.
  const api1 = apis.at(-1)!;
  const streams = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      fetch(`${client.base}/v1/ask`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ ...ASK_OPTIONS, question: QUESTIONS[i % QUESTIONS.length] }),
      }),
    ),
  );
  expect(streams.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
  let exitedAt = 0;
  const exited = new Promise<number | null>((resolve) =>
    api1.child.once('exit', (code) => {
      exitedAt = Date.now();
      resolve(code);
    }),
  );
  // Bodies are read as they arrive, so doneAt is when each stream really ended.
  const reading = Promise.all(
    streams.map(async (r) => {
      const text = await r.text();
      const done = /event: done\ndata: (.*)\n/.exec(text);
      return { answer: done ? (JSON.parse(done[1]!) as { answer: string }).answer : null, doneAt: Date.now() };
    }),
  );
  const termAt = Date.now();
  api1.child.kill('SIGTERM');
  const drained = await reading;
  expect(drained.filter((d) => d.doneAt > termAt).length).toBeGreaterThan(0);
  expect(drained.map((d) => d.answer)).toEqual([0, 1, 2, 3, 4, 5].map((i) => answers[i % 4]!.body.answer));
  expect(await exited).toBe(0);
  // Done once the last request is answered: idle keep-alive connections do not hold it to the 20 s timeout.
  expect(exitedAt - Math.max(...drained.map((d) => d.doneAt))).toBeLessThan(5000);

  // 2. SIGKILL while clients keep asking: their requests fail, nothing stored is touched.
  client = await startApi();
  const api2 = apis.at(-1)!;
  let stop = false;
  const outcomes: string[] = [];
  const loop = async (i: number) => {
    while (!stop) {
      outcomes.push(await ask(client, i).then((r) => String(r.status), () => 'connection error'));
    }
  };
  const loops = [0, 1, 2].map(loop);
  await waitUntil(async () => outcomes.filter((o) => o === '200').length >= 3, 60_000, 'asks answered');
  await api2.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(loops);
  expect(outcomes.every((o) => o === '200' || o === 'connection error')).toBe(true);
  expect(outcomes).toContain('connection error');

  // 3. A new process serves the same data and the same answers.
  client = await startApi();
  expect(await storedState(redis, C)).toEqual(before);
  const again = await Promise.all(QUESTIONS.map((_, i) => ask(client, i)));
  expect(again.map((a) => a.body.answer)).toEqual(answers.map((a) => a.body.answer));
  expect((await client.post('/v1/search', { collection: C, query: 'record zx9q', k: 5 })).body.hits).toEqual(searchBefore);
  for (const id of ['d0', 'd15', 'd29']) {
    const d = await client.get(`/v1/collections/${C}/documents/${id}`);
    expect(d.status).toBe(200);
    expect(d.body.chunks).toHaveLength(1);
  }
}, 400_000);
