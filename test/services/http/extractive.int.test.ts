import OpenAI from 'openai';
import { displayTitle, allParagraphs, loadSquad } from '../../../indexer/sources/squad.js';
import { OwnRedis } from '../../hardening/ownRedis.js';
import { ApiClient, waitForJobs } from '../../support/http.js';
import { sseEvents } from '../../support/sse.js';
import { sharedFile, spawnService, tempDir, waitUntil, type Spawned } from '../../support/processes.js';

/**
 * Extractive answers on a service that has no generator model (GENERATOR_MODEL names one that is not there, as on a
 * fresh offline clone): the best retrieved sentence is the answer, over HTTP (plain and SSE), the OpenAI endpoint
 * and the dashboard's recent questions; asks that name no mode fall back to it and say why; asks that name a
 * generator mode stay 503.
 */
const C = 'extr';
// A question of the corpus's third paragraph (SQuAD dev, 1973 oil crisis); its gold answer is "August 15, 1971".
const QUESTION = 'When did the United States withdraw from the Bretton Woods Accord?';
let own: OwnRedis;
let api: Spawned;
let worker: Spawned;
let client: ApiClient;
const documents = new Map<string, string>();

async function documentText(id: string): Promise<string> {
  let text = documents.get(id);
  if (text === undefined) {
    const r = await client.get(`/v1/collections/${C}/documents/${encodeURIComponent(id)}`);
    expect(r.status).toBe(200);
    documents.set(id, (text = r.body.text as string));
  }
  return text;
}

/** A cited span must be exactly the text it claims, cut from the stored document. */
async function expectSpan(span: { documentId: string; start: number; end: number }, text: string): Promise<void> {
  const doc = await documentText(span.documentId);
  expect(span.end).toBeGreaterThan(span.start);
  expect(doc.slice(span.start, span.end)).toBe(text);
}

/** A streamed POST's events, data parsed as JSON (the OpenAI stream's closing `[DONE]` kept as it is). */
async function sse(path: string, body: unknown): Promise<{ event: string; data: any }[]> {
  const r = await client.call('POST', path, body, { accept: 'text/event-stream' });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/text\/event-stream/);
  return sseEvents(r.body as string).map(({ event, data }) => ({ event, data: data === '[DONE]' ? data : JSON.parse(data) }));
}

beforeAll(async () => {
  own = await OwnRedis.start();
  const env = {
    REDIS_URL: own.url,
    DATA_DIR: tempDir('extractive'),
    MODELS_DIR: tempDir('extractive-models'),
    GENERATOR_MODEL: 'missing-org/missing-model',
    PORT: '0',
    RUN_WORKERS: 'false',
    SNAPSHOT_INTERVAL_MS: '0',
    ASK_MAX_PER_CLIENT: '0',
  };
  [api, worker] = await Promise.all([spawnService('services/main.js', env, 'listening'), spawnService('services/workers/main.js', env, 'ready')]);
  client = new ApiClient(`http://127.0.0.1:${api.port}`);
  const squad = await loadSquad(sharedFile('squad-v1.1-dev.json'));
  const docs = allParagraphs(squad)
    .slice(0, 12)
    .map((p) => ({ id: p.id, title: displayTitle(p.title), text: p.context }));
  const res = await client.post(`/v1/collections/${C}/documents`, { documents: docs });
  expect(res.status).toBe(202);
  await waitForJobs(client, res.body.jobIds, 120_000);
  await waitUntil(async () => (await client.get('/readyz')).status === 200, 60_000, 'readiness without a generator');
}, 180_000);

afterAll(async () => {
  await Promise.all([api?.kill(), worker?.kill()]);
  await own?.stop();
});

describe('POST /v1/ask, mode "extractive"', () => {
  let plain: any;

  it('answers with exactly the best sentence, cited by its span in the document, with the next candidates', async () => {
    const r = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 3, mode: 'extractive' });
    expect(r.status).toBe(200);
    plain = r.body;
    expect(plain.mode).toBe('extractive');
    expect(plain.fallback).toBeUndefined();
    // The shipped ranker fits this embedder and the default (hybrid) search.
    expect(plain.ranker).toEqual({ model: 'embedder' });
    expect(plain.answer).toMatch(/August 15, 1971/);
    expect(plain.citations.length).toBe(1);
    await expectSpan(plain.citations[0], plain.answer);
    expect(plain.sentences.length).toBeGreaterThanOrEqual(3);
    const scores = [plain.kept[0].score, ...plain.sentences.map((s: any) => s.score)];
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    for (const s of plain.sentences) await expectSpan(s, s.text);
    // Every listed sentence is a sentence of a retrieved passage, marked in the passage trace with its score.
    const traced = plain.passages.flatMap((p: any) => p.sentences.filter((s: any) => s.kept).map((s: any) => `${p.chunkId}:${s.start}:${s.end}:${s.score}`));
    expect(traced.sort()).toEqual(plain.kept.map((k: any) => `${k.chunkId}:${k.start}:${k.end}:${k.score}`).sort());
    expect(plain.passages).toHaveLength(3);
    expect(plain.usage).toEqual({ promptTokens: 0, completionTokens: 0 });
    expect(plain.timings.totalMs).toBeGreaterThanOrEqual(plain.timings.retrieveMs);
  });

  it('cuts a short answer span for a typed question, inside the answer sentence and exactly the document text', async () => {
    const r = await client.post('/v1/ask', { collection: C, question: 'When did the 1973 oil crisis begin?', k: 3, mode: 'extractive' });
    expect(r.status).toBe(200);
    const { answerSpan, citations } = r.body;
    expect(answerSpan).toBeDefined();
    expect(answerSpan.text).toMatch(/^(?:\w+ )?\d{4}$/);
    expect(answerSpan.start).toBeGreaterThanOrEqual(citations[0].start);
    expect(answerSpan.end).toBeLessThanOrEqual(citations[0].end);
    await expectSpan({ documentId: citations[0].documentId, ...answerSpan }, answerSpan.text);
  });

  it('streams a retrieval event, the answer, then done with the same response', async () => {
    const events = await sse('/v1/ask', { collection: C, question: QUESTION, k: 3, mode: 'extractive' });
    expect(events.map((e) => e.event)).toEqual(['retrieval', 'answer', 'done']);
    expect(events[0]!.data.hits).toHaveLength(3);
    expect(events[1]!.data.text).toBe(plain.answer);
    expect(events[2]!.data.answer).toBe(plain.answer);
    expect(events[2]!.data.citations).toEqual(plain.citations);
    expect(events[2]!.data.sentences).toEqual(plain.sentences);
  });

  it('refuses generator-only options with a 400 naming them', async () => {
    const r = await client.post('/v1/ask', { collection: C, question: QUESTION, mode: 'extractive', compression: 'lexical', order: 'zigzag' });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/compression, order: .*extractive/);
  });
});

