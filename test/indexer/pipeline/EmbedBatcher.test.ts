import type { Embedder } from '../../../indexer/embedding/Embedder.js';
import { UseLiteEmbedder } from '../../../indexer/embedding/UseLiteEmbedder.js';
import { EmbedBatcher } from '../../../indexer/pipeline/EmbedBatcher.js';

/** The real USE-lite embedder, with the size of every call it receives written down (what batching is about). */
class Observed implements Embedder {
  readonly calls: number[] = [];
  constructor(private readonly inner: Embedder) {}
  get id(): string {
    return this.inner.id;
  }
  get dim(): number {
    return this.inner.dim;
  }
  get kind(): Embedder['kind'] {
    return this.inner.kind;
  }
  embed(texts: string[]): Promise<Float32Array[]> {
    this.calls.push(texts.length);
    return this.inner.embed(texts);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const TEXTS = Array.from({ length: 20 }, (_, i) => `Sentence number ${i} talks about ${['rivers', 'bridges', 'markets', 'schools'][i % 4]} in the old town.`);
const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('EmbedBatcher (over the real USE-lite embedder)', () => {
  let use: UseLiteEmbedder;
  let direct: Float32Array[];

  beforeAll(async () => {
    use = await UseLiteEmbedder.create();
    direct = await use.embed(TEXTS);
  }, 60_000);
  afterAll(async () => use?.close());

  it('coalesces concurrent calls into model batches of at most maxBatch, each caller getting its own vectors in order', async () => {
    const inner = new Observed(use);
    const batcher = new EmbedBatcher(inner, { maxBatch: 8, maxWaitMs: 50 });
    // Ten callers of two texts each, all at once (as ten embed jobs would).
    const calls = Array.from({ length: 10 }, (_, i) => batcher.embed(TEXTS.slice(2 * i, 2 * i + 2)));
    const results = await Promise.all(calls);
    expect(inner.calls).toEqual([8, 8, 4]);
    results.forEach((vs, i) => {
      expect(vs).toHaveLength(2);
      vs.forEach((v, j) => expect(maxDiff(v, direct[2 * i + j]!)).toBeLessThanOrEqual(1e-5));
    });
    expect(batcher.id).toBe(use.id);
    expect(batcher.dim).toBe(use.dim);
  });

  it('a lone small call waits at most maxWaitMs; a call larger than maxBatch goes alone; an empty call costs nothing', async () => {
    const inner = new Observed(use);
    const batcher = new EmbedBatcher(inner, { maxBatch: 4, maxWaitMs: 20 });
    const [one] = await batcher.embed([TEXTS[3]!]);
    expect(maxDiff(one!, direct[3]!)).toBeLessThanOrEqual(1e-5);
    expect(await batcher.embed([])).toEqual([]);
    const big = await batcher.embed(TEXTS.slice(0, 10));
    expect(big).toHaveLength(10);
    expect(inner.calls).toEqual([1, 10]);
  });

  it('a failing model call rejects every caller of that batch, and later calls still reach the model (nothing is stuck behind it)', async () => {
    const broken = await UseLiteEmbedder.create();
    await broken.close();
    const observed = new Observed(broken);
    const failing = new EmbedBatcher(observed, { maxBatch: 8, maxWaitMs: 10 });
    const outcomes = await Promise.allSettled([failing.embed([TEXTS[0]!]), failing.embed([TEXTS[1]!, TEXTS[2]!])]);
    for (const o of outcomes) expect(o).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: expect.stringMatching(/closed/) }) });
    expect(observed.calls).toEqual([3]);
    await expect(failing.embed([TEXTS[4]!])).rejects.toThrow(/closed/);
    expect(observed.calls).toEqual([3, 1]);
  }, 60_000);
});
