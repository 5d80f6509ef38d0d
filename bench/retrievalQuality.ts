import { pathToFileURL } from 'node:url';
import { mean, recallAtK, reciprocalRankAtK } from '../eval/metrics.js';
import { allParagraphs, allQueries, displayTitle, loadSquad, type SquadQuery } from '../indexer/sources/squad.js';
import type { AnalyzerConfig } from '../retriever/Analyzer.js';
import { Bm25Index, type Bm25Params } from '../retriever/Bm25Index.js';
import { fuseHybrid, type HybridFusionOptions, type Scored } from '../retriever/Fusion.js';
import { BM25_ANALYZER, BM25_PARAMS, DEFAULT_SEARCH_MODE, HYBRID_CANDIDATES, HYBRID_FUSION, TITLE_IN_LEXICAL_TEXT } from '../retriever/defaults.js';
import { squadVectors } from './squadVectors.js';

/**
 * Paragraph retrieval quality on SQuAD v1.1 dev: every paragraph is a document, every question a
 * query whose one relevant document is its own paragraph. Parameters (BM25 analysis and k1/b, fusion
 * method and weights) are tuned on the questions of a fixed 20% of articles (article index % 5 == 0)
 * and every reported number comes from the other 80%. Dense vectors are USE-lite, cached on disk.
 */
export interface RetrievalQualityOptions {
  squadFile?: string;
  cacheDir?: string;
  /** Candidates each retriever contributes before fusion (default HYBRID_CANDIDATES, as the search service should fetch). */
  depth?: number;
  /** Run the parameter search (slower) instead of only evaluating the committed defaults. */
  tune?: boolean;
  log?: (message: string) => void;
}

export interface ModeMetrics {
  'recall@1': number;
  'recall@5': number;
  'recall@10': number;
  'mrr@10': number;
}

interface LexicalConfig {
  params: Bm25Params;
  analyzer: AnalyzerConfig;
  title: boolean;
}

export interface RetrievalQualityReport {
  dataset: { file: string; paragraphs: number; questions: number };
  split: { rule: string; tuningQuestions: number; reportedQuestions: number };
  depth: number;
  modes: Record<string, ModeMetrics>;
  defaultMode: string;
  defaultNeverWorseThanBestSingle: boolean;
  parameters: { bm25: LexicalConfig; fusion: HybridFusionOptions };
  /** With --tune: the best BM25 parameters for each analysis variant and the best fusion settings, by tuning-split objective. */
  tuning?: { objective: string; lexical: (LexicalConfig & { objective: number })[]; fusion: (HybridFusionOptions & { objective: number })[] };
  seconds: number;
}

const KS = [1, 5, 10] as const;

function metricsOf(rankings: string[][], gold: string[]): ModeMetrics {
  const m = (f: (r: string[], g: string) => number) => mean(rankings.map((r, i) => f(r, gold[i])));
  return {
    'recall@1': m((r, g) => recallAtK(r, [g], 1)),
    'recall@5': m((r, g) => recallAtK(r, [g], 5)),
    'recall@10': m((r, g) => recallAtK(r, [g], 10)),
    'mrr@10': m((r, g) => reciprocalRankAtK(r, [g], 10)),
  };
}

/** Scalar used to pick parameters: the four reported metrics, equally weighted. */
function objective(m: ModeMetrics): number {
  return (m['recall@1'] + m['recall@5'] + m['recall@10'] + m['mrr@10']) / 4;
}

function round(m: ModeMetrics): ModeMetrics {
  const r = (x: number) => Math.round(x * 10000) / 10000;
  return { 'recall@1': r(m['recall@1']), 'recall@5': r(m['recall@5']), 'recall@10': r(m['recall@10']), 'mrr@10': r(m['mrr@10']) };
}

interface Corpus {
  paragraphs: { id: string; text: string; title: string }[];
}

function buildLexical(corpus: Corpus, cfg: LexicalConfig): Bm25Index {
  const index = new Bm25Index({ ...cfg.params, analyzer: cfg.analyzer });
  for (const p of corpus.paragraphs) index.add(p.id, p.text, cfg.title ? p.title : undefined);
  return index;
}

function lexicalRuns(index: Bm25Index, queries: SquadQuery[], depth: number): Scored[][] {
  return queries.map((q) => index.search(q.question, depth));
}

