import path from 'node:path';
import type { Redis } from 'ioredis';
import { buildTestModel } from '../../model/builder/buildTestModel.js';
import { allParagraphs, loadSquad } from '../../indexer/sources/squad.js';
import { runRag } from '../support/cli.js';
import { freshRedis, sharedFile, tempDir } from '../support/processes.js';

/** `rag eval squad` end to end: real Redis (database 9: no other test file uses it), in-process workers, the built tiny generator. */
let redis: Redis;
let env: Record<string, string>;
const SQUAD = sharedFile('squad-v1.1-dev.json');
const COLLECTION = 'evalsq';

const rag = (args: string[]) => runRag(args, { env, timeoutMs: 600_000 });

beforeAll(async () => {
  const r = await freshRedis(9);
  redis = r.redis;
  const modelsDir = tempDir('eval-models');
  buildTestModel('tiny', path.join(modelsDir, 'test', 'tiny'));
  env = { REDIS_URL: r.url, DATA_DIR: tempDir('eval-data'), MODELS_DIR: modelsDir, GENERATOR_MODEL: 'test/tiny', LOG_LEVEL: 'warn', SNAPSHOT_INTERVAL_MS: '0' };
});

afterAll(() => redis?.disconnect());

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('rag eval squad (built tiny generator, 50 questions)', () => {
  let report: any;

  it('ingests the paragraphs, asks 50 questions and reports retrieval, retention, answers and latency as JSON', async () => {
    const out = await rag(['eval', 'squad', SQUAD, '--n', '50', '--articles', '2', '--collection', COLLECTION, '--json', '--max-tokens', '4']);
    expect(out.code).toBe(0);
    report = JSON.parse(out.stdout);
    const paragraphs = allParagraphs(await loadSquad(SQUAD)).filter((p) => p.articleIndex < 2);
    expect(report.dataset).toMatchObject({ paragraphs: paragraphs.length, questions: 50 });
    expect(report.collection.chunks).toBeGreaterThanOrEqual(paragraphs.length);
    expect(report.generator.testModel).toBe(true);
    const s = report.summary;
    expect(s.questions).toBe(50);
    expect(report.questions).toHaveLength(50);

    // Retrieval: the summary agrees with the per-question rankings, and lexical retrieval over ~80 paragraphs finds most.
    const items: any[] = report.questions;
    const rank = (it: any) => it.rankedDocuments.indexOf(it.documentId);
    expect(s.retrieval['recall@1']).toBeCloseTo(mean(items.map((it) => (rank(it) === 0 ? 1 : 0))), 12);
    expect(s.retrieval['recall@5']).toBeCloseTo(mean(items.map((it) => (rank(it) >= 0 && rank(it) < 5 ? 1 : 0))), 12);
    expect(s.retrieval['mrr@10']).toBeCloseTo(mean(items.map((it) => (rank(it) >= 0 && rank(it) < 10 ? 1 / (rank(it) + 1) : 0))), 12);
    expect(s.retrieval['recall@1']).toBeLessThanOrEqual(s.retrieval['recall@5']);
    expect(s.retrieval['recall@5']).toBeLessThanOrEqual(s.retrieval['recall@10']);
    expect(s.retrieval['recall@10']).toBeGreaterThan(0.8);

    // No compression: everything retrieved is kept.
    expect(s.compression.applied).toEqual(['none']);
    expect(s.retention.rate).toBe(1);
    expect(s.retention.retained).toBe(s.retention.eligible);
    expect(s.retention.eligible).toBeLessThanOrEqual(items.filter((it) => rank(it) >= 0).length);
    expect(s.compression.keptFraction.p50).toBe(1);

    // Answers: scored, and flagged as meaningless on a test model.
    expect(s.answers.em).toBeGreaterThanOrEqual(0);
    expect(s.answers.f1).toBeLessThanOrEqual(1);
    expect(s.answers.em).toBeCloseTo(mean(items.map((it) => it.em)), 12);
    expect(s.answers.f1).toBeCloseTo(mean(items.map((it) => it.f1)), 12);
    expect(s.answers.note).toMatch(/meaningful only with a real \(pretrained\) generator/);

    // Latency: every stage measured for every question, percentiles ordered.
    for (const stage of ['retrieveMs', 'assembleMs', 'questionPrefillMs', 'firstTokenMs', 'totalMs']) {
      const l = s.latencyMs[stage];
      expect(l.n).toBe(50);
      expect(l.p50).toBeGreaterThan(0);
      expect(l.p50).toBeLessThanOrEqual(l.p90);
      expect(l.p90).toBeLessThanOrEqual(l.p99);
    }
    expect(s.latencyMs.firstTokenMs.p50).toBeLessThanOrEqual(s.latencyMs.totalMs.p50);
  }, 900_000);

  it('reuses the collection and reports what lexical compression kept', async () => {
    const out = await rag(['eval', 'squad', SQUAD, '--n', '10', '--articles', '2', '--collection', COLLECTION, '--json', '--max-tokens', '2', '--compression', 'lexical', '--keep-ratio', '0.3', '--order', 'zigzag']);
    expect(out.code).toBe(0);
    const r = JSON.parse(out.stdout);
    expect(r.collection.chunks).toBe(report.collection.chunks);
    const s = r.summary;
    expect(s.compression.applied).toEqual(['lexical']);
    expect(s.order.applied).toEqual(['zigzag']);
    expect(s.compression.keptFraction.p50).toBeGreaterThan(0);
    expect(s.compression.keptFraction.p50).toBeLessThan(0.6);
    expect(s.compression.meanRatio).toBeGreaterThan(1.5);
    expect(s.retention.rate).toBeGreaterThanOrEqual(0);
    expect(s.retention.rate).toBeLessThanOrEqual(1);
    const eligible = r.questions.filter((it: any) => it.goldInRetrieved);
    expect(eligible.length).toBeGreaterThan(0);
    expect(s.retention.rate).toBeCloseTo(eligible.filter((it: any) => it.goldRetained).length / eligible.length, 12);
    for (const it of r.questions) expect(it.keptFraction).toBeLessThan(1);
  }, 600_000);

  it('prints a readable table with the answer-quality warning', async () => {
    const out = await rag(['eval', 'squad', SQUAD, '--n', '3', '--articles', '2', '--collection', COLLECTION, '--max-tokens', '2']);
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^SQuAD eval: 3 questions over \d+ paragraphs/);
    expect(out.stdout).toMatch(/retrieval \(paragraphs\)\s+recall@1\s+recall@5\s+recall@10\s+MRR@10/);
    expect(out.stdout).toMatch(/latency \(ms\)\s+n\s+p50\s+p90\s+p99\s+mean/);
    expect(out.stdout).toMatch(/\ntotal\s+3\s+[\d.]+\s+[\d.]+\s+[\d.]+/);
    expect(out.stdout).toContain('NOTE: Answer exact match and F1 are meaningful only with a real (pretrained) generator');
    expect(out.stdout).toContain('The generator used here IS a built test model.');
  }, 600_000);
});
