import { loadSquad } from '../../indexer/sources/squad.js';
import { articleSplit } from '../../eval/squadSplit.js';
import { containsAnswer } from '../../eval/metrics.js';
import { OwnRedis } from '../hardening/ownRedis.js';
import { runRag } from '../support/cli.js';
import { sharedFile, tempDir } from '../support/processes.js';

/**
 * `rag eval squad` on a machine with no generator model (as in CI): it answers extractively with the shipped sentence
 * ranker, asks only questions of the ranker's held-out articles, and reports retrieval plus extractive metrics.
 */
let own: OwnRedis;
let env: Record<string, string>;
const SQUAD = sharedFile('squad-v1.1-dev.json');
const rag = (args: string[]) => runRag(args, { env, timeoutMs: 300_000 });
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

beforeAll(async () => {
  own = await OwnRedis.start();
  env = { REDIS_URL: own.url, DATA_DIR: tempDir('eval-extr'), MODELS_DIR: tempDir('eval-extr-models'), GENERATOR_MODEL: 'missing-org/missing-model', LOG_LEVEL: 'warn', SNAPSHOT_INTERVAL_MS: '0' };
});

afterAll(async () => {
  await own?.stop();
});

describe('rag eval squad without a generator (50 questions, 3 held-out articles)', () => {
  it('answers extractively, says why, asks only held-out questions, and reports retrieval and extractive metrics', async () => {
    const out = await rag(['eval', 'squad', SQUAD, '--n', '50', '--articles', '3', '--json']);
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/NOTE: no generator available, so answers are extractive: generator model missing-org\/missing-model/);
    const report = JSON.parse(out.stdout);
    expect(report.generator).toBeNull();
    expect(report.fallback).toMatch(/missing-org\/missing-model/);
    expect(report.collection.name).toBe('eval-squad-heldout-3');
    expect(report.settings).toEqual({ mode: 'extractive', k: 5, collection: 'eval-squad-heldout-3' });

    const ds = await loadSquad(SQUAD);
    const heldOut = articleSplit(ds.articles.length, 0).heldOut.slice(0, 3);
    const questionArticle = new Map(ds.articles.flatMap((a, i) => a.paragraphs.flatMap((p) => p.qas.map((q) => [q.id, i] as const))));
    expect(report.dataset).toMatchObject({ questions: 50, paragraphs: heldOut.reduce((n, i) => n + ds.articles[i]!.paragraphs.length, 0), split: { seed: 0, heldOutArticles: 3 } });
    const items: any[] = report.questions;
    expect(items).toHaveLength(50);
    for (const it of items) expect(heldOut).toContain(questionArticle.get(it.id));

    // The summary agrees with the per-question outcomes, which agree with the answers themselves.
    const s = report.summary;
    expect(s.extractive.questions).toBe(50);
    for (const it of items) expect(it.extractive.top1).toBe(containsAnswer(it.answer, it.golds));
    expect(s.extractive.top1).toBeCloseTo(mean(items.map((it) => (it.extractive.top1 ? 1 : 0))), 12);
    expect(s.extractive.top3).toBeCloseTo(mean(items.map((it) => (it.extractive.top3 ? 1 : 0))), 12);
    expect(s.extractive.answerF1).toBeCloseTo(mean(items.map((it) => it.extractive.f1)), 12);
    expect(s.extractive.top3).toBeGreaterThanOrEqual(s.extractive.top1);
    expect(s.extractive.top1).toBeGreaterThanOrEqual(s.extractive.top1Strict);
    // Over three articles the ranker should find most answers (the target on the full collection is 0.80; see README).
    expect(s.extractive.top1).toBeGreaterThan(0.5);
    expect(s.extractive.spans).toBeGreaterThan(0);
    expect(s.retrieval['recall@1']).toBeGreaterThan(0.5);
    expect(s.retrieval['recall@5']).toBeGreaterThanOrEqual(s.retrieval['recall@1']);
    expect(s.retrieval['recall@10']).toBeNull();
    expect(s.latencyMs.totalMs.n).toBe(50);
  }, 300_000);

  it('prints the extractive table; an explicit generator mode without a generator fails with the reason', async () => {
    const [table, blocks] = await Promise.all([
      rag(['eval', 'squad', SQUAD, '--n', '3', '--articles', '3', '--mode', 'extractive']),
      rag(['eval', 'squad', SQUAD, '--n', '3', '--articles', '3', '--mode', 'blocks']),
    ]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^SQuAD eval: 3 questions over \d+ paragraphs .*extractive answers \(no generator\), questions of 3 held-out articles/);
    expect(table.stdout).toMatch(/extractive\s+top-1 has gold\s+top-3 has gold/);
    expect(table.stderr).not.toMatch(/NOTE: no generator/);
    expect(blocks.code).toBe(1);
    expect(blocks.stderr).toMatch(/missing-org\/missing-model is not available/);
  }, 300_000);
});