/** Exact cosine top-`depth` (vectors are unit length, so a dot product). */
function denseRuns(queries: SquadQuery[], qv: Map<string, Float32Array>, pv: Map<string, Float32Array>, depth: number): Scored[][] {
  const ids = [...pv.keys()];
  const mats = ids.map((id) => pv.get(id)!);
  return queries.map((q) => {
    const v = qv.get(q.id)!;
    const scored: Scored[] = new Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const p = mats[i];
      let s = 0;
      for (let j = 0; j < v.length; j++) s += v[j] * p[j];
      scored[i] = { id: ids[i], score: s };
    }
    scored.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
    return scored.slice(0, depth);
  });
}

const ids = (runs: Scored[][]) => runs.map((r) => r.map((s) => s.id));

function fusionGrid(): HybridFusionOptions[] {
  const grid: HybridFusionOptions[] = [];
  for (let w = 0; w <= 1.0001; w += 0.05) {
    const dw = Math.round(w * 100) / 100;
    grid.push({ method: 'minmax', lexicalWeight: 1, denseWeight: dw });
    grid.push({ method: 'zscore', lexicalWeight: 1, denseWeight: dw });
  }
  for (const rrfK of [5, 10, 20, 60]) {
    for (const dw of [0.1, 0.2, 0.3, 0.5, 0.7, 1]) grid.push({ method: 'rrf', lexicalWeight: 1, denseWeight: dw, rrfK });
  }
  return grid;
}

function lexicalGrid(): LexicalConfig[] {
  const grid: LexicalConfig[] = [];
  for (const stem of [false, true]) {
    for (const bigrams of [false, true]) {
      for (const title of [false, true]) {
        for (const k1 of [0.4, 0.6, 0.9, 1.2, 1.6]) {
          for (const b of [0.5, 0.75, 0.9, 1]) grid.push({ params: { k1, b }, analyzer: { stopwords: true, stem, bigrams }, title });
        }
      }
    }
  }
  return grid;
}

