import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../../../infra/config.js';
import { loadConfig } from '../../../infra/config.js';
import { ensureRedis } from '../../../infra/redis.js';
import type { SearchHit } from '../../../retriever/SearchService.js';
import type { Asker, CompressionOption, EvalAskRequest, ModeOption, OrderOption } from '../../../eval/askOutcome.js';
import { fmt, textTable } from '../../../eval/table.js';
import { loadSquad } from '../../../indexer/sources/squad.js';
import { ANSWER_QUALITY_NOTE, runSquadEval, squadCorpus, type SquadCorpus, type SquadEvalSummary } from '../../../eval/squadEval.js';
import { articleSplit, DEFAULT_SPLIT_SEED } from '../../../eval/squadSplit.js';
import { SentenceRanker } from '../../../compressor/ranker/SentenceRanker.js';
import { DEFAULT_NEEDLE, loadEssays, niahCases, runNiah, summarizeNiah, type NiahResult } from '../../../eval/niah.js';
import { FACT_SETTINGS, formatFactCells, formatNiahGrid, runFactsEval, runNiahSettings } from '../../../eval/factsEval.js';
import { FACT_NEEDLE, factsAsSquad, stationFactDocuments } from '../../../eval/stationFacts.js';
import { buildTestModel } from '../../../model/builder/buildTestModel.js';
import { RESULT_FORMAT, writeBenchRecord } from '../../../bench/report/results.js';
import { AskService, type AskRequest } from '../../ask/AskService.js';
import { GeneratorHandle } from '../../ask/GeneratorHandle.js';
import { closeContext, createContext } from '../../bootstrap.js';
import type { ServiceContext } from '../../context.js';
import { openEmbedder } from '../../embedder.js';
import { CorpusIngester } from '../CorpusIngester.js';
import { UsageError } from '../errors.js';
import { intOption, oneOf } from '../options.js';

interface AskOpts {
  k: string;
  mode?: string;
  compression: string;
  order: string;
  keepRatio?: string;
  budgetTokens?: string;
  maxTokens: string;
  searchMode?: string;
  json: boolean;
}

interface SquadOpts extends AskOpts {
  n: string;
  articles?: string;
  collection?: string;
  seed: string;
}

interface NiahOpts extends AskOpts {
  sizes: string;
  depths: string;
  essays: string;
  collectionPrefix: string;
  model?: string;
  record?: string;
}

interface FactsOpts extends AskOpts {
  needles: string;
  seed: string;
  collectionPrefix: string;
  model?: string;
  record?: string;
  writeData?: string;
}

const progress = (msg: string): boolean => process.stderr.write(`${msg}\n`);

const positiveInt = (value: string, name: string): number => intOption(value, name, 1);

function askRequest(o: AskOpts, mode: ModeOption = oneOf<ModeOption>(o.mode ?? 'blocks', ['full', 'blocks'], 'mode')): Omit<EvalAskRequest, 'question' | 'collection'> {
  const keepRatio = o.keepRatio === undefined ? undefined : Number(o.keepRatio);
  if (keepRatio !== undefined && !(keepRatio > 0 && keepRatio <= 1)) throw new UsageError(`--keep-ratio must be in (0, 1] (got ${o.keepRatio})`);
  return {
    k: positiveInt(o.k, 'k'),
    mode,
    compression: oneOf<CompressionOption>(o.compression, ['none', 'lexical', 'raw', 'probe'], 'compression'),
    order: oneOf<OrderOption>(o.order, ['retrieval', 'zigzag', 'basin'], 'order'),
    ...(keepRatio !== undefined ? { keepRatio } : {}),
    ...(o.budgetTokens !== undefined ? { budgetTokens: positiveInt(o.budgetTokens, 'budget-tokens') } : {}),
    maxTokens: positiveInt(o.maxTokens, 'max-tokens'),
    temperature: 0,
    ...(o.searchMode !== undefined ? { searchMode: oneOf<'dense' | 'bm25' | 'hybrid'>(o.searchMode, ['dense', 'bm25', 'hybrid'], 'search-mode') } : {}),
  };
}

