import { answerRetained, containsAnswer, exactMatch, mean, normalizeAnswer, rankedDocuments, reciprocalRankAtK, recallAtK, spanCoverage, squadScores, tokenF1 } from '../../eval/metrics.js';

describe('retrieval metrics', () => {
  const ranked = ['p3', 'p7', 'p1', 'p9', 'p2'];

  test('recall@k with one and several relevant ids', () => {
    expect(recallAtK(ranked, ['p1'], 1)).toBe(0);
    expect(recallAtK(ranked, ['p1'], 3)).toBe(1);
    expect(recallAtK(ranked, ['p1', 'p2', 'p4'], 5)).toBeCloseTo(2 / 3, 15);
    expect(recallAtK(ranked, new Set(['p3']), 1)).toBe(1);
    // k beyond the list, k = 0, duplicates in the ranking are not double-counted.
    expect(recallAtK(ranked, ['p2'], 100)).toBe(1);
    expect(recallAtK(ranked, ['p3'], 0)).toBe(0);
    expect(recallAtK(['x', 'x'], ['x', 'y'], 2)).toBe(0.5);
    expect(() => recallAtK(ranked, [], 5)).toThrow(RangeError);
  });

  test('reciprocal rank at k', () => {
    expect(reciprocalRankAtK(ranked, ['p1'], 10)).toBeCloseTo(1 / 3, 15);
    expect(reciprocalRankAtK(ranked, ['p1'], 2)).toBe(0);
    expect(reciprocalRankAtK(ranked, ['p9', 'p7'], 10)).toBe(0.5); // first relevant counts
    expect(reciprocalRankAtK([], ['p1'], 10)).toBe(0);
    // MRR over three queries: ranks 1, 4, none -> (1 + 0.25 + 0) / 3
    expect(
      mean([reciprocalRankAtK(ranked, ['p3'], 10), reciprocalRankAtK(ranked, ['p9'], 10), reciprocalRankAtK(ranked, ['zz'], 10)]),
    ).toBeCloseTo(1.25 / 3, 15);
    expect(mean([])).toBeNaN();
  });
});

describe('SQuAD answer metrics (official v1.1 normalisation)', () => {
  test('normalisation: case, ASCII punctuation, articles as whole words, whitespace', () => {
    expect(normalizeAnswer('The  Denver Broncos!')).toBe('denver broncos');
    expect(normalizeAnswer('an apple, a pear; the end.')).toBe('apple pear end');
    expect(normalizeAnswer('Theatre and thematic anagrams')).toBe('theatre and thematic anagrams');
    expect(normalizeAnswer("Saint-Jean's (1973)")).toBe('saintjeans 1973');
    expect(normalizeAnswer('“curly” — dash')).toBe('“curly” — dash'); // non-ASCII punctuation is kept, as in the official script
    expect(normalizeAnswer(' The ')).toBe('');
  });

  test('exact match and token F1 on hand-computed cases', () => {
    expect(exactMatch('the Broncos', 'Broncos.')).toBe(1);
    expect(exactMatch('Denver Broncos', 'Broncos')).toBe(0);
    // pred {denver, broncos}, gold {broncos}: P 1/2, R 1 -> F1 2/3
    expect(tokenF1('Denver Broncos', 'Broncos')).toBeCloseTo(2 / 3, 15);
    // Repeated tokens count with multiplicity: pred [a1,a1,b], gold [a1,b,c]: same 2, P 2/3, R 2/3
    expect(tokenF1('x x y', 'x y z')).toBeCloseTo(2 / 3, 15);
    expect(tokenF1('completely different', 'answer')).toBe(0);
    // Only articles left: no tokens, F1 0 (v1.1), but EM compares normalised strings and is 1.
    expect(tokenF1('the', 'a')).toBe(0);
    expect(exactMatch('the', 'a')).toBe(1);
  });

  test('max over gold answers', () => {
    const golds = ['Denver Broncos', 'The Denver Broncos', 'Broncos'];
    expect(squadScores('broncos', golds)).toEqual({ em: 1, f1: 1 });
    const s = squadScores('Denver team', golds);
    expect(s.em).toBe(0);
    expect(s.f1).toBeCloseTo(0.5, 15); // vs "Denver Broncos": P 1/2, R 1/2
    expect(() => squadScores('x', [])).toThrow(RangeError);
  });
});

