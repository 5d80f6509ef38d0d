import { execFile } from 'node:child_process';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { allParagraphs, loadSquad } from '../../../indexer/sources/squad.js';
import { buildTestModel } from '../../../model/builder/buildTestModel.js';
import { Queue } from 'bullmq';
import OpenAI from 'openai';
import { queueOptions, QUEUES } from '../../../indexer/pipeline/jobs.js';
import { ApiClient, waitForJobs } from '../../support/http.js';
import { sseEvents } from '../../support/sse.js';
import { DIST, freshRedis, sharedFile, spawnService, tempDir, waitUntil, type Spawned } from '../../support/processes.js';

const C = 'askc';
let redis: Redis;
let api: Spawned;
let worker: Spawned;
let client: ApiClient;
let env: Record<string, string>;

/** A streamed ask's events, data parsed as JSON; through ApiClient, so the events are checked against the OpenAPI document. */
async function askStream(body: unknown): Promise<{ event: string; data: any }[]> {
  const r = await client.call('POST', '/v1/ask', body, { accept: 'text/event-stream' });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/text\/event-stream/);
  return sseEvents(r.body as string).map(({ event, data }) => ({ event, data: JSON.parse(data) }));
}

beforeAll(async () => {
  const r = await freshRedis(4);
  redis = r.redis;
  const modelsDir = tempDir('models');
  buildTestModel('tiny', path.join(modelsDir, 'test', 'tiny'));
  env = { REDIS_URL: r.url, DATA_DIR: tempDir('ask'), MODELS_DIR: modelsDir, GENERATOR_MODEL: 'test/tiny', PORT: '0', RUN_WORKERS: 'false', SNAPSHOT_INTERVAL_MS: '0', ASK_MAX_PER_CLIENT: '0', ASK_MAX_CONCURRENT: '8' };
  [api, worker] = await Promise.all([spawnService('services/main.js', env, 'listening'), spawnService('services/workers/main.js', env, 'ready')]);
  client = new ApiClient(`http://127.0.0.1:${api.port}`);
  const squad = await loadSquad(sharedFile('squad-v1.1-dev.json'));
  const docs = allParagraphs(squad)
    .slice(0, 12)
    .map((p) => ({ id: p.id, title: p.title, text: p.context }));
  const res = await client.post(`/v1/collections/${C}/documents`, { documents: docs });
  await waitForJobs(client, res.body.jobIds, 120_000);
  await waitUntil(async () => (await client.get('/readyz')).status === 200, 60_000, 'readiness');
  // The worker precomputes every chunk's KV block (prefill queue) into the shared disk tier.
  const prefill = new Queue(QUEUES.prefill, queueOptions(redis));
  await waitUntil(async () => (await prefill.getJobCounts('completed')).completed === docs.length, 120_000, 'prefill of every document');
  await prefill.close();
}, 240_000);

afterAll(async () => {
  await Promise.all([api?.kill(), worker?.kill()]);
  redis?.disconnect();
});

const QUESTION = 'Which NFL team represented the AFC at Super Bowl 50?';

