import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../../../infra/config.js';
import { ensureRedis } from '../../../infra/redis.js';
import { FEATURE_FAMILIES, featuresOf, type FeatureGroup } from '../../../compressor/ranker/RankerFeatures.js';
import { trainRankerModel, type LabelledQuestion, type RankerObjective } from '../../../compressor/ranker/RankerTrainer.js';
import { RankerModel, SentenceRanker, SHIPPED_RANKER_FILE, type RankerFileJson } from '../../../compressor/ranker/SentenceRanker.js';
import { searchPassages } from '../../../compressor/ranker/searchPassages.js';
import { evaluateRanker, labelledQuestions, rankerQuestions, spreadEvenly, type PassageRetriever, type RankerQuestion } from '../../../eval/rankerEval.js';
import { allParagraphs, displayTitle, loadSquad, type SquadDataset } from '../../../indexer/sources/squad.js';
import { documentIdOf } from '../../../eval/squadEval.js';
import { articleSplit, DEFAULT_SPLIT_SEED } from '../../../eval/squadSplit.js';
import { closeContext, createContext } from '../../bootstrap.js';
import type { ServiceContext } from '../../context.js';
import { openEmbedder } from '../../embedder.js';
import { CorpusIngester, type CorpusDocument } from '../CorpusIngester.js';

/** The search mode the ranker is trained and evaluated on: the service's default (measured best on SQuAD). */
const RANKER_SEARCH_MODE = 'hybrid';
const DEFAULT_K = 5;

const progress = (msg: string): boolean => process.stderr.write(`${msg}\n`);

