import { createHash } from 'node:crypto';
import type { Embedder } from '../indexer/embedding/Embedder.js';
import { lengthBatches } from '../indexer/embedding/lengthBatches.js';
import { USE_LITE_DIM, UseLiteEmbedder } from '../indexer/embedding/UseLiteEmbedder.js';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { allParagraphs, allQueries, loadSquad } from '../indexer/sources/squad.js';
import { writeFileAtomic } from '../infra/atomicWrite.js';

/**
 * Raw USE-lite vectors for SQuAD paragraphs and questions, cached on disk: embedding the dev set
 * takes minutes on the single-threaded WASM backend, so evaluation runs reuse the cache.
 * The cache file name carries a hash of the embedded texts, so a different corpus never reads stale vectors.
 */
/** What the cache needs of an embedder (UseLiteEmbedder in practice). */
export type TextEmbedder = Pick<Embedder, 'embed'>;

export const USE_DIMENSION = USE_LITE_DIM;

function textsKey(texts: string[]): string {
  const h = createHash('sha256');
  for (const t of texts) h.update(t).update('\u0000');
  return h.digest('hex').slice(0, 16);
}

/** Embed in length-sorted batches (the model pads a batch to its longest text), results in input order. */
export async function embedAll(
  embedder: TextEmbedder,
  texts: string[],
  batchSize = 32,
  onProgress?: (done: number, total: number) => void,
): Promise<Float32Array[]> {
  const out = new Array<Float32Array>(texts.length);
  let done = 0;
  for (const idx of lengthBatches(texts, batchSize)) {
    const vecs = await embedder.embed(idx.map((j) => texts[j]!));
    idx.forEach((j, r) => (out[j] = vecs[r]!));
    done += idx.length;
    onProgress?.(done, texts.length);
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
  await writeFileAtomic(file, Buffer.from(flat.buffer, flat.byteOffset, flat.byteLength));
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
  const get = () => (embedder ??= UseLiteEmbedder.create());
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