describe('without a generator', () => {
  it('an ask naming no mode is answered extractively and says why; plain and streamed', async () => {
    const r = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 3 });
    expect(r.status).toBe(200);
    expect(r.body.mode).toBe('extractive');
    expect(r.body.fallback).toMatch(/no generator available.*missing-org\/missing-model/);
    expect(r.body.answer).toBe((await client.post('/v1/ask', { collection: C, question: QUESTION, k: 3, mode: 'extractive' })).body.answer);
    const events = await sse('/v1/ask', { collection: C, question: QUESTION, k: 3 });
    expect(events.map((e) => e.event)).toEqual(['retrieval', 'answer', 'done']);
    expect(events[2]!.data.fallback).toBe(r.body.fallback);
  });

  it('an ask for full or blocks is still 503 with instructions, before any stream opens', async () => {
    for (const mode of ['full', 'blocks']) {
      const r = await client.post('/v1/ask', { collection: C, question: QUESTION, mode });
      expect(r.status).toBe(503);
      expect(r.body.error.message).toMatch(/missing-org\/missing-model.*rag models pull/);
      const s = await client.call('POST', '/v1/ask', { collection: C, question: QUESTION, mode, stream: true }, { accept: 'text/event-stream' });
      expect(s.status).toBe(503);
    }
  });
});

describe('POST /v1/chat/completions with the official openai client', () => {
  const openai = () => new OpenAI({ baseURL: `${client.base}/v1`, apiKey: 'unused', maxRetries: 0 });
  const messages = [{ role: 'user' as const, content: QUESTION }];

  it('answers extractively (asked, or as the fallback), with the span as citation', async () => {
    const asked = (await openai().chat.completions.create({ model: `rag/${C}`, messages, k: 3, mode: 'extractive' } as any)) as any;
    const direct = (await client.post('/v1/ask', { collection: C, question: QUESTION, k: 3, mode: 'extractive' })).body;
    expect(asked.choices[0].message.content).toBe(direct.answer);
    expect(asked.choices[0].finish_reason).toBe('stop');
    expect(asked.mode).toBe('extractive');
    expect(asked.citations).toEqual(direct.citations);
    await expectSpan(asked.citations[0], asked.choices[0].message.content);
    const fallback = (await openai().chat.completions.create({ model: `rag/${C}`, messages, k: 3 } as any)) as any;
    expect(fallback.choices[0].message.content).toBe(direct.answer);
    expect(fallback.fallback).toMatch(/no generator available/);
    // Validated against the published document too.
    const raw = await client.post('/v1/chat/completions', { model: `rag/${C}`, messages, k: 3 });
    expect(raw.status).toBe(200);
  });

  it('streams the answer as one content delta and ends with the citations', async () => {
    const stream = await openai().chat.completions.create({ model: `rag/${C}`, messages, k: 3, stream: true, mode: 'extractive' } as any);
    let content = '';
    let last: any = null;
    for await (const chunk of stream as unknown as AsyncIterable<any>) {
      content += chunk.choices[0]?.delta?.content ?? '';
      last = chunk;
    }
    const direct = (await client.post('/v1/ask', { collection: C, question: QUESTION, k: 3, mode: 'extractive' })).body;
    expect(content).toBe(direct.answer);
    expect(last.choices[0].finish_reason).toBe('stop');
    expect(last.citations).toEqual(direct.citations);
    const events = await sse('/v1/chat/completions', { model: `rag/${C}`, messages, k: 3, stream: true });
    expect(events.at(-1)!.data).toBe('[DONE]');
  });

  it('asking the OpenAI endpoint for a generator mode without one is 503', async () => {
    await expect(openai().chat.completions.create({ model: `rag/${C}`, messages, mode: 'blocks' } as any)).rejects.toMatchObject({ status: 503 });
  });
});

describe('recent questions', () => {
  it('lists extractive answers with their mode, fallback and span', async () => {
    const r = await client.get('/v1/admin/recent-asks?limit=50');
    expect(r.status).toBe(200);
    const extractive = r.body.asks.filter((a: any) => a.mode === 'extractive');
    expect(extractive.length).toBeGreaterThanOrEqual(5);
    expect(extractive.some((a: any) => /no generator available/.test(a.fallback ?? ''))).toBe(true);
    expect(extractive.some((a: any) => a.answerSpan !== undefined)).toBe(true);
    for (const a of extractive) await expectSpan(a.citations[0], a.answer);
  });
});