/**
 * `--model <preset>`: answer with a built test model (only `induction`, whose answers mean something), built under
 * MODELS_DIR/test/<preset> if missing; it replaces GENERATOR_MODEL for this run.
 */
function useBuiltModel(preset: string): void {
  if (preset !== 'induction') throw new UsageError(`--model: only "induction" is supported (got ${JSON.stringify(preset)})`);
  const dir = path.join(loadConfig().modelsDir, 'test', preset);
  if (!fs.existsSync(path.join(dir, 'config.json'))) {
    progress(`building test model ${preset} -> ${dir}`);
    buildTestModel(preset, dir);
  }
  process.env.GENERATOR_MODEL = `test/${preset}`;
}

const RECORD_HELP = 'also write the report as <dir>/<name>.json, a bench record `rag bench report` renders into docs/BENCHMARKS.md';

/** `--record <dir>`: the report as a bench record (the command line that produced it included). */
function recordReport(dir: string, name: string, startedAt: Date, seconds: number, result: unknown): void {
  const command = `rag ${process.argv.slice(2).join(' ')}`;
  progress(`recorded ${writeBenchRecord(path.resolve(dir), { format: RESULT_FORMAT, name, variant: 'full', command, startedAt: startedAt.toISOString(), seconds, ok: true, result })}`);
}

function addAskOptions(cmd: Command, k: string): Command {
  return cmd
    .option('-k, --k <n>', 'chunks retrieved per question (and given to the generator)', k)
    .option('--mode <mode>', 'generator attention mode: full|blocks (default blocks)')
    .option('--compression <method>', 'context compression: none|lexical|raw|probe', 'none')
    .option('--order <order>', 'block placement: retrieval|zigzag|basin', 'retrieval')
    .option('--keep-ratio <r>', 'fraction of context tokens compression keeps')
    .option('--budget-tokens <n>', 'context token budget for compression')
    .option('--max-tokens <n>', 'answer tokens to generate', '16')
    .option('--search-mode <mode>', 'retrieval: dense|bm25|hybrid (default: the service default)')
    .option('--json', 'print the report as JSON (the only output on stdout)', false);
}

/**
 * The in-process service an evaluation runs against, wired as services/main.ts wires the HTTP one (same
 * context, generator handle and AskService), with ingestion workers in this process (as `rag ingest` runs them).
 */
interface EvalService {
  config: Config;
  ctx: ServiceContext;
  ask: Asker;
  /** Null: answers are extractive (asked for, or no generator available: `fallback` says why). */
  generator: { model: string; dir: string; testModel: boolean } | null;
  fallback: string | null;
  ingest: (collection: string, docs: { id: string; title?: string; text: string }[]) => Promise<{ submitted: number; chunks: number }>;
  close: () => Promise<void>;
}

/**
 * `generator`: `required` fails without one; `optional` falls back to extractive answers without one;
 * `none` never loads it (extractive answers asked for).
 */
async function openEvalService(generator: 'required' | 'optional' | 'none' = 'required'): Promise<EvalService> {
  const config = loadConfig();
  await ensureRedis(config.redis, config.dataDir);
  const embedder = await openEmbedder(config);
  const ctx = createContext(config, embedder);
  const handle =
    generator === 'none'
      ? new GeneratorHandle(config, () => Promise.reject(new Error('not loaded: extractive answers asked for')))
      : new GeneratorHandle(config);
  const service = new AskService(ctx.store, ctx.search, handle, config.dataDir, { extractive: { registry: ctx.registry, embedder: ctx.embedder } });
  const ingester = new CorpusIngester(config, ctx, progress);
  const close = async (): Promise<void> => {
    await ingester.close();
    await handle.release();
    await closeContext(ctx);
  };
  try {
    const state = await handle.loaded;
    if (state.state !== 'ready' && generator === 'required') throw new Error(state.state === 'unavailable' ? state.reason : 'generator not loaded');
    const ready = state.state === 'ready' ? state.generator : null;
    const fallback = ready || generator === 'none' ? null : `no generator available, so answers are extractive: ${state.state === 'unavailable' ? state.reason : 'not loaded'}`;
    const ask: Asker = async (req) => {
      let hits: SearchHit[] = [];
      // Extractive answers take no generator options (the service refuses them when the mode is explicit).
      const request: AskRequest = ready ? { ...req } : { collection: req.collection, question: req.question, k: req.k, mode: 'extractive' };
      const outcome = await service.ask(request, (e) => {
        if (e.type === 'retrieval') hits = e.hits;
      });
      return { outcome, hits };
    };
    const ingest = (collection: string, docs: { id: string; title?: string; text: string }[]) => ingester.ingest(collection, docs);
    const info = ready
      ? { model: config.GENERATOR_MODEL, dir: ready.model.dir, testModel: 'test_model' in (JSON.parse(fs.readFileSync(path.join(ready.model.dir, 'config.json'), 'utf8')) as Record<string, unknown>) }
      : null;
    return { config, ctx, ask, generator: info, fallback, ingest, close };
  } catch (err) {
    await close();
    throw err;
  }
}

