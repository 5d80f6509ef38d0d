import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { allParagraphs, loadSquad } from '../indexer/sources/squad.js';
import { queueOptions, QUEUES } from '../indexer/pipeline/jobs.js';
import { mean, percentile } from '../infra/stats.js';
import { hasRedisServer } from '../infra/localProcesses.js';
import { buildTestModel } from '../model/builder/buildTestModel.js';
import { indexedCount, json, startServiceStack, until } from './serviceStack.js';

export interface LoadBenchOptions {
  squadFile: string;
  /** Concurrent question clients (1..64). */
  clients?: number;
  /** Length of the measured window in seconds (1..600). */
  seconds?: number;
  /** Paragraphs indexed (and prefilled) before the window: what the questions retrieve from. */
  seedDocuments?: number;
  /** Paragraphs submitted as a batch ingestion at the start of the window, indexed while questions run. */
  batchDocuments?: number;
  log?: (msg: string) => void;
}

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
}

export interface LoadBenchResult {
  clients: number;
  seconds: number;
  models: { generator: string; embedder: string };
  requests: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  ingestion: { submitted: number; indexedDuringWindow: number; documentsPerSecond: number; allIndexedAfterSeconds: number | null };
  /** Peak resident set size of each process over the whole run (kernel's VmHWM), in MiB. */
  peakMemoryMiB: { api: number; worker: number };
  machine: { cpus: number; loadAverage1mAtEnd: number };
}

export function summarise(values: number[]): LatencySummary {
  const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : 0);
  return { p50: round(percentile(values, 50)), p95: round(percentile(values, 95)), p99: round(percentile(values, 99)), mean: round(mean(values)), max: round(percentile(values, 100)) };
}

/** Peak RSS of a live process in MiB, from /proc (Linux). */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

/**
 * Load on a whole deployment over loopback: an API process and a worker process (built `tiny` decoder and
 * `tiny-encoder`, so the numbers measure the service, not a model) on a Redis of their own. After a seed
 * collection is indexed and prefilled, a batch ingestion is submitted and `clients` question clients ask
 * SQuAD questions back to back for `seconds`, while the worker indexes the batch. Bounded: at most 64
 * clients, 600 s, and everything it starts is stopped and deleted at the end.
 */
export async function runLoadBench(opts: LoadBenchOptions): Promise<LoadBenchResult> {
  const clients = Math.min(64, Math.max(1, opts.clients ?? 20));
  const seconds = Math.min(600, Math.max(1, opts.seconds ?? 60));
  const seedN = opts.seedDocuments ?? 100;
  const batchN = opts.batchDocuments ?? 1000;
  const log = opts.log ?? (() => undefined);
  if (!hasRedisServer()) throw new Error('the load bench starts its own redis-server: install it first');

  const squad = await loadSquad(opts.squadFile);
  const paragraphs = allParagraphs(squad);
  if (paragraphs.length < seedN + batchN) throw new Error(`${opts.squadFile} has ${paragraphs.length} paragraphs; need ${seedN + batchN}`);
  const seed = paragraphs.slice(0, seedN);
  const batch = paragraphs.slice(seedN, seedN + batchN);
  const questions = seed.flatMap((p) => p.qas.map((q) => q.question));

  const stack = await startServiceStack({
    prefix: 'rag-load-',
    prepare: (work) => {
      buildTestModel('tiny', path.join(work, 'models', 'test', 'tiny'));
      buildTestModel('tiny-encoder', path.join(work, 'models', 'test', 'tiny-encoder'));
    },
    env: (work) => ({
      MODELS_DIR: path.join(work, 'models'),
      GENERATOR_MODEL: 'test/tiny',
      EMBEDDING_MODEL: 'test/tiny-encoder',
      // Every simulated client shares one address: no per-address cap, and room in the queue for all of them.
      ASK_MAX_PER_CLIENT: '0',
      ASK_MAX_QUEUED: '64',
    }),
  });
  try {
    const { base, api, worker, redisPort } = stack;

    log(`load: seeding ${seedN} paragraphs`);
    const seeded = await json(base, 'POST', '/v1/collections/qa/documents', { documents: seed.map((p) => ({ id: p.id, title: p.title, text: p.context })) });
    if (seeded.status !== 202) throw new Error(`seed ingest: ${seeded.status} ${JSON.stringify(seeded.body)}`);
    await until(async () => (await indexedCount(base, 'qa')) === seedN, 600_000, 'seed indexing');
    // Let the worker's block prefill of the seed finish (one job per document), so the window starts from cached blocks.
    const prefill = new Queue(QUEUES.prefill, queueOptions({ host: '127.0.0.1', port: redisPort }));
    try {
      await until(async () => (await prefill.getJobCounts('completed')).completed === seedN, 600_000, 'seed prefill');
    } finally {
      await prefill.close();
    }

    log(`load: ${clients} clients for ${seconds} s while ${batchN} paragraphs are ingested`);
    const submitted = await json(base, 'POST', '/v1/collections/batch/documents', { documents: batch.map((p) => ({ id: p.id, title: p.title, text: p.context })) });
    if (submitted.status !== 202) throw new Error(`batch ingest: ${submitted.status}`);
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const latencies: number[] = [];
    let errors = 0;
    const errorSamples: string[] = [];
    let next = 0;
    const client = async () => {
      while (performance.now() < deadline) {
        const question = questions[next++ % questions.length];
        const t0 = performance.now();
        try {
          const r = await json(base, 'POST', '/v1/ask', { collection: 'qa', question, k: 3, maxTokens: 16 });
          if (r.status === 200) latencies.push(performance.now() - t0);
          else {
            errors++;
            if (errorSamples.length < 5) errorSamples.push(`${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
          }
        } catch (e) {
          errors++;
          if (errorSamples.length < 5) errorSamples.push((e as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: clients }, client));
    const elapsed = (performance.now() - started) / 1000;
    const indexedDuringWindow = await indexedCount(base, 'batch');
    log(`load: window done; ${indexedDuringWindow}/${batchN} batch paragraphs indexed; waiting for the rest`);
    let allIndexedAfterSeconds: number | null = null;
    try {
      await until(async () => (await indexedCount(base, 'batch')) === batchN, 300_000, 'batch indexing');
      allIndexedAfterSeconds = Math.round((performance.now() - started) / 100) / 10;
    } catch {
      allIndexedAfterSeconds = null;
    }
    const peak = { api: peakRssMiB(api.child.pid!), worker: peakRssMiB(worker.child.pid!) };
    const requests = latencies.length + errors;
    return {
      clients,
      seconds: Math.round(elapsed * 10) / 10,
      models: { generator: 'test/tiny (built)', embedder: 'test/tiny-encoder (built)' },
      requests,
      ok: latencies.length,
      errors,
      errorSamples,
      requestsPerSecond: Math.round((latencies.length / elapsed) * 10) / 10,
      latencyMs: summarise(latencies),
      ingestion: { submitted: batchN, indexedDuringWindow, documentsPerSecond: Math.round((indexedDuringWindow / elapsed) * 10) / 10, allIndexedAfterSeconds },
      peakMemoryMiB: peak,
      machine: { cpus: os.cpus().length, loadAverage1mAtEnd: Math.round(os.loadavg()[0]! * 100) / 100 },
    };
  } finally {
    await stack.close();
  }
}
