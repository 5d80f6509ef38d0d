import { pathToFileURL } from 'node:url';
import { allParagraphs, loadSquad } from '../indexer/sources/squad.js';
import { UseLiteEmbedder } from '../indexer/embedding/UseLiteEmbedder.js';
import { splitSentences } from '../indexer/text/SentenceSplitter.js';
import { cachedEmbeddings, squadVectors } from './squadVectors.js';

/**
 * Real USE-lite vectors of the SQuAD dev set for the HNSW benchmark: every paragraph, every
 * sentence of every paragraph, every question. Paragraph and question vectors share the eval
 * cache (bench/squadVectors.ts); sentence vectors are added to the same cache directory.
 */
export interface HnswBenchVectors {
  dim: number;
  paragraphs: Float32Array[];
  sentences: Float32Array[];
  questions: Float32Array[];
}

export async function squadSentences(squadFile: string): Promise<string[]> {
  const ds = await loadSquad(squadFile);
  return allParagraphs(ds).flatMap((p) => splitSentences(p.context).map((s) => p.context.slice(s.start, s.end)));
}

export async function sentenceVectors(
  squadFile: string,
  cacheDir: string,
  onProgress?: (done: number, total: number) => void,
): Promise<Float32Array[]> {
  return cachedEmbeddings(cacheDir, 'sentences', await squadSentences(squadFile), () => UseLiteEmbedder.create(), onProgress);
}

export async function hnswBenchVectors(
  squadFile: string,
  cacheDir: string,
  onProgress?: (kind: string, done: number, total: number) => void,
): Promise<HnswBenchVectors> {
  const { paragraphs, questions } = await squadVectors(squadFile, cacheDir, onProgress);
  const sentences = await sentenceVectors(squadFile, cacheDir, (d, t) => onProgress?.('sentences', d, t));
  const p = [...paragraphs.values()];
  return { dim: p[0]?.length ?? 0, paragraphs: p, sentences, questions: [...questions.values()] };
}

// `node dist/bench/hnswVectors.js [squad.json] [cacheDir]` fills the cache in the background once.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const squad = process.argv[2] ?? '../shared/data/squad-v1.1-dev.json';
  const cache = process.argv[3] ?? '.tmp/squad-use';
  const t0 = Date.now();
  let last = 0;
  hnswBenchVectors(squad, cache, (kind, done, total) => {
    if (Date.now() - last > 10000 || done === total) {
      last = Date.now();
      process.stderr.write(`${kind} ${done}/${total} ${((Date.now() - t0) / 1000).toFixed(0)}s\n`);
    }
  })
    .then((v) => process.stderr.write(`done: ${v.paragraphs.length} paragraphs, ${v.sentences.length} sentences, ${v.questions.length} questions\n`))
    .catch((err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
}
