import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline, type FeatureExtractionPipeline } from '@huggingface/transformers';
import { EmbedderThread } from '../../../indexer/embedding/EmbedderThread.js';
import { TransformersEmbedder } from '../../../indexer/embedding/TransformersEmbedder.js';
import { createEmbedder } from '../../../indexer/embedding/createEmbedder.js';
import { loadConfig } from '../../../infra/config.js';

/** TransformersEmbedder on the BERT-style `tiny-encoder` built by `rag models build-test` (seeded random weights, hidden 64). */
const RAG_CLI = fileURLToPath(new URL('../../../services/cli/rag.js', import.meta.url));
const MODEL = 'test/tiny-encoder';
const TEXTS = [
  'Super Bowl 50 was an American football game.',
  'Hi.',
  'The Normans gave their name to Normandy, a region in France, in the 10th and 11th centuries.',
  'hello world',
];

let modelsDir: string;
let embedder: TransformersEmbedder;
beforeAll(async () => {
  modelsDir = await mkdtemp(path.join(os.tmpdir(), 'models-'));
  execFileSync(process.execPath, [RAG_CLI, 'models', 'build-test', 'tiny-encoder', '--out', path.join(modelsDir, MODEL)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  embedder = await TransformersEmbedder.create({ model: MODEL, modelsDir, batchSize: 3 });
});
afterAll(async () => {
  await embedder?.close();
  await rm(modelsDir, { recursive: true, force: true });
});

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

describe('TransformersEmbedder', () => {
  test('hidden-size unit vectors and an id naming the model', async () => {
    expect(embedder.dim).toBe(64);
    expect(embedder.id).toBe(`transformers:${MODEL}`);
    expect(embedder.kind).toBe('transformers');
    const vs = await embedder.embed(TEXTS);
    expect(vs.length).toBe(TEXTS.length);
    for (const v of vs) {
      expect(v.length).toBe(64);
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    }
    // Distinct texts give distinct vectors (the model is not degenerate).
    expect(maxAbsDiff(vs[0], vs[2])).toBeGreaterThan(1e-3);
  });

  test('deterministic, and the same text gets the same vector in different batches', async () => {
    const batched = await embedder.embed(TEXTS);
    const again = await embedder.embed(TEXTS);
    batched.forEach((v, i) => expect(Array.from(again[i])).toEqual(Array.from(v)));
    // Alone, the text is not padded; in the batch it is padded to the longest text.
    for (let i = 0; i < TEXTS.length; i++) {
      const [alone] = await embedder.embed([TEXTS[i]]);
      expect(maxAbsDiff(alone, batched[i])).toBeLessThan(1e-5);
    }
  });

  test('equals mean pooling of the token states, computed independently in float64', async () => {
    const raw = (await pipeline('feature-extraction', path.join(modelsDir, MODEL), { local_files_only: true, dtype: 'fp32' })) as FeatureExtractionPipeline;
    try {
      for (const text of TEXTS) {
        const states = await raw(text, { pooling: 'none' });
        const [, tokens, hidden] = states.dims;
        const data = states.data as Float32Array;
        const mean = new Float64Array(hidden);
        for (let t = 0; t < tokens; t++) for (let d = 0; d < hidden; d++) mean[d] += data[t * hidden + d] / tokens;
        const norm = Math.sqrt(mean.reduce((s, x) => s + x * x, 0));
        const reference = Float32Array.from(mean, (x) => x / norm);
        const [v] = await embedder.embed([text]);
        expect(maxAbsDiff(v, reference)).toBeLessThan(1e-5);
      }
    } finally {
      await raw.dispose();
    }
  });

  test('createEmbedder loads it from MODELS_DIR, and EmbedderThread gives the same vectors', async () => {
    const config = loadConfig({ MODELS_DIR: modelsDir, EMBEDDING_MODEL: MODEL, LOG_LEVEL: 'silent' });
    const viaConfig = await createEmbedder(config);
    const thread = await EmbedderThread.start(config);
    try {
      expect(viaConfig.kind).toBe('transformers');
      expect(thread.id).toBe(embedder.id);
      expect(thread.dim).toBe(64);
      const reference = await embedder.embed(TEXTS);
      const [a, b] = [await viaConfig.embed(TEXTS), await thread.embed(TEXTS)];
      reference.forEach((r, i) => {
        expect(maxAbsDiff(a[i], r)).toBeLessThan(1e-6);
        expect(maxAbsDiff(b[i], r)).toBeLessThan(1e-6);
      });
    } finally {
      await thread.close();
      await viaConfig.close();
    }
  });
});