describe('POST /v1/ask with the block-attention generator (built tiny model)', () => {
  let first: any;

  it('answers with citations pointing into the stored documents, timings, and blocks prefilled on ingest read from disk', async () => {
    const r = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 3, maxTokens: 12 });
    expect(r.status).toBe(200);
    first = r.body;
    expect(typeof first.answer).toBe('string');
    expect(first.mode).toBe('blocks');
    expect(first.citations).toHaveLength(3);
    for (const c of first.citations) {
      const doc = await client.get(`/v1/collections/${C}/documents/${c.documentId}`);
      expect(c.end).toBeGreaterThan(c.start);
      expect(doc.body.text.length).toBeGreaterThanOrEqual(c.end);
    }
    for (const k of ['retrieveMs', 'assembleMs', 'questionPrefillMs', 'firstTokenMs', 'totalMs']) expect(first.timings[k]).toBeGreaterThanOrEqual(0);
    expect(first.timings.totalMs).toBeGreaterThanOrEqual(first.timings.firstTokenMs);
    expect(first.cache).toMatchObject({ hits: 3, misses: 0, diskHits: 3 });
    expect(first.usage.completionTokens).toBeGreaterThan(0);
  });

  it('a second ask over the same passages computes no block', async () => {
    const r = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 3, maxTokens: 12 });
    expect(r.body.cache).toMatchObject({ hits: 3, misses: 0, memoryHits: 3 });
    expect(r.body.answer).toBe(first.answer);
    expect(r.body.citations).toEqual(first.citations);
  });

  it('streams retrieval, tokens and done in order; the tokens concatenate to the non-streamed answer', async () => {
    const events = await askStream({ collection: C, question: QUESTION, k: 3, maxTokens: 12 });
    expect(events[0]!.event).toBe('retrieval');
    expect(events[0]!.data.hits).toHaveLength(3);
    expect(events.at(-1)!.event).toBe('done');
    const tokens = events.slice(1, -1);
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.every((e) => e.event === 'token')).toBe(true);
    expect(tokens.map((e) => e.data.text).join('')).toBe(first.answer);
    expect(events.at(-1)!.data.answer).toBe(first.answer);
  });

  it('`rag ask` streams the same answer to stdout', async () => {
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [path.join(DIST, 'services/cli/rag.js'), 'ask', QUESTION, '-c', C, '--url', client.base, '-k', '3', '--max-tokens', '12'], (err, stdout, stderr) =>
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr }),
      );
    });
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(`${first.answer}\n`);
    expect(out.stderr).toMatch(/sources: .+\[\d+:\d+\]/);
  });

  it('`full` mode runs the exact baseline and reports it', async () => {
    const r = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 1, maxTokens: 4, mode: 'full' });
    expect(r.status).toBe(200);
    expect(r.body.mode).toBe('full');
    const b = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 1, maxTokens: 4, mode: 'blocks' });
    // One block: block attention is exact, so the greedy answers agree.
    expect(b.body.answer).toBe(r.body.answer);
  });

  it('concurrent asks sharing blocks all succeed and agree with sequential answers', async () => {
    const questions = ['Where was Super Bowl 50 played?', 'Who won Super Bowl 50?', QUESTION, 'What color was used to emphasize the 50th anniversary?'];
    const sequential = [];
    for (const q of questions) sequential.push((await client.post('/v1/ask', { collection: C, question: q, k: 4, maxTokens: 6 })).body.answer);
    const parallel = await Promise.all(questions.concat(questions).map((q) => client.post('/v1/ask', { collection: C, question: q, k: 4, maxTokens: 6 })));
    expect(parallel.every((r) => r.status === 200)).toBe(true);
    expect(parallel.map((r) => r.body.answer)).toEqual(sequential.concat(sequential));
  });

  it('validates the body', async () => {
    for (const [body, field] of [
      [{ collection: C }, /question/],
      [{ collection: C, question: 'x', k: 0 }, /k/],
      [{ collection: C, question: 'x', mode: 'turbo' }, /mode/],
      [{ collection: C, question: 'x', temperature: -1 }, /temperature/],
    ] as const) {
      const r = await client.post('/v1/ask', body);
      expect(r.status).toBe(400);
      expect(r.body.error.message).toMatch(field);
    }
    expect((await client.post('/v1/ask', { collection: 'nope', question: 'x' })).status).toBe(404);
  });
});

