import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import hnswlib from 'hnswlib-node';
import { allParagraphs, allQueries, loadSquad } from '../indexer/sources/squad.js';
import { UseLiteEmbedder } from '../indexer/embedding/UseLiteEmbedder.js';
import { DEFAULT_HNSW_PARAMS, VectorIndex, defaultEf } from '../retriever/VectorIndex.js';
import { hnswBenchVectors, squadSentences } from './hnswVectors.js';

const { BruteforceSearch } = hnswlib;

/**
 * HNSW against exact search on real USE-lite vectors of the SQuAD dev set, and on a larger set
 * made from them by small random perturbations. Reports build speed, recall@k and queries/s per
 * ef, snapshot size and load time, and the embedder's own throughput for comparison.
 */
export interface HnswBenchOptions {
  squadFile?: string;
  /** Shared USE-lite vector cache (bench/squadVectors.ts layout). */
  cacheDir?: string;
  /** Where snapshots are written for the size and load-time measurements. */
  workDir?: string;
  /** Size of the perturbed set; 0 skips it. */
  scale?: number;
  /** Norm of the Gaussian perturbation added to a real vector before renormalising. */
  noise?: number;
  efs?: number[];
  k?: number;
  /** Held-out questions used as queries (not indexed). */
  queries?: number;
  M?: number;
  efConstruction?: number;
  /** Texts per kind for the embedder throughput measurement; 0 skips it. */
  embedderSample?: number;
  seed?: number;
  log?: (msg: string) => void;
}

export interface SearchPoint {
  ef: number;
  recallAtK: number;
  qps: number;
  meanMs: number;
}

export interface DatasetResult {
  name: string;
  vectors: number;
  queries: number;
  dim: number;
  build: { seconds: number; insertsPerSec: number };
  exact: { qps: number; crossChecked: number; agreeing: number };
  search: SearchPoint[];
  snapshot: { bytes: number; saveSeconds: number; loadSeconds: number; loadedMatches: boolean };
}

export interface HnswBenchResult {
  params: { M: number; efConstruction: number; k: number };
  embedder: { id: string; textsPerSec: Record<'paragraphs' | 'sentences' | 'questions', number>; sample: number } | null;
  datasets: DatasetResult[];
  /** The targets this benchmark checks: recall at the default ef, and index build speed versus the embedder. */
  targets: { dataset: string; defaultEf: number; recallAtDefaultEf: number | null; recallTargetMet: boolean; buildVsEmbedder: number | null }[];
}

export async function runHnswBench(opts: HnswBenchOptions = {}): Promise<HnswBenchResult> {
  const squadFile = opts.squadFile ?? '../shared/data/squad-v1.1-dev.json';
  const cacheDir = opts.cacheDir ?? '.tmp/squad-use';
  const workDir = opts.workDir ?? '.tmp/hnsw-bench';
  const k = opts.k ?? 10;
  const efs = opts.efs ?? [16, 32, 64, 128, 256];
  const M = opts.M ?? DEFAULT_HNSW_PARAMS.M;
  const efConstruction = opts.efConstruction ?? DEFAULT_HNSW_PARAMS.efConstruction;
  const log = opts.log ?? (() => {});
  const rng = seeded(opts.seed ?? 7);

  const embedder = opts.embedderSample === 0 ? null : await embedderThroughput(squadFile, opts.embedderSample ?? 128);
  if (embedder) log(`embedder ${embedder.id}: ${JSON.stringify(embedder.textsPerSec)} texts/s`);

  let lastLog = 0;
  const vecs = await hnswBenchVectors(squadFile, cacheDir, (kind, done, total) => {
    if (Date.now() - lastLog > 10_000 || done === total) {
      lastLog = Date.now();
      log(`vectors ${kind} ${done}/${total}`);
    }
  });
  const dim = vecs.dim;

  // Hold out evenly spaced questions as queries; everything else is the real corpus.
  const nq = Math.min(opts.queries ?? 1000, vecs.questions.length);
  const step = vecs.questions.length / nq;
  const heldOut = new Set(Array.from({ length: nq }, (_, i) => Math.floor(i * step)));
  const queries = [...heldOut].map((i) => vecs.questions[i]);
  const corpus = [...vecs.paragraphs, ...vecs.sentences, ...vecs.questions.filter((_, i) => !heldOut.has(i))];

  const datasets: DatasetResult[] = [];
  datasets.push(await benchDataset('squad-real', corpus, queries, dim, { M, efConstruction, efs, k, workDir, log }));

  const scale = opts.scale ?? 200_000;
  if (scale > 0) {
    const noise = opts.noise ?? 0.3;
    const scaled = perturbedCorpus(corpus, scale, noise, rng);
    datasets.push(await benchDataset(`squad-perturbed-${scale}`, scaled, queries, dim, { M, efConstruction, efs, k, workDir, log }));
  }

  return {
    params: { M, efConstruction, k },
    embedder,
    datasets,
    targets: datasets.map((d) => {
      const ef = defaultEf(d.vectors);
      const atDefault = d.search.find((s) => s.ef === ef)?.recallAtK ?? null;
      return {
        dataset: d.name,
        defaultEf: ef,
        recallAtDefaultEf: atDefault,
        recallTargetMet: atDefault !== null && atDefault >= 0.99,
        // Chunks are paragraph-sized, so the paragraph rate is what ingestion runs at.
        buildVsEmbedder: embedder ? round(d.build.insertsPerSec / embedder.textsPerSec.paragraphs, 1) : null,
      };
    }),
  };
}