export function formatSquadSummary(s: SquadEvalSummary, header: string, testModel: boolean): string {
  const r = s.retrieval;
  const lat = Object.entries(s.latencyMs).map(([stage, l]) => [stage.replace(/Ms$/, ''), String(l.n), fmt(l.p50, 1), fmt(l.p90, 1), fmt(l.p99, 1), fmt(l.mean, 1)]);
  const ret = s.retention;
  return [
    header,
    '',
    textTable(['retrieval (paragraphs)', 'recall@1', 'recall@5', 'recall@10', 'MRR@10'], [['', fmt(r['recall@1']), fmt(r['recall@5']), fmt(r['recall@10']), fmt(r['mrr@10'])]]),
    '',
    textTable(
      ['compression', 'applied', 'gold kept / in retrieved', 'retention', 'overall', 'kept fraction p50', 'mean ratio'],
      [[s.compression.requested, s.compression.applied.join(','), `${ret.retained}/${ret.eligible}`, fmt(ret.rate), fmt(ret.overall), fmt(s.compression.keptFraction.p50), `${fmt(s.compression.meanRatio, 2)}x`]],
    ),
    '',
    textTable(['answers', 'EM', 'F1'], [['', fmt(s.answers.em), fmt(s.answers.f1)]]),
    ...(s.extractive
      ? [
          '',
          textTable(
            ['extractive', 'top-1 has gold', 'top-3 has gold', 'top-1 strict', 'top-3 strict', 'sentence F1', 'answer EM', 'answer F1', 'spans'],
            [['', fmt(s.extractive.top1), fmt(s.extractive.top3), fmt(s.extractive.top1Strict), fmt(s.extractive.top3Strict), fmt(s.extractive.sentenceF1), fmt(s.extractive.answerEm), fmt(s.extractive.answerF1), `${s.extractive.spans}/${s.extractive.questions}`]],
          ),
          `NOTE: ${s.answers.note}`,
        ]
      : [`NOTE: ${ANSWER_QUALITY_NOTE}${testModel ? ' The generator used here IS a built test model.' : ''}`]),
    '',
    textTable(['latency (ms)', 'n', 'p50', 'p90', 'p99', 'mean'], lat),
  ].join('\n');
}

export function formatNiah(results: readonly NiahResult[]): string {
  const rows = results.map((r) => [
    String(r.tokens),
    `${r.depthPercent}%`,
    r.retrieved ? `yes (#${r.retrievedRank})` : 'no',
    r.kept ? 'yes' : 'no',
    r.slot === null ? '—' : `${r.slot + 1}/${r.slots}`,
    r.highAttentionSlot ? `yes (${r.slotRule})` : `no (${r.slotRule})`,
    fmt(r.keptFraction, 2),
  ]);
  const s = summarizeNiah(results);
  return [
    textTable(['haystack tokens', 'depth', 'needle chunk retrieved', 'kept', 'slot', 'high-attention slot', 'kept fraction'], rows),
    '',
    `retrieved ${s.retrieved}/${s.cases}, kept ${s.kept}/${s.cases}, in a high-attention slot ${s.highAttention}/${s.cases}`,
  ].join('\n');
}

