import { fuseHybrid, normaliseScores, normalisedScoreFusion, reciprocalRankFusion } from '../../retriever/Fusion.js';

const LEX = [
  { id: 'a', score: 10 },
  { id: 'b', score: 6 },
  { id: 'c', score: 2 },
];
const DENSE = [
  { id: 'c', score: 0.9 },
  { id: 'd', score: 0.7 },
  { id: 'a', score: 0.5 },
];

describe('reciprocalRankFusion', () => {
  test('hand-computed weighted RRF', () => {
    const fused = reciprocalRankFusion(
      [
        { items: LEX, weight: 1 },
        { items: DENSE, weight: 0.5 },
      ],
      60,
    );
    const s = Object.fromEntries(fused.map((f) => [f.id, f.score]));
    expect(s.a).toBeCloseTo(1 / 61 + 0.5 / 63, 15);
    expect(s.b).toBeCloseTo(1 / 62, 15);
    expect(s.c).toBeCloseTo(1 / 63 + 0.5 / 61, 15);
    expect(s.d).toBeCloseTo(0.5 / 62, 15);
    expect(fused.map((f) => f.id)).toEqual(['a', 'c', 'b', 'd']);
  });
});

describe('score-normalised fusion', () => {
  test('min-max: hand-computed weighted sums, absent ids get 0', () => {
    // lex: a 1, b 0.5, c 0; dense: c 1, d 0.5, a 0
    const fused = normalisedScoreFusion(
      [
        { items: LEX, weight: 0.7 },
        { items: DENSE, weight: 0.3 },
      ],
      'minmax',
    );
    const s = Object.fromEntries(fused.map((f) => [f.id, f.score]));
    expect(s.a).toBeCloseTo(0.7, 12);
    expect(s.b).toBeCloseTo(0.35, 12);
    expect(s.c).toBeCloseTo(0.3, 12);
    expect(s.d).toBeCloseTo(0.15, 12);
    expect(fused.map((f) => f.id)).toEqual(['a', 'b', 'c', 'd']);
  });

  test('z-score: mean/sd per list, absent ids get the list minimum', () => {
    const { scores, floor } = normaliseScores(LEX, 'zscore');
    const sd = Math.sqrt(((10 - 6) ** 2 + 0 + (2 - 6) ** 2) / 3);
    expect(scores.get('a')).toBeCloseTo(4 / sd, 12);
    expect(scores.get('b')).toBeCloseTo(0, 12);
    expect(floor).toBeCloseTo(-4 / sd, 12);
    const fused = fuseHybrid(LEX, DENSE, { method: 'zscore', lexicalWeight: 1, denseWeight: 1 });
    const dsd = Math.sqrt((0.2 ** 2 + 0 + 0.2 ** 2) / 3);
    const s = Object.fromEntries(fused.map((f) => [f.id, f.score]));
    expect(s.a).toBeCloseTo(4 / sd - 0.2 / dsd, 12);
    expect(s.d).toBeCloseTo(-4 / sd + 0, 12);
  });

  test('degenerate lists: a single hit or equal scores, and empty lists', () => {
    expect(normaliseScores([{ id: 'x', score: 3 }], 'minmax').scores.get('x')).toBe(1);
    expect(normaliseScores([{ id: 'x', score: 3 }], 'zscore').scores.get('x')).toBe(0);
    expect(fuseHybrid([], DENSE, { method: 'minmax', lexicalWeight: 1, denseWeight: 1 }).map((f) => f.id)).toEqual(['c', 'd', 'a']);
    expect(fuseHybrid([], [], { method: 'rrf', lexicalWeight: 1, denseWeight: 1 })).toEqual([]);
  });

  test('dense weight 0 reproduces the lexical order, lexical weight 0 the dense order', () => {
    expect(fuseHybrid(LEX, DENSE, { method: 'minmax', lexicalWeight: 1, denseWeight: 0 }).slice(0, 3).map((f) => f.id)).toEqual(['a', 'b', 'c']);
    expect(fuseHybrid(LEX, DENSE, { method: 'minmax', lexicalWeight: 0, denseWeight: 1 }).slice(0, 3).map((f) => f.id)).toEqual(['c', 'd', 'a']);
  });
});