describe('SQuAD normalisation: whitespace and mixed edge cases', () => {
  test('tabs, newlines and runs of spaces collapse; articles inside words survive; punctuation between words joins them', () => {
    expect(normalizeAnswer('\tThe\n\nEiffel   Tower ')).toBe('eiffel tower');
    // Punctuation goes before articles (official order), so "A.N." becomes the article "an" and is dropped.
    expect(normalizeAnswer('A.N. Other')).toBe('other');
    expect(exactMatch('  THE  Beatles!!', 'beatles')).toBe(1);
    expect(exactMatch('an', '')).toBe(1); // both normalise to the empty string
    expect(tokenF1('Paris, France', 'paris')).toBeCloseTo(2 / 3, 15);
  });
});

describe('gold-sentence retention and span coverage', () => {
  test('spanCoverage: union of overlapping, adjacent, unsorted and clipped spans', () => {
    expect(spanCoverage([{ start: 0, end: 10 }], 2, 8)).toBe(1);
    expect(spanCoverage([{ start: 5, end: 8 }, { start: 0, end: 4 }], 0, 10)).toBeCloseTo(7 / 10, 15);
    expect(spanCoverage([{ start: 0, end: 6 }, { start: 4, end: 9 }], 0, 10)).toBeCloseTo(9 / 10, 15); // overlap counted once
    expect(spanCoverage([{ start: 0, end: 5 }, { start: 5, end: 10 }], 3, 7)).toBe(1); // adjacent spans cover the seam
    expect(spanCoverage([], 0, 10)).toBe(0);
    expect(spanCoverage([{ start: 20, end: 30 }], 0, 10)).toBe(0);
    expect(spanCoverage([], 4, 4)).toBe(1);
  });

  test('answerRetained: the answer span must be wholly inside kept spans of the gold document; max over golds', () => {
    // Gold document "d1" has sentences [0,40) [41,90) [91,130); the answer sits in the second.
    const kept = [
      { documentId: 'd1', start: 0, end: 40 },
      { documentId: 'd2', start: 41, end: 90 }, // same offsets, other document: does not count
    ];
    expect(answerRetained(kept, 'd1', [{ start: 50, end: 60 }])).toBe(false);
    expect(answerRetained([...kept, { documentId: 'd1', start: 41, end: 90 }], 'd1', [{ start: 50, end: 60 }])).toBe(true);
    // An answer crossing a sentence boundary needs both sentences.
    expect(answerRetained([{ documentId: 'd1', start: 41, end: 90 }], 'd1', [{ start: 85, end: 95 }])).toBe(false);
    expect(answerRetained([{ documentId: 'd1', start: 41, end: 90 }, { documentId: 'd1', start: 91, end: 130 }], 'd1', [{ start: 85, end: 95 }])).toBe(false); // the gap 90..91 is not kept
    expect(answerRetained([{ documentId: 'd1', start: 41, end: 130 }], 'd1', [{ start: 85, end: 95 }])).toBe(true);
    // Several gold answers: one retained is enough.
    expect(answerRetained(kept, 'd1', [{ start: 50, end: 60 }, { start: 10, end: 15 }])).toBe(true);
  });

  test('rankedDocuments keeps the first occurrence of each document', () => {
    expect(rankedDocuments([{ documentId: 'b' }, { documentId: 'a' }, { documentId: 'b' }, { documentId: 'c' }])).toEqual(['b', 'a', 'c']);
  });

  test('containsAnswer: a gold answer as whole words, punctuation separating words', () => {
    expect(containsAnswer('Its existence was first proved in 1962, and first sequenced in 1986.', ['1962'])).toBe(true);
    expect(containsAnswer('In 19620 BC.', ['1962'])).toBe(false);
    expect(containsAnswer('underwent a "change of appearance".[citation needed]', ['change of appearance'])).toBe(true);
    expect(containsAnswer('The Miasma theory held sway.', ['a miasma Theory.'])).toBe(true);
    expect(containsAnswer('Half of Paris\'s population of 100,000 people died.', ['100,000', 'Half'])).toBe(true);
    expect(containsAnswer('Nothing here.', ['the', ''])).toBe(false);
  });
});