const list = (v: string, name: string): number[] =>
  v.split(',').map((x) => {
    const n = Number(x.trim());
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name}: ${JSON.stringify(x)} is not a non-negative number`);
    return n;
  });

/** `rag eval squad|niah`: end-to-end evaluations through the ask pipeline, run in this process. */
export function registerEvalCommands(program: Command): void {
  const evalCmd = program.command('eval').description('evaluate the ask pipeline end to end (retrieval, compression, placement, answers, latency)');

  addAskOptions(
    evalCmd
      .command('squad <file>')
      .description(
        'ingest the SQuAD paragraphs into a scratch collection (idempotent: a re-run reuses it), ask N questions in-process with ' +
          'GENERATOR_MODEL, report paragraph recall@1/5/10 and MRR@10, gold-sentence retention and compression ratio, EM/F1 ' +
          '(meaningless on built test models) and per-stage latency percentiles. With --mode extractive, or without a generator, ' +
          'answers are extractive (the learned sentence ranker\'s best sentence) and the questions are those of the ranker\'s ' +
          'held-out articles (article split by --seed) over the whole collection; the report adds top-1/top-3 "sentence contains ' +
          'a gold answer" and span EM/F1',
      )
      .option('--n <questions>', 'questions to ask, spread evenly over the corpus (extractive: over the held-out articles)', '100')
      .option('--articles <n>', 'only the first n articles form the corpus (default: all); extractive: the first n held-out articles')
      .option('--collection <name>', 'collection to ingest into / reuse (default: eval-squad-<articles>, extractive with --articles: eval-squad-heldout-<n>)')
      .option('--seed <n>', 'extractive: seed of the article split the ranker was trained with', String(DEFAULT_SPLIT_SEED)),
    '10',
  ).action(async (file: string, opts: SquadOpts, cmd: Command) => {
    const askedMode = opts.mode === undefined ? undefined : oneOf<ModeOption>(opts.mode, ['full', 'blocks', 'extractive'], 'mode');
    const n = positiveInt(opts.n, 'n');
    const articles = opts.articles === undefined ? undefined : positiveInt(opts.articles, 'articles');
    const seed = intOption(opts.seed, 'seed');
    const ds = await loadSquad(path.resolve(file));
    const svc = await openEvalService(askedMode === 'extractive' ? 'none' : askedMode === undefined ? 'optional' : 'required');
    try {
      const extractive = svc.generator === null;
      if (svc.fallback) progress(`NOTE: ${svc.fallback}`);
      let request: Omit<EvalAskRequest, 'question' | 'collection'>;
      let corpus: SquadCorpus;
      let collection: string;
      let split: { seed: number; heldOutArticles: number } | null = null;
      if (extractive) {
        // The ranker's own retrieval depth unless -k is given: its features were learned over that many passages.
        const ranker = SentenceRanker.forDataDir(svc.config.dataDir);
        const k = cmd.getOptionValueSource('k') === 'default' ? ranker.json.retrieval.k : positiveInt(opts.k, 'k');
        request = { ...askRequest(opts, 'extractive'), k };
        const heldOut = articleSplit(ds.articles.length, seed).heldOut;
        const corpusArticles = articles === undefined ? undefined : heldOut.slice(0, articles);
        corpus = squadCorpus(ds, { n, corpusArticles, questionArticles: heldOut });
        collection = opts.collection ?? (articles === undefined ? 'eval-squad-all' : `eval-squad-heldout-${articles}`);
        split = { seed, heldOutArticles: corpusArticles?.length ?? heldOut.length };
      } else {
        request = askRequest(opts);
        corpus = squadCorpus(ds, { n, articles });
        collection = opts.collection ?? `eval-squad-${articles ?? 'all'}`;
      }
      const t0 = performance.now();
      const ingested = await svc.ingest(collection, corpus.documents);
      const ingestSeconds = (performance.now() - t0) / 1000;
      let last = 0;
      const { summary, items } = await runSquadEval(svc.ask, corpus.questions, { ...request, collection }, (done, total) => {
        if (Date.now() - last > 5000 || done === total) {
          last = Date.now();
          progress(`asked ${done}/${total}`);
        }
      });
      const report = {
        dataset: { file: path.resolve(file), articles: articles ?? null, paragraphs: corpus.documents.length, questions: corpus.questions.length, split },
        collection: { name: collection, chunks: ingested.chunks, ingestSeconds },
        settings: extractive ? { mode: 'extractive', k: request.k, collection } : { ...request, collection },
        generator: svc.generator,
        ...(svc.fallback ? { fallback: svc.fallback } : {}),
        embedder: svc.ctx.embedder.id,
        summary,
        seconds: (performance.now() - t0) / 1000,
        questions: items,
      };
      if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        const g = svc.generator;
        const how = g
          ? `generator ${g.model}${g.testModel ? ' (built test model: random weights)' : ''}, embedder ${svc.ctx.embedder.id}, ` +
            `k=${request.k}, mode ${request.mode}, compression ${request.compression}, order ${request.order} (applied: ${summary.order.applied.join(',')})`
          : `extractive answers (no generator${svc.fallback ? ' available' : ''}), questions of ${split?.heldOutArticles} held-out articles (seed ${seed}), embedder ${svc.ctx.embedder.id}, k=${request.k}`;
        const header = `SQuAD eval: ${summary.questions} questions over ${corpus.documents.length} paragraphs (collection ${collection}, ${ingested.chunks} chunks), ${how}`;
        process.stdout.write(`${formatSquadSummary(summary, header, g?.testModel ?? false)}\n`);
      }
    } finally {
      await svc.close();
    }
    // Queue connections and model sessions can keep the event loop alive after close; the report is out.
    process.exit(process.exitCode ?? 0);
  });

  addAskOptions(
    evalCmd
      .command('niah')
      .description(
        'needle in a haystack: insert a unique sentence at several depths into essay filler of several sizes (one collection per ' +
          'haystack), ask for it, and report whether its chunk is retrieved, kept by compression, and placed in a high-attention slot',
      )
      .option('--sizes <tokens>', 'haystack sizes in tokens, comma-separated', '2000,8000,32000')
      .option('--depths <percent>', 'needle depths in percent, comma-separated', '0,25,50,75,100')
      .option('--essays <dir>', 'folder of filler .txt essays', path.resolve('..', 'shared', 'data', 'pg-essays'))
      .option('--collection-prefix <name>', 'collections are <prefix>-<tokens>-<depth>', 'niah')
      .option(
        '--model <preset>',
        'answer with a built test model: "induction" (a copying circuit) with a station-fact needle and cloze question, asked in every ' +
          'mode, compression and order; reports exact match per setting and a size x depth heat map (--mode/--compression/--order are ignored)',
      )
      .option('--record <dir>', `with --model: ${RECORD_HELP} (name induction-niah)`),
    '5',
  ).action(async (opts: NiahOpts) => {
    const request = askRequest(opts);
    const depths = list(opts.depths, 'depths');
    if (depths.some((d) => d > 100)) throw new UsageError('--depths are percentages in [0, 100]');
    if (opts.model) useBuiltModel(opts.model);
    const needle = opts.model ? FACT_NEEDLE : DEFAULT_NEEDLE;
    const cases = niahCases(loadEssays(path.resolve(opts.essays)), list(opts.sizes, 'sizes'), depths, needle, opts.collectionPrefix);
    const svc = await openEvalService();
    try {
      const t0 = performance.now();
      for (const c of cases) await svc.ingest(c.collection, [{ id: c.documentId, title: 'Essays', text: c.document.text }]);
      if (opts.model) {
        const startedAt = new Date();
        const runs = await runNiahSettings(svc.ask, cases, needle, FACT_SETTINGS, request, progress);
        const report = { needle, model: svc.generator, embedder: svc.ctx.embedder.id, k: request.k, searchMode: request.searchMode ?? null, runs, seconds: (performance.now() - t0) / 1000 };
        if (opts.record) recordReport(opts.record, 'induction-niah', startedAt, report.seconds, report);
        process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `${formatNiahGrid(runs)}\n`);
      } else {
        const results = await runNiah(svc.ask, cases, DEFAULT_NEEDLE, request);
        const report = { needle: DEFAULT_NEEDLE, settings: request, generator: svc.generator, embedder: svc.ctx.embedder.id, summary: summarizeNiah(results), results, seconds: (performance.now() - t0) / 1000 };
        process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `${formatNiah(results)}\n`);
      }
    } finally {
      await svc.close();
    }
    // Queue connections and model sessions can keep the event loop alive after close; the report is out.
    process.exit(process.exitCode ?? 0);
  });

  addAskOptions(
    evalCmd
      .command('facts')
      .description(
        'exact answers over station facts ("The access code of <name> Station is <4 digits>.") among filler: ingest collections of ' +
          'fact documents, ask each fact as a cloze question in every mode, compression and order, and report exact match, whether ' +
          'the fact was retrieved and kept, and every miss. Meant for --model induction (the only model here whose answers mean something)',
      )
      .option('--needles <n>', 'facts to ask (48 per collection: 12 documents of 4 facts and 6 filler sentences)', '200')
      .option('--seed <n>', 'seed of the fact sets', '0')
      .option('--collection-prefix <name>', 'collections are <prefix>-<i>', 'facts')
      .option('--model <preset>', 'answer with a built test model ("induction"), built under MODELS_DIR/test if missing')
      .option('--record <dir>', `${RECORD_HELP} (name induction-facts)`)
      .option(
        '--write-data <file>',
        'only write the fact sets (same --needles and --seed) as SQuAD v1.1 JSON and exit: the data for `rag probe train` and ' +
          '`rag calibrate`, which the probe setting and the basin order need first (use another --seed than the evaluation\'s)',
      ),
    '3',
  ).action(async (opts: FactsOpts) => {
    const request = askRequest(opts);
    const needles = positiveInt(opts.needles, 'needles');
    const seed = intOption(opts.seed, 'seed', 0);
    if (opts.model) useBuiltModel(opts.model);
    const perSet = 48;
    const sets = Array.from({ length: Math.ceil(needles / perSet) }, (_, i) => {
      const docs = stationFactDocuments({ documents: 12, factsPerDocument: 4, fillerPerDocument: 6, seed: seed + i, prefix: `facts${i}-` });
      const facts = docs.flatMap((d) => d.facts).slice(0, Math.min(perSet, needles - i * perSet));
      return { collection: `${opts.collectionPrefix}-${seed + i}`, docs, facts };
    });
    if (opts.writeData) {
      fs.mkdirSync(path.dirname(path.resolve(opts.writeData)), { recursive: true });
      const docs = sets.flatMap((s) => s.docs);
      fs.writeFileSync(path.resolve(opts.writeData), `${JSON.stringify(factsAsSquad(docs))}\n`);
      progress(`wrote ${docs.reduce((n, d) => n + d.facts.length, 0)} facts in ${docs.length} documents to ${opts.writeData}`);
      return;
    }
    const svc = await openEvalService();
    try {
      const t0 = performance.now();
      for (const set of sets) await svc.ingest(set.collection, set.docs.map(({ id, title, text }) => ({ id, title, text })));
      const cells = await runFactsEval(svc.ask, sets, FACT_SETTINGS, { k: request.k, maxTokens: request.maxTokens, searchMode: request.searchMode }, progress);
      const report = { model: svc.generator, embedder: svc.ctx.embedder.id, k: request.k, searchMode: request.searchMode ?? null, needles, cells, seconds: (performance.now() - t0) / 1000 };
      if (opts.record) recordReport(opts.record, 'induction-facts', new Date(Date.now() - report.seconds * 1000), report.seconds, report);
      process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : `${formatFactCells(cells)}\n`);
    } finally {
      await svc.close();
    }
    process.exit(process.exitCode ?? 0);
  });
}
