import { OwnRedis } from '../../hardening/ownRedis.js';
import { buildHardeningModels, shortDocuments, stackEnv, waitForJobs } from '../../hardening/support.js';
import { ApiClient } from '../../support/http.js';
import { longAnswerQuestions } from '../../support/longAnswers.js';
import { cpuCoresOver } from '../../support/processCpu.js';
import { spawnService, type Spawned } from '../../support/processes.js';
import { parseExposition } from '../../support/prometheus.js';
import { StallingClient } from '../../support/stallingClient.js';

/**
 * Streamed answers with clients that never read: generation pauses once the socket's buffer is full (the
 * API process goes idle), the ask is aborted after STREAM_STALL_MS and the connection closed; a client that
 * disconnects stops generation at once.
 */
const C = 'stream';
/** Long enough that, on a loaded machine, the three quiet seconds are found before the first stalled ask is cut off. */
const STALL_MS = 20_000;
/** Small buffers so 20 streams fill theirs within seconds: the server's kernel send buffer and the clients' receive buffer (Linux doubles both). */
const SEND_BUFFER = 4096;
const RECEIVE_BUFFER = 2048;
const CONNECTIONS = 20;
const MAX_TOKENS = 4096;
/** Tokens that fit in one stalled stream's buffers (the server's kernel send buffer and the client's receive buffer, plus one event) at >= 45 bytes per token event. */
const BUFFERED_TOKENS = Math.ceil((2 * SEND_BUFFER + Math.max(4608, 2 * RECEIVE_BUFFER) + 2048) / 45);
let own: OwnRedis;
let api: Spawned;
let worker: Spawned;
let client: ApiClient;
let longQuestions: string[] = [];

async function completionTokens(): Promise<number> {
  const m = await client.get('/metrics');
  return parseExposition(m.body).value('rag_ask_tokens_total', { kind: 'completion' }) ?? 0;
}

async function asksAnswered(): Promise<number> {
  return parseExposition((await client.get('/metrics')).body)
    .series('rag_asks_total')
    .reduce((sum, sample) => sum + sample.value, 0);
}

async function waitUntilAsked(n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await asksAnswered()) < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} asks finished within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  // A private redis-server: the logical databases of the shared one are all taken.
  own = await OwnRedis.start();
  const r = { url: own.url };
  const env = stackEnv(r.url, buildHardeningModels(), { PREFILL_ON_INGEST: 'false', STREAM_STALL_MS: String(STALL_MS), STREAM_SEND_BUFFER_BYTES: String(SEND_BUFFER), HTTP_MAX_CONNECTIONS_PER_CLIENT: '64', ASK_MAX_PER_CLIENT: '0', ASK_MAX_CONCURRENT: String(CONNECTIONS) });
  [api, worker] = await Promise.all([spawnService('services/main.js', env, 'listening'), spawnService('services/workers/main.js', env, 'ready')]);
  client = new ApiClient(`http://127.0.0.1:${api.port}`);
  const ingest = await client.post(`/v1/collections/${C}/documents`, { documents: shortDocuments(20, 's') });
  await waitForJobs(client, ingest.body.jobIds, 120_000);
  // Questions whose answers run far past what the buffers hold, so a missing pause shows.
  longQuestions = await longAnswerQuestions(client, C, 2 * BUFFERED_TOKENS, 2);
}, 300_000);

afterAll(async () => {
  await Promise.all([api?.kill(), worker?.kill()]);
  await own?.stop();
});

it(`${CONNECTIONS} streams that are never read: generation pauses (API near idle), the asks abort after STREAM_STALL_MS and the connections close`, async () => {
  const tokensBefore = await completionTokens();
  const asksBefore = await asksAnswered();
  const opened = performance.now();
  const clients = await Promise.all(
    Array.from({ length: CONNECTIONS }, (_, i) => StallingClient.open(api.port!, '/v1/ask', { collection: C, question: longQuestions[i % longQuestions.length]!, stream: true, maxTokens: MAX_TOKENS }, { rcvbuf: RECEIVE_BUFFER })),
  );
  try {
    // Each stream fills its buffers within about BUFFERED_TOKENS tokens, then waits for 'drain': the API goes
    // idle while every ask is still open (none has finished: their answers are far longer than what was sent).
    // Three quiet seconds in a row: on a loaded machine one quiet second can be the scheduler, not a pause.
    let cores = Infinity;
    const idleBy = Date.now() + 120_000;
    for (let quiet = 0; quiet < 3 && Date.now() < idleBy; ) quiet = (cores = await cpuCoresOver(api.child.pid!, 1000)) < 0.15 ? quiet + 1 : 0;
    const idleAfterMs = performance.now() - opened;
    expect(await asksAnswered()).toBe(asksBefore);
    cores = await cpuCoresOver(api.child.pid!, 3000);
    expect(await asksAnswered()).toBe(asksBefore);
    const search = performance.now();
    const s = await client.post('/v1/search', { collection: C, query: 'zx3q' });
    const searchMs = performance.now() - search;
    process.stderr.write(`stalled streams: all paused ${Math.round(idleAfterMs)} ms after opening; API CPU then ${cores.toFixed(3)} cores over 3 s with ${CONNECTIONS} non-reading clients; search ${Math.round(searchMs)} ms\n`);
    expect(cores).toBeLessThan(0.15);
    expect(s.status).toBe(200);
    // Cut off after STREAM_STALL_MS without a read: every ask ends (finishReason aborted) and is counted.
    await waitUntilAsked(asksBefore + CONNECTIONS, STALL_MS + 60_000);
    const after = await completionTokens();
    const results = await Promise.all(clients.map((c) => c.finish()));
    const elapsed = performance.now() - opened;
    const generated = after - tokensBefore;
    process.stderr.write(`stalled streams: ${generated} tokens generated for ${CONNECTIONS} non-reading clients (at most ${BUFFERED_TOKENS} fit one stream's buffers; the answers run past ${2 * BUFFERED_TOKENS} tokens); closed after ${Math.round(elapsed)} ms\n`);
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.eof).toBe(true);
    }
    expect(generated).toBeLessThanOrEqual(CONNECTIONS * BUFFERED_TOKENS);
    expect(elapsed).toBeGreaterThanOrEqual(STALL_MS);
  } finally {
    clients.forEach((c) => c.kill());
  }
}, 180_000);

it('clients that disconnect after the first token stop generation at once', async () => {
  const before = await completionTokens();
  const asksBefore = await asksAnswered();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, i) => {
      const abort = new AbortController();
      const res = await fetch(`${client.base}/v1/ask`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ collection: C, question: longQuestions[i % longQuestions.length]!, stream: true, maxTokens: MAX_TOKENS }),
        signal: abort.signal,
      });
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('event: token')) text += new TextDecoder().decode((await reader.read()).value);
      abort.abort();
    }),
  );
  // Each aborted ask is finished and counted once its close is seen.
  await waitUntilAsked(asksBefore + CONNECTIONS, 60_000);
  const generated = (await completionTokens()) - before;
  process.stderr.write(`early disconnects: ${generated} tokens generated for ${CONNECTIONS} clients that left after their first token\n`);
  expect(generated).toBeLessThan(CONNECTIONS * 50);
}, 120_000);
