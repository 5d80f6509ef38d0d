import path from 'node:path';
import { env, pipeline, type Tensor } from '@huggingface/transformers';
import { buildTempModel, removeTempModel } from '../../support/tempModel.js';

describe('tiny-encoder preset', () => {
  let dir: string;
  beforeAll(() => {
    dir = buildTempModel('tiny-encoder', { seed: 2 });
  });
  afterAll(() => removeTempModel(dir));

  it("loads in transformers.js's feature-extraction pipeline and gives padding-independent, normalised embeddings", async () => {
    env.allowRemoteModels = false;
    env.localModelPath = path.dirname(dir);
    const extract = await pipeline('feature-extraction', path.basename(dir), { local_files_only: true });
    const short = 'The river rises in the hills.';
    const long = 'Water covers about seventy percent of the surface of the planet and makes up most of every living thing.';
    const batch = (await extract([short, long], { pooling: 'mean', normalize: true })) as Tensor;
    const alone = (await extract([short], { pooling: 'mean', normalize: true })) as Tensor;
    expect(batch.dims).toEqual([2, 64]);
    const v = batch.data as Float32Array;
    const a = alone.data as Float32Array;
    let norm0 = 0;
    let norm1 = 0;
    let dot = 0;
    let maxDiff = 0;
    for (let i = 0; i < 64; i++) {
      norm0 += v[i] ** 2;
      norm1 += v[64 + i] ** 2;
      dot += v[i] * v[64 + i];
      maxDiff = Math.max(maxDiff, Math.abs(v[i] - a[i]));
    }
    expect(Math.abs(norm0 - 1)).toBeLessThanOrEqual(1e-5);
    expect(Math.abs(norm1 - 1)).toBeLessThanOrEqual(1e-5);
    // The short text padded inside a batch embeds like the short text alone: the padding mask works.
    expect(maxDiff).toBeLessThanOrEqual(1e-5);
    // Different texts, different vectors.
    expect(dot).toBeLessThan(0.99);
    await extract.dispose();
  });
});
