import fs from 'node:fs';
import path from 'node:path';
import { answersFact, factsAsSquad, stationFactDocuments, type StationFact } from '../../../eval/stationFacts.js';
import { buildTestModel } from '../../../model/builder/buildTestModel.js';
import { OwnRedis } from '../../hardening/ownRedis.js';
import { runRag, type RagRun } from '../../support/cli.js';
import { ApiClient, waitForJobs } from '../../support/http.js';
import { spawnService, tempDir, waitUntil, type Spawned } from '../../support/processes.js';

/**
 * Answers checked end to end: the `induction` test model (a planted copying circuit, so its answer is right only if
 * the fact's tokens reach it intact) served over HTTP with real Redis, queues and workers. Every mode, compression
 * setting and order must answer the cloze questions with the right code, and compression must keep the fact.
 */
const C = 'stations';
const docs = stationFactDocuments({ documents: 12, factsPerDocument: 4, fillerPerDocument: 6, seed: 17 });
const facts = docs.flatMap((d) => d.facts);
// Every fourth fact keeps the run short (the 200-needle run is `rag eval facts`); one per document at least.
const asked = facts.filter((_, i) => i % 4 === 1);

let own: OwnRedis;
let worker: Spawned;
let api: Spawned;
let client: ApiClient;
let probeCv: { auc: number } | null = null;

/** The built CLI as the operator runs it (quiet logs; calibration and probe training take minutes on the test models). */
function rag(args: string[], env: Record<string, string>): Promise<RagRun> {
  return runRag(args, { env: { ...env, LOG_LEVEL: 'silent' }, timeoutMs: 240_000 });
}

beforeAll(async () => {
  own = await OwnRedis.start();
  const modelsDir = tempDir('induction-models');
  buildTestModel('induction', path.join(modelsDir, 'test', 'induction'));
  buildTestModel('tiny-encoder', path.join(modelsDir, 'test', 'tiny-encoder'));
  const squadFile = path.join(tempDir('induction-data'), 'facts.json');
  fs.writeFileSync(squadFile, JSON.stringify(factsAsSquad(docs)));
  const env = {
    REDIS_URL: own.url,
    DATA_DIR: tempDir('induction'),
    MODELS_DIR: modelsDir,
    GENERATOR_MODEL: 'test/induction',
    EMBEDDING_MODEL: 'test/tiny-encoder',
    PORT: '0',
    RUN_WORKERS: 'false',
    SNAPSHOT_INTERVAL_MS: '0',
    ORT_INTRA_OP_THREADS: '1',
  };
  // The probe (served from DATA_DIR/probes) and the blocks-mode basin profile, trained on this model.
  const probe = await rag(['probe', 'train', '--data', squadFile, '--n', '48', '--mode', 'blocks'], env);
  expect(probe.stderr).not.toMatch(/^rag:/m);
  expect(probe.code).toBe(0);
  const trained = JSON.parse(probe.stdout.trim().split('\n').pop() as string) as { C: number; cv: { C: number; auc: number }[] };
  probeCv = trained.cv.find((c) => c.C === trained.C) ?? null;
  const cal = await rag(['calibrate', '--data', squadFile, '--k', '3', '--n', '8', '--mode', 'blocks'], env);
  expect(cal.stderr).not.toMatch(/^rag:/m);
  expect(cal.code).toBe(0);
  worker = await spawnService('services/workers/main.js', env, 'ready');
  api = await spawnService('services/main.js', env, 'listening');
  client = new ApiClient(`http://127.0.0.1:${api.port}`);
  await waitUntil(async () => (await client.get('/readyz')).status === 200, 120_000, 'readiness');
  const res = await client.post(`/v1/collections/${C}/documents`, { documents: docs.map(({ id, title, text }) => ({ id, title, text })) });
  expect(res.status).toBe(202);
  await waitForJobs(client, res.body.jobIds, 180_000);
}, 400_000);

afterAll(async () => {
  await api?.kill();
  await worker?.kill();
  await own?.stop();
});

const keeps = (kept: { documentId: string; start: number; end: number }[], f: StationFact): boolean =>
  kept.some((s) => s.documentId === f.documentId && s.start <= f.start && s.end >= f.end);

describe('answers of the induction model through POST /v1/ask', () => {
  it('trains the attention probe on a real signal (cross-validated AUC at the chosen C)', () => {
    expect(probeCv).not.toBeNull();
    expect((probeCv as { auc: number }).auc).toBeGreaterThanOrEqual(0.95);
  });

  it.each([
    ['full', {}],
    ['blocks', {}],
    ['blocks + head recompute', { recomputeHead: 4 }],
    ['blocks, raw keep 0.3', { compression: 'raw', keepRatio: 0.3 }],
    ['blocks, raw keep 0.5', { compression: 'raw', keepRatio: 0.5 }],
    ['blocks, probe keep 0.3', { compression: 'probe', keepRatio: 0.3 }],
    ['blocks, probe keep 0.5', { compression: 'probe', keepRatio: 0.5 }],
    ['blocks, zigzag order', { order: 'zigzag' }],
    ['blocks, basin order', { order: 'basin' }],
    ['blocks, raw keep 0.3, basin order', { compression: 'raw', keepRatio: 0.3, order: 'basin' }],
    ['full, raw keep 0.3 (text space)', { compression: 'raw', keepRatio: 0.3 }],
    ['full, zigzag order', { order: 'zigzag' }],
  ] as const)('%s: every answer starts with the right code', async (label, extra) => {
    const mode = label.startsWith('full') ? 'full' : 'blocks';
    const wrong: string[] = [];
    const dropped: string[] = [];
    for (const f of asked) {
      const r = await client.post('/v1/ask', { collection: C, question: f.question, k: 3, searchMode: 'bm25', maxTokens: 6, temperature: 0, mode, order: 'retrieval', ...extra });
      expect(r.status).toBe(200);
      expect(r.body.mode).toBe(mode);
      if (!answersFact(r.body.answer, f.code)) wrong.push(`${f.name}: ${JSON.stringify(r.body.answer)} (want ${f.code})`);
      if ('compression' in extra) {
        expect(r.body.compression.method).toBe(extra.compression);
        expect(r.body.compression.keptTokens).toBeLessThan(r.body.compression.totalTokens);
        if (!keeps(r.body.kept, f)) dropped.push(f.name);
      }
      if ('order' in extra) {
        expect(r.body.order.method).toBe(extra.order);
        expect(r.body.order.fallback).toBeUndefined();
      }
    }
    expect({ label, wrong, dropped }).toEqual({ label, wrong: [], dropped: [] });
  });
});
