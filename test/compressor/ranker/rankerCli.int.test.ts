import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { SentenceRanker, SHIPPED_RANKER_FILE } from '../../../compressor/ranker/SentenceRanker.js';
import { allParagraphs, loadSquad } from '../../../indexer/sources/squad.js';
import { documentIdOf } from '../../../eval/squadEval.js';
import { articleSplit } from '../../../eval/squadSplit.js';
import { runRag } from '../../support/cli.js';
import { sharedFile, tempDir } from '../../support/processes.js';
import { OwnRedis } from '../../hardening/ownRedis.js';

/**
 * `rag ranker eval` end to end on a small slice: the first two held-out articles form the corpus (real ingestion
 * with USE-lite into Redis), 50 of their questions are retrieved with the service's search and
 * ranked by the shipped ranker (a private redis-server: every logical database of the shared one is taken).
 */
let own: OwnRedis;
let redis: Redis;
let env: Record<string, string>;
const SQUAD = sharedFile('squad-v1.1-dev.json');

const rag = (args: string[]) => runRag(args, { env, timeoutMs: 600_000 });

beforeAll(async () => {
  own = await OwnRedis.start();
  redis = own.redis;
  env = { REDIS_URL: own.url, DATA_DIR: tempDir('ranker-data'), MODELS_DIR: tempDir('ranker-models'), EMBEDDING_MODEL: 'use-lite', LOG_LEVEL: 'warn', SNAPSHOT_INTERVAL_MS: '0' };
});