describe('compression and ordering in the ask pipeline', () => {
  async function docText(id: string): Promise<string> {
    return (await client.get(`/v1/collections/${C}/documents/${id}`)).body.text;
  }

  for (const compression of ['lexical', 'raw'] as const) {
    it(`${compression} compression keeps sentences within the budget, in order, with exact source offsets`, async () => {
      const r = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 4, maxTokens: 4, compression, keepRatio: 0.4 });
      expect(r.status).toBe(200);
      const c = r.body.compression;
      expect(c.method).toBe(compression);
      expect(c.keptTokens).toBeLessThanOrEqual(Math.floor(0.4 * c.totalTokens));
      expect(c.ratio).toBeCloseTo(c.keptTokens / c.totalTokens, 10);
      expect(r.body.kept.length).toBeGreaterThanOrEqual(1);
      for (const p of r.body.passages) {
        const text = await docText(p.documentId);
        // Every sentence of the passage maps back to the exact source text, kept or not.
        for (const s of p.sentences) expect(p.text.slice(s.start - p.start, s.end - p.start)).toBe(text.slice(s.start, s.end));
        const keptStarts = p.sentences.filter((s: any) => s.kept).map((s: any) => s.start);
        expect(keptStarts).toEqual([...keptStarts].sort((a: number, b: number) => a - b));
      }
      for (const k of r.body.kept) expect(typeof k.score).toBe('number');
      // Citations are the passages that kept something.
      expect(new Set(r.body.citations.map((x: any) => x.chunkId))).toEqual(new Set(r.body.kept.map((x: any) => x.chunkId)));
    });
  }

  it('a token budget is never exceeded and full mode compresses in text space', async () => {
    for (const mode of ['blocks', 'full']) {
      const r = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 3, maxTokens: 2, compression: 'lexical', budgetTokens: 60, mode });
      expect(r.status).toBe(200);
      expect(r.body.compression.keptTokens).toBeLessThanOrEqual(60);
      expect(r.body.mode).toBe(mode);
    }
  });

  it('zig-zag puts the most relevant block first and the second last; basin without a profile falls back and says so', async () => {
    const z = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 5, maxTokens: 2, order: 'zigzag' });
    expect(z.body.order.method).toBe('zigzag');
    const slotOf = (rank: number) => z.body.passages.find((p: any) => p.retrievalRank === rank).slot;
    expect([0, 1, 2, 3, 4].map(slotOf)).toEqual([0, 4, 1, 3, 2]);
    const b = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 5, maxTokens: 2, order: 'basin' });
    expect(b.body.order.method).toBe('zigzag');
    expect(b.body.order.fallback).toMatch(/rag calibrate --k 5/);
  });

  it('probe compression without a trained probe is a 400 saying how to train one', async () => {
    const r = await client.post('/v1/ask', { collection: C, question: QUESTION, compression: 'probe' });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/rag probe train/);
    const both = await client.post('/v1/ask', { collection: C, question: QUESTION, keepRatio: 0.5, budgetTokens: 10 });
    expect(both.status).toBe(400);
  });
});

describe('OpenAI-compatible endpoint, driven by the official openai client', () => {
  const openai = () => new OpenAI({ apiKey: 'not-needed', baseURL: `${client.base}/v1`, maxRetries: 0 });
  const params = { model: `rag/${C}`, messages: [{ role: 'user' as const, content: QUESTION }], max_tokens: 12, k: 3 };

  it('answers the last user message like /v1/ask does', async () => {
    const ref = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 3, maxTokens: 12 });
    const completion = await openai().chat.completions.create(params as any);
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]!.message.role).toBe('assistant');
    expect(completion.choices[0]!.message.content).toBe(ref.body.answer);
    expect(completion.usage!.completion_tokens).toBe(ref.body.usage.completionTokens);
    expect((completion as any).citations).toEqual(ref.body.citations);
  });

  it('streams chunks whose deltas concatenate to the same answer', async () => {
    const ref = await client.post('/v1/ask', { collection: C, question: QUESTION, k: 3, maxTokens: 12 });
    const stream = await openai().chat.completions.create({ ...params, stream: true } as any);
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream as any as AsyncIterable<any>) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(ref.body.answer);
    expect(['stop', 'length']).toContain(finish);
  });

  it('lists collections as models and reports unknown ones as errors', async () => {
    const models = await openai().models.list();
    expect(models.data.map((m) => m.id)).toContain(`rag/${C}`);
    await expect(openai().chat.completions.create({ ...params, model: 'rag/unknown-collection' } as any)).rejects.toMatchObject({ status: 404 });
  });
});

describe('without a generator model', () => {
  it('still starts and searches; an ask for a generator mode is 503 saying how to provide a model, one naming no mode is answered extractively', async () => {
    const other = await spawnService('services/main.js', { ...env, GENERATOR_MODEL: 'missing-org/missing-model' }, 'listening');
    try {
      const c = new ApiClient(`http://127.0.0.1:${other.port}`);
      await waitUntil(async () => (await c.get('/readyz')).status === 200, 60_000, 'readiness without a generator');
      expect((await c.post('/v1/search', { collection: C, query: QUESTION, k: 2 })).body.hits).toHaveLength(2);
      const r = await c.post('/v1/ask', { collection: C, question: QUESTION, mode: 'blocks' });
      expect(r.status).toBe(503);
      expect(r.body.error.message).toMatch(/missing-org\/missing-model/);
      expect(r.body.error.message).toMatch(/rag models pull/);
      const fallback = await c.post('/v1/ask', { collection: C, question: QUESTION });
      expect(fallback.status).toBe(200);
      expect(fallback.body.mode).toBe('extractive');
      expect(fallback.body.fallback).toMatch(/missing-org\/missing-model/);
    } finally {
      await other.kill();
    }
  });
});