interface DatasetParams {
  M: number;
  efConstruction: number;
  efs: number[];
  k: number;
  workDir: string;
  log: (msg: string) => void;
}

async function benchDataset(
  name: string,
  corpus: Float32Array[],
  queries: Float32Array[],
  dim: number,
  p: DatasetParams,
): Promise<DatasetResult> {
  p.log(`${name}: exact top-${p.k} for ${queries.length} queries over ${corpus.length} vectors`);
  // Ground truth from hnswlib's linear scan (native, ~7x faster than a JS loop), cross-checked
  // against a plain JS scan on the first queries so the truth does not rest on hnswlib alone.
  const brute = new BruteforceSearch('ip', dim);
  brute.initIndex(corpus.length);
  corpus.forEach((v, i) => brute.addPoint(Array.from(v), i));
  const t0 = performance.now();
  const truth = queries.map((q) => new Set(brute.searchKnn(Array.from(q), p.k).neighbors));
  const exactSeconds = (performance.now() - t0) / 1000;
  const matrix = new Float32Array(corpus.length * dim);
  corpus.forEach((v, i) => matrix.set(v, i * dim));
  const crossChecked = Math.min(20, queries.length);
  let agreeing = 0;
  for (let qi = 0; qi < crossChecked; qi++) {
    const js = exactTopK(matrix, dim, queries[qi], p.k);
    if ([...js].every((i) => truth[qi].has(i))) agreeing++;
  }

  p.log(`${name}: building HNSW (M ${p.M}, efConstruction ${p.efConstruction})`);
  const index = new VectorIndex(dim, { M: p.M, efConstruction: p.efConstruction, initialCapacity: corpus.length });
  const b0 = performance.now();
  let lastLog = Date.now();
  for (let i = 0; i < corpus.length; i++) {
    index.upsert(String(i), corpus[i]);
    if (Date.now() - lastLog > 30_000) {
      lastLog = Date.now();
      p.log(`${name}: inserted ${i + 1}/${corpus.length}`);
    }
  }
  const buildSeconds = (performance.now() - b0) / 1000;

  // Warm caches and the JIT before timing.
  for (const q of queries.slice(0, 100)) index.search(q, p.k);
  const search: SearchPoint[] = [];
  for (const ef of p.efs) {
    let found = 0;
    const s0 = performance.now();
    const results = queries.map((q) => index.search(q, p.k, { ef }));
    const seconds = (performance.now() - s0) / 1000;
    results.forEach((hits, qi) => {
      const want = truth[qi];
      for (const h of hits) if (want.has(Number(h.key))) found++;
    });
    search.push({
      ef,
      recallAtK: round(found / (queries.length * p.k), 4),
      qps: Math.round(queries.length / seconds),
      meanMs: round((seconds * 1000) / queries.length, 3),
    });
    p.log(`${name}: ef ${ef} ${JSON.stringify(search[search.length - 1])}`);
  }

  const dir = path.join(p.workDir, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const w0 = performance.now();
  await index.save(dir);
  const saveSeconds = (performance.now() - w0) / 1000;
  let bytes = 0;
  for (const f of await readdir(dir)) bytes += (await stat(path.join(dir, f))).size;
  const l0 = performance.now();
  const loaded = await VectorIndex.load(dir);
  const loadSeconds = (performance.now() - l0) / 1000;
  const sample = queries.slice(0, 50);
  const loadedMatches = sample.every((q) => JSON.stringify(loaded.search(q, p.k)) === JSON.stringify(index.search(q, p.k)));
  await rm(dir, { recursive: true, force: true });

  return {
    name,
    vectors: corpus.length,
    queries: queries.length,
    dim,
    build: { seconds: round(buildSeconds, 1), insertsPerSec: Math.round(corpus.length / buildSeconds) },
    exact: { qps: round(queries.length / exactSeconds, 1), crossChecked, agreeing },
    search,
    snapshot: { bytes, saveSeconds: round(saveSeconds, 2), loadSeconds: round(loadSeconds, 2), loadedMatches },
  };
}

/** Exact top-k labels by inner product (inputs are unit vectors): the ground truth. */
function exactTopK(matrix: Float32Array, dim: number, q: Float32Array, k: number): Set<number> {
  const n = matrix.length / dim;
  const best: { i: number; s: number }[] = [];
  let floor = -Infinity;
  for (let i = 0; i < n; i++) {
    let s = 0;
    const off = i * dim;
    for (let d = 0; d < dim; d++) s += matrix[off + d] * q[d];
    if (best.length < k || s > floor) {
      best.push({ i, s });
      best.sort((a, b) => b.s - a.s);
      if (best.length > k) best.pop();
      floor = best[best.length - 1].s;
    }
  }
  return new Set(best.map((b) => b.i));
}

/**
 * `scale` vectors: the real ones, then copies of them with Gaussian noise of expected norm `noise`,
 * renormalised. Keeps the real vectors' anisotropy and clustering, which uniform random vectors lack.
 */
function perturbedCorpus(real: Float32Array[], scale: number, noise: number, rng: () => number): Float32Array[] {
  const dim = real[0].length;
  const sigma = noise / Math.sqrt(dim);
  const out: Float32Array[] = real.slice(0, scale);
  for (let i = out.length; i < scale; i++) {
    const base = real[i % real.length];
    const v = new Float32Array(dim);
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      v[d] = base[d] + sigma * gaussian(rng);
      norm += v[d] * v[d];
    }
    const inv = 1 / Math.sqrt(norm);
    for (let d = 0; d < dim; d++) v[d] *= inv;
    out.push(v);
  }
  return out;
}

