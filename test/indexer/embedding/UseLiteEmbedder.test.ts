import { USE_LITE_DIM, USE_LITE_ID, UseLiteEmbedder } from '../../../indexer/embedding/UseLiteEmbedder.js';
import { lengthBatches } from '../../../indexer/embedding/lengthBatches.js';
import { squadSample } from './squadSample.js';

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

let embedder: UseLiteEmbedder;
beforeAll(async () => {
  embedder = await UseLiteEmbedder.create({ batchSize: 8 });
});
afterAll(async () => {
  await embedder.close();
});

describe('lengthBatches', () => {
  test('groups indices by text length and covers every index once', () => {
    const texts = ['ccc', 'a', 'bbbbb', 'dd', '', 'eeee'];
    expect(lengthBatches(texts, 4)).toEqual([
      [4, 1, 3, 0],
      [5, 2],
    ]);
    expect(() => lengthBatches(texts, 0)).toThrow(RangeError);
  });
});

describe('UseLiteEmbedder', () => {
  test('512-d unit vectors with a stable id', async () => {
    const [v] = await embedder.embed(['The quick brown fox jumps over the lazy dog.']);
    expect(embedder.dim).toBe(USE_LITE_DIM);
    expect(embedder.id).toBe(USE_LITE_ID);
    expect(embedder.kind).toBe('use-lite');
    expect(v).toBeInstanceOf(Float32Array);
    expect(v.length).toBe(512);
    expect(Math.sqrt(dot(v, v))).toBeCloseTo(1, 5);
  });

  test('deterministic: the same text gives the same vector', async () => {
    const text = 'Super Bowl 50 was an American football game to determine the champion of the NFL.';
    const [a] = await embedder.embed([text]);
    const [b] = await embedder.embed([text]);
    expect(Array.from(b)).toEqual(Array.from(a));
  });

  test('a paraphrase is closer than an unrelated sentence', async () => {
    const [base, para, unrelated] = await embedder.embed([
      'The Broncos defeated the Panthers to win the Super Bowl.',
      'Denver beat Carolina and won the Super Bowl.',
      'Photosynthesis converts light energy into chemical energy in plants.',
    ]);
    expect(dot(base, para)).toBeGreaterThan(dot(base, unrelated) + 0.2);
    const [q, answer, other] = await embedder.embed([
      'Where did Super Bowl 50 take place?',
      "The game was played on February 7, 2016, at Levi's Stadium in the San Francisco Bay Area at Santa Clara, California.",
      'The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in France.',
    ]);
    expect(dot(q, answer)).toBeGreaterThan(dot(q, other));
  });

  test('batching by length restores input order', async () => {
    const { sentences } = await squadSample(40, 0);
    const mixed = [...sentences.slice(0, 20), '', 'Short.', ...sentences.slice(20)];
    const batched = await embedder.embed(mixed);
    expect(batched.length).toBe(mixed.length);
    // Embedding each text alone is the order-free reference.
    for (const i of [0, 7, 20, 21, 22, 30, mixed.length - 1]) {
      const [alone] = await embedder.embed([mixed[i]]);
      for (let d = 0; d < 512; d++) expect(Math.abs(batched[i][d] - alone[d])).toBeLessThan(1e-5);
    }
  });

  test('an empty input gives an empty output; empty strings embed alone or in any batch alike', async () => {
    expect(await embedder.embed([])).toEqual([]);
    const [alone] = await embedder.embed(['']);
    const [, mixed] = await embedder.embed(['A sentence with words.', '']);
    expect(Math.sqrt(dot(alone, alone))).toBeCloseTo(1, 5);
    for (let d = 0; d < 512; d++) expect(Math.abs(alone[d] - mixed[d])).toBeLessThan(1e-5);
  });
});