afterAll(async () => {
  await own?.stop();
});

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('rag ranker eval (shipped ranker, 50 held-out questions)', () => {
  let report: any;

  it('ranks the sentences of retrieved passages and reports top-1/top-3 containment and latency as JSON', async () => {
    const out = await rag(['ranker', 'eval', '--data', SQUAD, '--articles', '2', '--n', '50', '--items']);
    expect(out.code).toBe(0);
    report = JSON.parse(out.stdout);
    const ds = await loadSquad(SQUAD);
    const held = articleSplit(ds.articles.length, 0).heldOut.slice(0, 2);
    const paragraphs = allParagraphs(ds).filter((p) => held.includes(p.articleIndex));
    expect(report.dataset).toMatchObject({ articles: held, paragraphs: paragraphs.length, questions: 50 });
    expect(report.collection.chunks).toBeGreaterThanOrEqual(paragraphs.length);
    expect(report.ranker).toMatchObject({ served: 'embedder', fallback: null });
    expect(report.search).toEqual({ mode: 'hybrid', k: SentenceRanker.load(SHIPPED_RANKER_FILE).json.retrieval.k });

    const s = report.summary;
    expect(s.questions).toBe(50);
    expect(Object.keys(s.rankings).sort()).toEqual(['baseline', 'embedder', 'lexical']);
    const items: any[] = report.items;
    expect(items).toHaveLength(50);
    for (const [name, r] of Object.entries<any>(s.rankings)) {
      expect(r.top1).toBeLessThanOrEqual(r.top3);
      expect(r.top1).toBeCloseTo(mean(items.map((it) => (it.rankings[name].top1 ? 1 : 0))), 12);
      expect(r.top3).toBeCloseTo(mean(items.map((it) => (it.rankings[name].top3 ? 1 : 0))), 12);
      expect(r.top3).toBeLessThanOrEqual(s.answerInCandidates);
    }
    // Over two articles' paragraphs the right sentence is usually found.
    expect(s.rankings.embedder.top1).toBeGreaterThan(0.5);
    expect(s.rankings.embedder.top3).toBeGreaterThan(0.7);
    expect(s.retrieval['recall@1']).toBeLessThanOrEqual(s.retrieval[`recall@${report.search.k}`]);

    // Every answer is an exact span of its document, scored in descending order.
    const text = new Map(paragraphs.map((p) => [documentIdOf(p.id), p.context]));
    for (const it of items) {
      const top = it.rankings.embedder.top;
      expect(top.length).toBeGreaterThan(0);
      for (const a of top) expect(text.get(a.documentId)!.slice(a.start, a.end)).toBe(a.text);
      for (let i = 1; i < top.length; i++) expect(top[i - 1].score).toBeGreaterThanOrEqual(top[i].score);
      // A span, when there is one, lies inside the top sentence and is cut from the same document text.
      const span = it.rankings.embedder.span;
      if (span) {
        expect(span.start).toBeGreaterThanOrEqual(top[0].start);
        expect(span.end).toBeLessThanOrEqual(top[0].end);
        expect(text.get(top[0].documentId)!.slice(span.start, span.end)).toBe(span.text);
      }
    }
    expect(s.rankings.embedder.spans).toBe(items.filter((it) => it.rankings.embedder.span).length);
    expect(s.rankings.embedder.answerF1).toBeCloseTo(mean(items.map((it) => it.rankings.embedder.answerF1)), 12);
    for (const stage of ['retrieveMs', 'rankMs', 'totalMs']) {
      const l = s.latencyMs[stage];
      expect(l.n).toBe(50);
      expect(l.p50).toBeGreaterThan(0);
      expect(l.p50).toBeLessThanOrEqual(l.p90);
    }
  }, 600_000);

  it('refuses the embedder model of a ranker trained with another embedder and serves the lexical one', async () => {
    const json = JSON.parse(fs.readFileSync(SHIPPED_RANKER_FILE, 'utf8'));
    json.embedder = { id: 'Xenova/all-MiniLM-L6-v2', dim: 384 };
    const file = path.join(tempDir('ranker-file'), 'other.json');
    fs.writeFileSync(file, JSON.stringify(json));
    const out = await rag(['ranker', 'eval', '--data', SQUAD, '--articles', '2', '--n', '10', '--ranker', file]);
    expect(out.code).toBe(0);
    const r = JSON.parse(out.stdout);
    expect(r.ranker.served).toBe('lexical');
    expect(r.ranker.fallback).toMatch(/trained with embedder Xenova\/all-MiniLM-L6-v2 \(384-d\), but serving uses use-lite@.* \(512-d\); using its lexical-only model/);
    expect(out.stderr).toContain(r.ranker.fallback);
    expect(Object.keys(r.summary.rankings).sort()).toEqual(['baseline', 'lexical']);
    // Same collection as the first run: ingestion was skipped, not redone.
    expect(r.collection.chunks).toBe(report.collection.chunks);
  }, 300_000);

  it('will not evaluate on a split whose held-out articles the ranker trained on', async () => {
    const out = await rag(['ranker', 'eval', '--data', SQUAD, '--articles', '1', '--n', '5', '--seed', '1']);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/trained with split seed 0; evaluating with --seed 1 would test on its training articles/);
  }, 60_000);

  it('trains a ranker on training articles only, and the trained file serves an evaluation', async () => {
    const out = path.join(tempDir('ranker-trained'), 'small.json');
    const train = await rag(['ranker', 'train', '--data', SQUAD, '--articles', '2', '--n', '60', '--out', out]);
    expect(train.code).toBe(0);
    const summary = JSON.parse(train.stdout);
    expect(summary.out).toBe(out);
    const ds = await loadSquad(SQUAD);
    const split = articleSplit(ds.articles.length, 0);
    const trained = SentenceRanker.load(out);
    const t = trained.json.trainedOn as any;
    expect(t.split.heldOutArticles).toEqual(split.heldOut);
    expect(t.collection.articles).toEqual(split.train.slice(0, 2));
    expect(t.collection.articles.filter((a: number) => split.heldOut.includes(a))).toEqual([]);
    expect(t.examples.questions).toBeGreaterThan(40);
    expect(t.examples.questions).toBeLessThanOrEqual(60);
    expect(trained.json.embedder).toEqual(report.embedder);
    expect(trained.json.retrieval).toEqual({ mode: 'hybrid', k: 5 });
    expect(trained.embedder.groups.sort()).toEqual(['lexical', 'retrieval']);
    expect(trained.lexical.groups).toEqual(['lexical']);
    for (const m of [trained.json.models.embedder, trained.json.models.lexical]) expect(m.cv.map((c) => c.C)).toContain(m.C);

    const evaluated = await rag(['ranker', 'eval', '--data', SQUAD, '--articles', '2', '--n', '20', '--ranker', out]);
    expect(evaluated.code).toBe(0);
    const r = JSON.parse(evaluated.stdout);
    expect(r.ranker).toMatchObject({ file: out, served: 'embedder', fallback: null });
    expect(r.summary.questions).toBe(20);
    expect(r.summary.rankings.embedder.top1).toBeLessThanOrEqual(r.summary.rankings.embedder.top3);
    expect(r.summary.rankings.embedder.top3).toBeGreaterThan(0.5);
  }, 600_000);
});