/** USE-lite's raw texts/s on evenly spaced samples of each kind (one warm-up call first). */
export async function embedderThroughput(squadFile: string, sample: number): Promise<NonNullable<HnswBenchResult['embedder']>> {
  const ds = await loadSquad(squadFile);
  const pick = (xs: string[]) => {
    const step = Math.max(1, Math.floor(xs.length / sample));
    return xs.filter((_, i) => i % step === 0).slice(0, sample);
  };
  const texts = {
    paragraphs: pick(allParagraphs(ds).map((p) => p.context)),
    sentences: pick(await squadSentences(squadFile)),
    questions: pick(allQueries(ds).map((q) => q.question)),
  };
  const e = await UseLiteEmbedder.create();
  try {
    await e.embed(texts.questions.slice(0, 8)); // warm-up
    const rate = async (xs: string[]) => {
      const t0 = performance.now();
      await e.embed(xs);
      return round(xs.length / ((performance.now() - t0) / 1000), 1);
    };
    return {
      id: e.id,
      sample,
      textsPerSec: { paragraphs: await rate(texts.paragraphs), sentences: await rate(texts.sentences), questions: await rate(texts.questions) },
    };
  } finally {
    await e.close();
  }
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
}

function gaussian(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(rng())) * Math.cos(2 * Math.PI * rng());
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

// `node dist/bench/hnsw.js [--scale N] [--queries N] [--ef 16,32,...] [--noise X]`: JSON on stdout, progress on stderr.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: {
      squad: { type: 'string' },
      cache: { type: 'string' },
      scale: { type: 'string' },
      queries: { type: 'string' },
      ef: { type: 'string' },
      noise: { type: 'string' },
      M: { type: 'string' },
      'ef-construction': { type: 'string' },
    },
  });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  runHnswBench({
    squadFile: values.squad,
    cacheDir: values.cache,
    scale: num(values.scale),
    queries: num(values.queries),
    efs: values.ef?.split(',').map(Number),
    noise: num(values.noise),
    M: num(values.M),
    efConstruction: num(values['ef-construction']),
    log: (m) => process.stderr.write(`${new Date().toISOString()} ${m}\n`),
  })
    .then((r) => {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      process.stderr.write(`${new Date().toISOString()} done\n`);
    })
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
}