export async function runRetrievalQuality(opts: RetrievalQualityOptions = {}): Promise<RetrievalQualityReport> {
  const t0 = Date.now();
  const squadFile = opts.squadFile ?? '../shared/data/squad-v1.1-dev.json';
  const depth = opts.depth ?? HYBRID_CANDIDATES;
  const log = opts.log ?? (() => {});
  const ds = await loadSquad(squadFile);
  const corpus: Corpus = {
    paragraphs: allParagraphs(ds).map((p) => ({ id: p.id, text: p.context, title: displayTitle(p.title) })),
  };
  const queries = allQueries(ds);
  const isTuning = (q: SquadQuery) => q.articleIndex % 5 === 0;
  const tuneQ = queries.filter(isTuning);
  const testQ = queries.filter((q) => !isTuning(q));
  const tuneGold = tuneQ.map((q) => q.paragraphId);
  const testGold = testQ.map((q) => q.paragraphId);

  log('embedding (or reading cached) USE-lite vectors');
  const vectors = await squadVectors(squadFile, opts.cacheDir ?? '.tmp/squad-use', (kind, d, t) => {
    if (d === t || d % 1024 === 0) log(`embedded ${kind} ${d}/${t}`);
  });
  const denseTune = denseRuns(tuneQ, vectors.questions, vectors.paragraphs, depth);
  const denseTest = denseRuns(testQ, vectors.questions, vectors.paragraphs, depth);

  let lexical: LexicalConfig = { params: { ...BM25_PARAMS }, analyzer: { ...BM25_ANALYZER }, title: TITLE_IN_LEXICAL_TEXT };
  let fusion: HybridFusionOptions = { ...HYBRID_FUSION };
  let tuning: RetrievalQualityReport['tuning'];
  if (opts.tune) {
    const lexTrials: (LexicalConfig & { objective: number })[] = [];
    for (const cfg of lexicalGrid()) {
      const runs = lexicalRuns(buildLexical(corpus, cfg), tuneQ, depth);
      lexTrials.push({ ...cfg, objective: objective(metricsOf(ids(runs), tuneGold)) });
    }
    lexTrials.sort((a, b) => b.objective - a.objective);
    lexical = { params: lexTrials[0].params, analyzer: lexTrials[0].analyzer, title: lexTrials[0].title };
    log(`best lexical on tuning split: ${JSON.stringify(lexTrials[0])}`);
    const lexTune = lexicalRuns(buildLexical(corpus, lexical), tuneQ, depth);
    const fusionTrials = fusionGrid().map((f) => ({
      ...f,
      objective: objective(metricsOf(ids(lexTune.map((l, i) => fuseHybrid(l, denseTune[i], f))), tuneGold)),
    }));
    fusionTrials.sort((a, b) => b.objective - a.objective);
    const { objective: _o, ...best } = fusionTrials[0];
    fusion = best;
    log(`best fusion on tuning split: ${JSON.stringify(fusionTrials[0])}`);
    const r = (x: number) => Math.round(x * 10000) / 10000;
    // Best parameters per analysis variant: shows what stemming, bigrams and the title each bring.
    const variants = new Map<string, LexicalConfig & { objective: number }>();
    for (const t of lexTrials) {
      const key = JSON.stringify([t.analyzer, t.title]);
      if (!variants.has(key)) variants.set(key, { ...t, objective: r(t.objective) });
    }
    tuning = {
      objective: 'mean of recall@1, recall@5, recall@10, MRR@10 on the tuning split',
      lexical: [...variants.values()],
      fusion: fusionTrials.slice(0, 10).map((t) => ({ ...t, objective: r(t.objective) })),
    };
  }

  // Reported numbers: test split only.
  const baselineCfg: LexicalConfig = { params: { k1: 1.2, b: 0.75 }, analyzer: { stopwords: true, stem: false, bigrams: false }, title: false };
  const baseTest = lexicalRuns(buildLexical(corpus, baselineCfg), testQ, depth);
  const lexTest = lexicalRuns(buildLexical(corpus, lexical), testQ, depth);
  const rrfPlain: HybridFusionOptions = { method: 'rrf', lexicalWeight: 1, denseWeight: 1, rrfK: 60 };
  // Ablations of the chosen lexical configuration (reported split, for the record; not used for choices).
  const without = (change: Partial<LexicalConfig>) =>
    metricsOf(ids(lexicalRuns(buildLexical(corpus, { ...lexical, ...change }), testQ, depth)), testGold);
  const modes: Record<string, ModeMetrics> = {
    'bm25-baseline': metricsOf(ids(baseTest), testGold),
    'bm25-without-title': without({ title: false }),
    'bm25-without-stemming': without({ analyzer: { ...lexical.analyzer, stem: false } }),
    'bm25-default-k1-b': without({ params: { k1: 1.2, b: 0.75 } }),
    bm25: metricsOf(ids(lexTest), testGold),
    dense: metricsOf(ids(denseTest), testGold),
    'hybrid-rrf60': metricsOf(ids(lexTest.map((l, i) => fuseHybrid(l, denseTest[i], rrfPlain))), testGold),
    hybrid: metricsOf(ids(lexTest.map((l, i) => fuseHybrid(l, denseTest[i], fusion))), testGold),
  };
  const defaultMode = DEFAULT_SEARCH_MODE;
  const single = ['bm25', 'dense'];
  const defaultNeverWorseThanBestSingle = single.every((s) => {
    const d = modes[defaultMode];
    return KS.every((k) => d[`recall@${k}`] >= modes[s][`recall@${k}`]) && d['mrr@10'] >= modes[s]['mrr@10'];
  });
  return {
    dataset: { file: squadFile, paragraphs: corpus.paragraphs.length, questions: queries.length },
    split: {
      rule: 'tuning = questions of articles with index % 5 == 0 (file order); reported = all other questions; corpus = all paragraphs',
      tuningQuestions: tuneQ.length,
      reportedQuestions: testQ.length,
    },
    depth,
    modes: Object.fromEntries(Object.entries(modes).map(([k, v]) => [k, round(v)])),
    defaultMode,
    defaultNeverWorseThanBestSingle,
    parameters: { bm25: lexical, fusion },
    ...(tuning ? { tuning } : {}),
    seconds: Math.round((Date.now() - t0) / 100) / 10,
  };
}

// `node dist/bench/retrievalQuality.js [--tune] [--depth N]` prints the report as JSON on stdout (progress on stderr).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const depthAt = process.argv.indexOf('--depth');
  const depth = depthAt > 0 ? Number(process.argv[depthAt + 1]) : undefined;
  runRetrievalQuality({ tune: process.argv.includes('--tune'), depth, log: (m) => process.stderr.write(`${m}\n`) })
    .then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
}
