import os from 'node:os';
import path from 'node:path';
import { containsAnswer } from '../eval/metrics.js';
import { rankerQuestions, spreadEvenly } from '../eval/rankerEval.js';
import { articleSplit } from '../eval/squadSplit.js';
import { documentIdOf } from '../eval/squadEval.js';
import { allParagraphs, displayTitle, loadSquad } from '../indexer/sources/squad.js';
import { hasRedisServer } from '../infra/localProcesses.js';
import { summarise, type LatencySummary } from './load.js';
import { indexedCount, json, startServiceStack, until } from './serviceStack.js';

export interface ExtractiveBenchOptions {
  squadFile: string;
  /** Paragraphs indexed (default: every paragraph of the file, 2,067 for SQuAD v1.1 dev). */
  documents?: number;
  /** Timed questions (held-out articles' questions spread evenly), after `warmup` untimed ones. */
  questions?: number;
  warmup?: number;
  log?: (msg: string) => void;
}

export interface ExtractiveBenchResult {
  paragraphs: number;
  chunks: number;
  questions: number;
  k: number;
  embedder: string;
  /** Wall time of POST /v1/ask (mode extractive, JSON) as a client on loopback sees it: the served path. */
  latencyMs: LatencySummary;
  /** What the server reports for the same asks. */
  serverMs: { total: LatencySummary; retrieve: LatencySummary; rank: LatencySummary };
  /** Share of the timed answers that contain a gold answer (a sanity check, not the quality metric: see `rag eval squad`). */
  top1: number;
  targetP50Ms: number;
  machine: { cpus: number; loadAverage: { before: number[]; after: number[] } };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/**
 * The served extractive ask: an API process with no generator model (as on a fresh offline clone) and a worker, on
 * a Redis of their own, every SQuAD paragraph ingested, then held-out questions asked one at a time over HTTP
 * (`mode: "extractive"`, the API's default k = 5, as the shipped ranker was trained). One client: this is the latency of one ask, not throughput.
 */
export async function runExtractiveBench(opts: ExtractiveBenchOptions): Promise<ExtractiveBenchResult> {
  const log = opts.log ?? (() => undefined);
  if (!hasRedisServer()) throw new Error('the extractive bench starts its own redis-server: install it first');
  const ds = await loadSquad(opts.squadFile);
  const paragraphs = allParagraphs(ds).slice(0, opts.documents ?? Infinity);
  const indexed = new Set(paragraphs.map((p) => documentIdOf(p.id)));
  const heldOut = rankerQuestions(ds, articleSplit(ds.articles.length).heldOut).filter((q) => indexed.has(q.documentId));
  const warmup = opts.warmup ?? 10;
  const asked = spreadEvenly(heldOut, (opts.questions ?? 200) + warmup);

  const stack = await startServiceStack({
    prefix: 'rag-extractive-',
    env: (work) => ({
      MODELS_DIR: path.join(work, 'models'),
      // No generator: extractive answers are what a fresh clone serves.
      GENERATOR_MODEL: 'none/no-generator',
      // The embedder the shipped ranker was trained with (its embedder model applies).
      EMBEDDING_MODEL: 'use-lite',
      ASK_MAX_PER_CLIENT: '0',
      LOG_LEVEL: 'warn',
    }),
  });
  try {
    const { base } = stack;

    log(`extractive: ingesting ${paragraphs.length} paragraphs`);
    const docs = paragraphs.map((p) => ({ id: documentIdOf(p.id), title: displayTitle(p.title), text: p.context }));
    for (let i = 0; i < docs.length; i += 1000) {
      const r = await json(base, 'POST', '/v1/collections/squad/documents', { documents: docs.slice(i, i + 1000) });
      if (r.status !== 202) throw new Error(`ingest: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    }
    await until(
      async () => {
        const n = await indexedCount(base, 'squad');
        log(`extractive: ${n}/${docs.length} indexed`);
        return n === docs.length;
      },
      3_600_000,
      'indexing',
    );
    // The worker is done; stop it so the timed asks do not share the cores with it.
    await stack.stopWorker();
    const chunks = Number((await json(base, 'GET', '/v1/collections/squad')).body.chunks ?? 0);

    const before = os.loadavg().map(round2);
    log(`extractive: asking ${asked.length} questions (${warmup} untimed), load average ${before.join(' ')}`);
    const wall: number[] = [];
    const total: number[] = [];
    const retrieve: number[] = [];
    const rank: number[] = [];
    let hits = 0;
    let k = 0;
    for (const [i, q] of asked.entries()) {
      const t0 = performance.now();
      const r = await json(base, 'POST', '/v1/ask', { collection: 'squad', question: q.question, mode: 'extractive' });
      const ms = performance.now() - t0;
      if (r.status !== 200) throw new Error(`ask: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      if (r.body.mode !== 'extractive') throw new Error(`ask answered in mode ${r.body.mode}`);
      if (i < warmup) continue;
      wall.push(ms);
      total.push(r.body.timings.totalMs);
      retrieve.push(r.body.timings.retrieveMs);
      rank.push(r.body.timings.compressMs);
      if (containsAnswer(r.body.answer, q.golds)) hits++;
      k = r.body.passages.length;
    }
    const after = os.loadavg().map(round2);
    return {
      paragraphs: paragraphs.length,
      chunks,
      questions: wall.length,
      k,
      embedder: 'use-lite',
      latencyMs: summarise(wall),
      serverMs: { total: summarise(total), retrieve: summarise(retrieve), rank: summarise(rank) },
      top1: round2(hits / Math.max(1, wall.length)),
      targetP50Ms: 60,
      machine: { cpus: os.cpus().length, loadAverage: { before, after } },
    };
  } finally {
    await stack.close();
  }
}