const int = (v: string, name: string, min = 0): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min} (got ${v})`);
  return n;
};

interface Session {
  config: Config;
  ctx: ServiceContext;
  ingester: CorpusIngester;
  close: () => Promise<void>;
}

async function openSession(): Promise<Session> {
  const config = loadConfig();
  await ensureRedis(config.redis, config.dataDir);
  const ctx = createContext(config, await openEmbedder(config));
  const ingester = new CorpusIngester(config, ctx, progress);
  return {
    config,
    ctx,
    ingester,
    close: async () => {
      await ingester.close();
      await closeContext(ctx);
    },
  };
}

/** Every paragraph of the given articles (all when null) as a document, named as `rag eval squad` names them. */
function corpusOf(ds: SquadDataset, articles: readonly number[] | null): CorpusDocument[] {
  const wanted = articles ? new Set(articles) : null;
  return allParagraphs(ds)
    .filter((p) => wanted === null || wanted.has(p.articleIndex))
    .map((p) => ({ id: documentIdOf(p.id), title: displayTitle(p.title), text: p.context }));
}

function searchRetriever(s: Session, collection: string, k: number): PassageRetriever {
  return async (question) => {
    const r = await searchPassages(s.ctx, collection, question, k, RANKER_SEARCH_MODE);
    if (!r) throw new Error(`collection ${collection} has no index`);
    return r;
  };
}

interface TrainOpts {
  data: string;
  out?: string;
  collection?: string;
  articles?: string;
  k: string;
  seed: string;
  n?: string;
  objective: string;
  ablation: boolean;
}

interface EvalOpts {
  data: string;
  ranker?: string;
  collection?: string;
  k?: string;
  seed: string;
  articles?: string;
  n?: string;
  items: boolean;
}

const round = (x: number): number => Math.round(x * 10000) / 10000;

/** `rag ranker train | eval | info`: the learned sentence ranker behind extractive answers. */
export function registerRankerCommands(program: Command): void {
  const ranker = program.command('ranker').description('learned sentence ranker for extractive answers: train on SQuAD, evaluate, inspect');

  ranker
    .command('train')
    .description(
      'ingest every SQuAD paragraph into a scratch collection (idempotent), retrieve k passages for each question of the ' +
        'training articles (80%, article-level split by --seed) with the service\'s hybrid search and the configured embedder, ' +
        'label each candidate sentence 1 if it holds a gold answer, and fit two logistic-regression rankers (lexical + ' +
        'retrieval features for this embedder, and lexical-only as the fallback); C by 5-fold cross-validation over articles',
    )
    .requiredOption('--data <file>', 'SQuAD v1.1-format JSON (e.g. ../shared/data/squad-v1.1-dev.json)')
    .option('--out <file>', 'where to write the ranker (default DATA_DIR/rankers/sentence-ranker.json)')
    .option('--collection <name>', 'collection holding the corpus, ingested if missing (default eval-squad-all, or eval-squad-train-<n> with --articles)')
    .option('--articles <n>', 'small run: the corpus and the questions are only the first n training articles (default: every paragraph)')
    .option('-k, --k <n>', 'passages retrieved per question (their sentences are the candidates)', String(DEFAULT_K))
    .option('--seed <n>', 'seed of the article split and the cross-validation folds', String(DEFAULT_SPLIT_SEED))
    .option('--n <questions>', 'use at most n training questions, spread evenly (default: all)')
    .option('--objective <name>', 'listwise (softmax over each question\'s candidates) or pointwise', 'listwise')
    .option('--ablation', 'also refit without each feature family and report held-out top-1/top-3', false)
    .action(async (opts: TrainOpts) => {
      const k = int(opts.k, 'k', 1);
      const seed = int(opts.seed, 'seed');
      if (opts.objective !== 'listwise' && opts.objective !== 'pointwise') throw new Error(`--objective must be listwise or pointwise (got ${opts.objective})`);
      const objective = opts.objective as RankerObjective;
      const ds = await loadSquad(path.resolve(opts.data));
      const split = articleSplit(ds.articles.length, seed);
      const articles = opts.articles === undefined ? null : split.train.slice(0, int(opts.articles, 'articles', 1));
      if (articles && opts.ablation) throw new Error('--ablation needs the whole corpus (the held-out questions are asked over it); drop --articles');
      const collection = opts.collection ?? (articles ? `eval-squad-train-${articles.length}` : 'eval-squad-all');
      const corpus = corpusOf(ds, articles);
      const s = await openSession();
      try {
        const t0 = performance.now();
        await s.ingester.ingest(collection, corpus);
        const retrieve = searchRetriever(s, collection, k);
        let trainQs = rankerQuestions(ds, articles ?? split.train);
        if (opts.n !== undefined) trainQs = spreadEvenly(trainQs, int(opts.n, 'n', 1));
        const collect = (qs: RankerQuestion[], what: string): Promise<LabelledQuestion[]> => {
          let last = 0;
          return labelledQuestions(qs, retrieve, (d, t) => {
            if (d === t || performance.now() - last > 5000) {
              last = performance.now();
              progress(`${what}: retrieved and featurised ${d}/${t} questions`);
            }
          });
        };
        const train = await collect(trainQs, 'training');
        const t1 = performance.now();
        const groups: FeatureGroup[] = ['lexical', 'retrieval'];
        progress(`fitting the embedder model (${groups.join(' + ')} features, ${objective})`);
        const emb = trainRankerModel(train, { features: featuresOf(groups), objective, seed });
        progress('fitting the lexical-only model');
        const lex = trainRankerModel(train, { features: featuresOf(['lexical']), objective, seed });
        const json: RankerFileJson = {
          format: 'sentence-ranker/1',
          embedder: { id: s.ctx.embedder.id, dim: s.ctx.embedder.dim },
          retrieval: { mode: RANKER_SEARCH_MODE, k },
          models: { embedder: emb.model, lexical: lex.model },
          trainedOn: {
            data: path.basename(opts.data),
            split: { seed, heldOutFraction: split.heldOutFraction, heldOutArticles: split.heldOut, trainArticles: split.train.length },
            label: 'a candidate sentence is positive when it contains a gold answer (whole words, SQuAD normalisation)',
            objective,
            collection: { name: collection, paragraphs: corpus.length, articles: articles ?? 'all' },
            examples: emb.examples,
          },
        };
        const trained = SentenceRanker.fromJSON(json, 'trained ranker');
        const out = path.resolve(opts.out ?? SentenceRanker.dataDirFile(s.config.dataDir));
        trained.save(out);
        const report: Record<string, unknown> = {
          out,
          embedder: json.embedder,
          retrieval: json.retrieval,
          split: json.trainedOn.split,
          examples: emb.examples,
          models: Object.fromEntries(
            (['embedder', 'lexical'] as const).map((name) => {
              const m = json.models[name];
              return [name, { C: m.C, cv: m.cv, coef: Object.fromEntries(m.features.map((f, i) => [f, round(m.coef[i])])) }];
            }),
          ),
          featureSeconds: (t1 - t0) / 1000,
          trainSeconds: (performance.now() - t1) / 1000,
        };
        if (opts.ablation) {
          const held = await collect(rankerQuestions(ds, split.heldOut), 'held-out');
          const heldTop = (m: RankerModel): { top1: number; top3: number } => {
            let t1h = 0;
            let t3h = 0;
            for (const q of held) {
              const ranked = q.candidates.map((c) => ({ c, s: m.score(c.features) })).sort((a, b) => b.s - a.s).slice(0, 3);
              t1h += ranked[0]?.c.label ?? 0;
              t3h += ranked.some((r) => r.c.label === 1) ? 1 : 0;
            }
            return { top1: round(t1h / held.length), top3: round(t3h / held.length) };
          };
          const base = featuresOf(groups);
          const rows: Record<string, unknown> = { all: heldTop(trained.embedder) };
          for (const [family, names] of Object.entries(FEATURE_FAMILIES)) {
            const features = base.filter((f) => !(names as readonly string[]).includes(f));
            if (features.length === base.length) continue;
            progress(`ablation: without ${family}`);
            const m = trainRankerModel(train, { features, objective, seed, grid: [emb.model.C], folds: 2 }).model;
            rows[`without ${family}`] = heldTop(new RankerModel(m, family));
          }
          rows['lexical model'] = heldTop(trained.lexical);
          report.ablation = { note: `held-out articles' questions (${held.length}), same retrieval; C fixed at ${emb.model.C}`, rows };
        }
        process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
      } finally {
        await s.close();
      }
      process.exit(process.exitCode ?? 0);
    });

  ranker
    .command('eval')
    .description(
      'extractive answers without a generator, on the held-out articles of the ranker\'s split: ingest the corpus (idempotent), ' +
        'retrieve k passages per question with the service\'s hybrid search, rank every sentence, and report how often the ' +
        'top-1 / top-3 sentences contain a gold answer (also strict: the gold sentence of the gold paragraph), against the ' +
        'lexical-only model and the untrained baseline, with p50/p90 latency of retrieve + rank. JSON on stdout',
    )
    .requiredOption('--data <file>', 'SQuAD v1.1-format JSON')
    .option('--ranker <file>', 'ranker file (default: the one shipped with the package)')
    .option('--collection <name>', 'collection for the corpus (default eval-squad-all, or eval-squad-heldout-<n> with --articles)')
    .option('-k, --k <n>', 'passages retrieved per question (default: as the ranker was trained)')
    .option('--seed <n>', 'seed of the article split (must be the one the ranker was trained with)', String(DEFAULT_SPLIT_SEED))
    .option('--articles <n>', 'small run: the corpus is only the first n held-out articles (default: every paragraph of the file)')
    .option('--n <questions>', 'ask at most n held-out questions, spread evenly (default: all)')
    .option('--items', 'include every question\'s result in the JSON', false)
    .action(async (opts: EvalOpts) => {
      const seed = int(opts.seed, 'seed');
      const ds = await loadSquad(path.resolve(opts.data));
      const split = articleSplit(ds.articles.length, seed);
      const file = path.resolve(opts.ranker ?? SHIPPED_RANKER_FILE);
      const ranker = SentenceRanker.load(file);
      const trainedSplit = ranker.json.trainedOn.split as { seed?: number } | undefined;
      if (trainedSplit?.seed !== undefined && trainedSplit.seed !== seed) {
        throw new Error(`the ranker was trained with split seed ${trainedSplit.seed}; evaluating with --seed ${seed} would test on its training articles`);
      }
      const k = opts.k === undefined ? ranker.json.retrieval.k : int(opts.k, 'k', 1);
      const articles = opts.articles === undefined ? null : split.heldOut.slice(0, int(opts.articles, 'articles', 1));
      const collection = opts.collection ?? (articles ? `eval-squad-heldout-${articles.length}` : 'eval-squad-all');
      let questions = rankerQuestions(ds, articles ?? split.heldOut);
      if (opts.n !== undefined) questions = spreadEvenly(questions, int(opts.n, 'n', 1));
      const s = await openSession();
      try {
        const corpus = corpusOf(ds, articles);
        const ingested = await s.ingester.ingest(collection, corpus);
        const retrieve = searchRetriever(s, collection, k);
        const selection = ranker.select({ embedder: s.ctx.embedder, mode: RANKER_SEARCH_MODE });
        if (selection.fallback) progress(selection.fallback);
        // Warm the index and the embedder so the first question's latency is not the index load.
        await retrieve(questions[0]?.question ?? 'warm-up');
        let last = 0;
        const { summary, items } = await evaluateRanker(questions, retrieve, {
          k,
          served: { name: selection.kind, model: selection.model },
          ...(selection.kind === 'embedder' ? { compare: { lexical: ranker.lexical } } : {}),
          onProgress: (d, t) => {
            if (d === t || performance.now() - last > 5000) {
              last = performance.now();
              progress(`asked ${d}/${t}`);
            }
          },
        });
        const report = {
          dataset: { file: path.resolve(opts.data), articles: articles ?? split.heldOut, paragraphs: corpus.length, questions: questions.length },
          collection: { name: collection, chunks: ingested.chunks },
          split: { seed, heldOutArticles: split.heldOut },
          ranker: { file, embedder: ranker.json.embedder, served: selection.kind, fallback: selection.fallback },
          embedder: { id: s.ctx.embedder.id, dim: s.ctx.embedder.dim },
          search: { mode: RANKER_SEARCH_MODE, k },
          summary,
          ...(opts.items ? { items } : {}),
        };
        process.stdout.write(`${JSON.stringify(report)}\n`);
      } finally {
        await s.close();
      }
      process.exit(process.exitCode ?? 0);
    });

  ranker
    .command('info [file]')
    .description('what a ranker file was trained with (default: the shipped one), its features and weights')
    .action((file?: string) => {
      const r = SentenceRanker.load(path.resolve(file ?? SHIPPED_RANKER_FILE));
      const { embedder, retrieval, trainedOn } = r.json;
      const describe = (m: RankerModel) => ({ groups: m.groups, C: m.json.C, cv: m.json.cv, coef: Object.fromEntries(m.features.map((f, i) => [f, round(m.json.coef[i])])) });
      process.stdout.write(`${JSON.stringify({ embedder, retrieval, trainedOn, models: { embedder: describe(r.embedder), lexical: describe(r.lexical) } }, null, 1)}\n`);
    });
}
