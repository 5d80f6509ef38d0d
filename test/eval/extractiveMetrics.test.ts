import { isStrictGold, scoreExtractive, summarizeExtractive } from '../../eval/extractiveMetrics.js';

describe('extractive answer scoring', () => {
  const q = { documentId: 'd', golds: ['1962'], answerSpans: [{ start: 50, end: 54 }] };
  const own = { documentId: 'd', start: 40, end: 60, text: 'proved in 1962' };
  const other = { documentId: 'e', start: 40, end: 60, text: 'also 1962 elsewhere' };
  const miss = { documentId: 'd', start: 0, end: 20, text: 'nothing here' };

  test('strict = own paragraph and covering a gold span', () => {
    expect(isStrictGold(q, own)).toBe(true);
    expect(isStrictGold(q, other)).toBe(false);
    expect(isStrictGold(q, miss)).toBe(false);
  });

  test('the sentence is scored once for sentence F1, and is the answer when there is no span', () => {
    const s = scoreExtractive(q, [own, other], null);
    expect(s).toMatchObject({ top1: true, top3: true, top1Strict: true, top3Strict: true, em: 0, span: false });
    // "proved in 1962" vs "1962": precision 1/3, recall 1.
    expect(s.sentenceF1).toBeCloseTo(0.5, 12);
    expect(s.f1).toBeCloseTo(0.5, 12);
    const withSpan = scoreExtractive(q, [miss, other], { text: '1962' });
    expect(withSpan).toMatchObject({ top1: false, top3: true, top1Strict: false, top3Strict: false, em: 1, f1: 1, sentenceF1: 0, span: true });
    expect(scoreExtractive(q, [], null)).toMatchObject({ top1: false, top3: false, em: 0, f1: 0, sentenceF1: 0 });
    const sum = summarizeExtractive([s, withSpan]);
    expect(sum).toMatchObject({ questions: 2, top1: 0.5, top3: 1, top1Strict: 0.5, answerEm: 0.5, spans: 1 });
    expect(sum.answerF1).toBeCloseTo(0.75, 12);
  });
});
