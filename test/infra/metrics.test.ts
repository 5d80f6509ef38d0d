import type { AddressInfo } from 'node:net';
import express, { Router } from 'express';
import { ServiceMetrics } from '../../infra/metrics.js';
import { parseExposition } from '../support/prometheus.js';

async function serve(app: express.Express): Promise<{ base: string; close: () => Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r(undefined))) };
}

describe('ServiceMetrics', () => {
  it('labels HTTP latency by the matched route pattern (also when a nested handler fails) and status', async () => {
    const metrics = new ServiceMetrics();
    const app = express();
    app.use(metrics.httpMiddleware());
    const inner = Router();
    inner.get('/jobs/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
    inner.get('/boom/:id', () => {
      throw new Error('boom');
    });
    app.use('/v1', inner);
    app.get('/', (_req, res) => {
      res.send('root');
    });
    app.use((_req, res) => {
      res.status(404).end();
    });
    app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).end();
    });
    const { base, close } = await serve(app);
    try {
      for (const p of ['/v1/jobs/a1', '/v1/jobs/b2', '/v1/boom/x', '/', '/nowhere/123']) await (await fetch(base + p)).text();
    } finally {
      await close();
    }
    const exp = parseExposition((await metrics.render()).body);
    expect(exp.family('http_request_duration_seconds').type).toBe('HISTOGRAM');
    const counts = Object.fromEntries(exp.series('http_request_duration_seconds_count').map((m) => [`${m.labels.method} ${m.labels.route} ${m.labels.status}`, m.value]));
    expect(counts).toEqual({ 'GET /v1/jobs/:id 200': 2, 'GET /v1/boom/:id 500': 1, 'GET / 200': 1, 'GET unmatched 404': 1 });
  });

  it('observes every recorded ask stage in seconds and reads scrape-time sources', async () => {
    let hits = 3;
    const metrics = new ServiceMetrics({
      queueCounts: async () => [{ queue: 'rag-index', counts: { waiting: 2, completed: 7 } }],
      kvTiers: () => ({ memory: { hits, misses: 1, evictions: 0, bytes: 4096, entries: 2 } }),
      collections: async () => [{ name: 'c1', documents: 5, chunks: 9 }],
      indexes: () => [{ collection: 'c1', vectors: 9, tombstones: 1 }],
    });
    metrics.observeAsk({ retrieveMs: 20, assembleMs: 5, compressMs: 0, questionPrefillMs: 40, firstTokenMs: null, decodeMs: 100, totalMs: 250 }, { mode: 'blocks', compression: 'none' }, { promptTokens: 300, completionTokens: 8 });
    hits = 10;
    const exp = parseExposition((await metrics.render()).body);
    const f = (n: string) => exp.family(n);
    expect(f('rag_ask_stage_duration_seconds').type).toBe('HISTOGRAM');
    expect(exp.value('rag_ask_stage_duration_seconds_count', { stage: 'total' })).toBe(1);
    expect(exp.value('rag_ask_stage_duration_seconds_sum', { stage: 'total' })).toBeCloseTo(0.25, 12);
    expect(exp.value('rag_ask_stage_duration_seconds_bucket', { stage: 'retrieve', le: '0.025' })).toBe(1);
    expect(exp.value('rag_ask_stage_duration_seconds_bucket', { stage: 'retrieve', le: '0.01' })).toBe(0);
    expect(exp.value('rag_ask_stage_duration_seconds_count', { stage: 'first_token' })).toBeUndefined(); // no first token (null) is not a zero-latency observation
    expect(f('rag_asks_total').metrics).toEqual([{ labels: { mode: 'blocks', compression: 'none' }, value: '1' }]);
    expect(f('rag_queue_jobs').metrics).toEqual(expect.arrayContaining([{ labels: { queue: 'rag-index', state: 'waiting' }, value: '2' }, { labels: { queue: 'rag-index', state: 'completed' }, value: '7' }]));
    expect(f('rag_kv_cache_hits_total')).toMatchObject({ type: 'COUNTER', metrics: [{ labels: { tier: 'memory' }, value: '10' }] });
    expect(f('rag_kv_cache_bytes').metrics).toEqual([{ labels: { tier: 'memory' }, value: '4096' }]);
    expect(f('rag_collection_chunks').metrics).toEqual([{ labels: { collection: 'c1' }, value: '9' }]);
    expect(f('rag_collection_documents').metrics).toEqual([{ labels: { collection: 'c1' }, value: '5' }]);
    expect(f('rag_index_vectors').metrics).toEqual([{ labels: { collection: 'c1' }, value: '9' }]);
    expect(f('rag_index_tombstones').metrics).toEqual([{ labels: { collection: 'c1' }, value: '1' }]);
    expect(f('process_cpu_user_seconds_total').type).toBe('COUNTER');
  });
});
