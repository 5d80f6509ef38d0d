import { UseLiteEmbedder } from '../../indexer/embedding/UseLiteEmbedder.js';
import { VectorIndex, defaultEf } from '../../retriever/VectorIndex.js';
import { squadSample } from '../indexer/embedding/squadSample.js';
import { exactTopK } from './seededVectors.js';

/** Recall of the HNSW index against brute force on real USE-lite vectors of SQuAD sentences, queried with SQuAD questions. */
describe('VectorIndex recall on real vectors', () => {
  test('recall@10 >= 0.95 at the default ef', async () => {
    const { sentences, questions } = await squadSample(1200, 150);
    const embedder = await UseLiteEmbedder.create();
    const [sv, qv] = [await embedder.embed(sentences), await embedder.embed(questions)];
    await embedder.close();
    expect(sv.length).toBe(1200);
    expect(qv.length).toBe(150);

    const entries = sv.map((v, i) => [`s${i}`, v] as [string, Float32Array]);
    const index = VectorIndex.build(512, entries);
    expect(index.searchEf).toBe(defaultEf(1200));
    let found = 0;
    for (const q of qv) {
      const exact = new Set(exactTopK(q, entries, 10).map((h) => h.key));
      const hits = index.search(q, 10);
      expect(hits.length).toBe(10);
      found += hits.filter((h) => exact.has(h.key)).length;
    }
    const recall = found / (qv.length * 10);
    expect(recall).toBeGreaterThanOrEqual(0.95);
    // Embedding is ~25 s of CPU; the margin is for a machine shared with other test processes.
  }, 300_000);
});
