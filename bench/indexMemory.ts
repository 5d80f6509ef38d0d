/**
 * Memory of the search indexes every API process holds, per chunk, for the capacity plan:
 *
 * - `--kind hnsw --dim 384 --vectors 32768`: a `VectorIndex` (hnswlib, M 16, cosine, plus the key maps the class
 *   keeps) of seeded random unit vectors with chunk-id-like keys. Memory is the slope between N/2 and N vectors
 *   (both fill the doubling capacity exactly, so no half-empty allocation is counted and fixed costs drop out):
 *   native resident growth (RSS minus V8's committed heap) plus live JavaScript objects. hnswlib allocates every element's link lists at their maximum size (2M ids on level 0, M above), so the
 *   memory depends on M and the dimension, not on efConstruction: a small one only makes the build fast.
 * - `--kind bm25 --squad file --copies 4`: a `Bm25Index` of SQuAD paragraphs (about one chunk each), the set added
 *   `copies` times under distinct ids; JavaScript heap growth per chunk.
 *
 * Run in a process of its own (the scale bench spawns one per measurement, with --expose-gc) so nothing else moves
 * its memory. Prints JSON only.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { allParagraphs, loadSquad } from '../indexer/sources/squad.js';
import { Bm25Index } from '../retriever/Bm25Index.js';
import { VectorIndex } from '../retriever/VectorIndex.js';

export interface VectorMemoryResult {
  kind: 'hnsw';
  dim: number;
  vectors: number;
  M: number;
  /** Memory per added vector from N/2 to N vectors (after GC): native resident growth plus live JS heap growth. */
  residentBytesPerVector: number;
  /** Of which JavaScript heap (the key <-> label maps). */
  heapBytesPerVector: number;
  /** The index's snapshot on disk (hnswlib graph + vectors, key sidecar) per vector. */
  snapshotBytesPerVector: number;
  /** Level-0 record hnswlib allocates per element: links (2M ids + count), the vector, the label. */
  level0RecordBytes: number;
  buildSeconds: number;
}

export interface Bm25MemoryResult {
  kind: 'bm25';
  chunks: number;
  meanChunkChars: number;
  /** JavaScript heap growth per indexed chunk (after GC). */
  heapBytesPerChunk: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}

const settle = (): void => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc: memory is measured after garbage collection');
  gc();
};

async function hnsw(dim: number, n: number): Promise<VectorMemoryResult> {
  if (!(Number.isInteger(dim) && dim > 0)) throw new Error('--dim must be a positive integer');
  if (!Number.isInteger(n) || n < 2048 || (n & (n - 1)) !== 0) throw new Error('--vectors must be a power of two >= 2048 (the index capacity doubles from 1024)');
  // Deterministic pseudo-random unit vectors (xorshift): the graph's size does not depend on the values' meaning.
  let s = 0x9e3779b9;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 0x100000000) * 2 - 1;
  };
  const vec = new Float32Array(dim);
  const index = new VectorIndex(dim, { efConstruction: 16 });
  const add = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      let norm = 0;
      for (let d = 0; d < dim; d++) norm += (vec[d] = next()) ** 2;
      for (let d = 0; d < dim; d++) vec[d] = vec[d]! / Math.sqrt(norm);
      // Chunk ids are 24 hex characters.
      index.upsert(crypto.createHash('sha256').update(String(i)).digest('hex').slice(0, 24), vec);
    }
  };
  const t0 = performance.now();
  add(0, n / 2);
  settle();
  const half = process.memoryUsage();
  add(n / 2, n);
  const buildSeconds = (performance.now() - t0) / 1000;
  settle();
  const full = process.memoryUsage();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rag-vecmem-'));
  let snapshotBytes = 0;
  try {
    await index.save(dir);
    for (const f of fs.readdirSync(dir)) snapshotBytes += fs.statSync(path.join(dir, f)).size;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const M = index.params.M;
  return {
    kind: 'hnsw',
    dim,
    vectors: n,
    M,
    // Native growth (resident minus V8's committed heap, whose size moves in large steps) plus live JS objects.
    residentBytesPerVector: Math.round((full.rss - full.heapTotal - (half.rss - half.heapTotal) + (full.heapUsed - half.heapUsed)) / (n / 2)),
    heapBytesPerVector: Math.round((full.heapUsed - half.heapUsed) / (n / 2)),
    snapshotBytesPerVector: Math.round(snapshotBytes / n),
    level0RecordBytes: 2 * M * 4 + 4 + dim * 4 + 8,
    buildSeconds: Math.round(buildSeconds * 10) / 10,
  };
}

async function bm25(squadFile: string, copies: number): Promise<Bm25MemoryResult> {
  const paragraphs = allParagraphs(await loadSquad(squadFile));
  const index = new Bm25Index();
  settle();
  const before = process.memoryUsage().heapUsed;
  for (let k = 0; k < copies; k++) for (const p of paragraphs) index.add(`${k}-${p.id}`, p.context, p.title);
  settle();
  const after = process.memoryUsage().heapUsed;
  const chunks = paragraphs.length * copies;
  return {
    kind: 'bm25',
    chunks,
    meanChunkChars: Math.round(paragraphs.reduce((a, p) => a + p.context.length, 0) / paragraphs.length),
    heapBytesPerChunk: Math.round((after - before) / chunks),
  };
}

async function main(): Promise<VectorMemoryResult | Bm25MemoryResult> {
  const kind = arg('kind', 'hnsw');
  if (kind === 'hnsw') return hnsw(Number(arg('dim', '384')), Number(arg('vectors', '32768')));
  if (kind === 'bm25') return bm25(arg('squad', path.resolve('..', 'shared', 'data', 'squad-v1.1-dev.json')), Number(arg('copies', '4')));
  throw new Error(`--kind ${kind}: hnsw or bm25`);
}

main().then(
  (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
