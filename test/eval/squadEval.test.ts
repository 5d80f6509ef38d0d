import type { EvalAsk } from '../../eval/askOutcome.js';
import { parseSquad } from '../../indexer/sources/squad.js';
import { ANSWER_QUALITY_NOTE, documentIdOf, scoreItem, squadCorpus, summarize, type SquadEvalQuestion } from '../../eval/squadEval.js';

const chunk = (documentId: string, chunkId: string, start: number, end: number) => ({ documentId, chunkId, start, end });

describe('squadCorpus', () => {
  const ds = parseSquad({
    version: '1.1',
    data: [
      { title: 'Super_Bowl', paragraphs: [{ context: 'Denver won. It was in 2016.', qas: [{ id: 'a', question: 'Who won?', answers: [{ text: 'Denver', answer_start: 0 }, { text: 'Denver', answer_start: 0 }] }, { id: 'b', question: 'When?', answers: [{ text: '2016', answer_start: 22 }] }] }] },
      { title: 'Other', paragraphs: [{ context: 'x', qas: [{ id: 'c', question: 'q?', answers: [{ text: 'x', answer_start: 0 }] }] }, { context: 'y', qas: [{ id: 'd', question: 'r?', answers: [{ text: 'y', answer_start: 0 }] }] }] },
    ],
  });

  test('documents are paragraphs with readable titles; questions carry answer spans in document offsets', () => {
    const c = squadCorpus(ds, { n: 10 });
    expect(c.documents.map((d) => [d.id, d.title])).toEqual([[documentIdOf('0-0'), 'Super Bowl'], [documentIdOf('1-0'), 'Other'], [documentIdOf('1-1'), 'Other']]);
    expect(c.questions.map((q) => q.id)).toEqual(['a', 'b', 'c', 'd']);
    const b = c.questions[1];
    expect(c.documents[0].text.slice(b.answerSpans[0].start, b.answerSpans[0].end)).toBe('2016');
  });

  test('n questions spread evenly; --articles limits the corpus', () => {
    expect(squadCorpus(ds, { n: 2 }).questions.map((q) => q.id)).toEqual(['a', 'c']); // indices 0, 2 of 4
    const one = squadCorpus(ds, { n: 5, articles: 1 });
    expect(one.documents).toHaveLength(1);
    expect(one.questions.map((q) => q.id)).toEqual(['a', 'b']);
  });
});

describe('scoreItem + summarize on hand-computed fixtures', () => {
  const q = (id: string, documentId: string, gold: string, start: number): SquadEvalQuestion => ({ id, question: `${id}?`, documentId, golds: [gold], answerSpans: [{ start, end: start + gold.length }] });
  const questions = [q('q1', 'd1', 'Denver Broncos', 10), q('q2', 'd2', 'Carolina Panthers', 60), q('q3', 'd4', 'Levi', 5)];
  const asks: EvalAsk[] = [
    {
      // Gold first; no compression fields: the whole retrieved chunks are the context.
      hits: [chunk('d1', 'd1#0', 0, 100), chunk('d2', 'd2#0', 0, 100)],
      outcome: { answer: 'Denver Broncos', citations: [chunk('d1', 'd1#0', 0, 100), chunk('d2', 'd2#0', 0, 100)], timings: { retrieveMs: 10, firstTokenMs: 50, totalMs: 100 } },
    },
    {
      // Gold document second (after two chunks of d3); compression kept a sentence of d2 that misses the answer.
      hits: [chunk('d3', 'd3#0', 0, 80), chunk('d3', 'd3#1', 81, 160), chunk('d2', 'd2#0', 0, 120)],
      outcome: {
        answer: 'the Panthers',
        citations: [chunk('d3', 'd3#0', 0, 80), chunk('d3', 'd3#1', 81, 160), chunk('d2', 'd2#0', 0, 120)],
        kept: [{ ...chunk('d2', 'd2#0', 0, 50), score: 0.9 }, { ...chunk('d3', 'd3#1', 81, 120), score: 0.5 }],
        compression: { method: 'raw', keptTokens: 50, totalTokens: 200, ratio: 0.25 },
        timings: { retrieveMs: 20, firstTokenMs: 150, totalMs: 200, compressMs: 7 },
      },
    },
    {
      // Gold document not retrieved at all.
      hits: [chunk('d1', 'd1#0', 0, 100), chunk('d2', 'd2#0', 0, 100)],
      outcome: { answer: '', citations: [chunk('d1', 'd1#0', 0, 100)], compression: { method: 'raw', keptTokens: 100, totalTokens: 100, ratio: 1 }, timings: { retrieveMs: 30, firstTokenMs: null, totalMs: 300 } },
    },
  ];
  const items = questions.map((qq, i) => scoreItem(qq, asks[i]));

  test('per question', () => {
    expect(items.map((i) => i.rankedDocuments)).toEqual([['d1', 'd2'], ['d3', 'd2'], ['d1', 'd2']]);
    expect(items.map((i) => [i.goldInRetrieved, i.goldRetained])).toEqual([[true, true], [true, false], [false, false]]);
    expect(items.map((i) => i.em)).toEqual([1, 0, 0]);
    expect(items[1].f1).toBeCloseTo(2 / 3, 15); // {panthers} vs {carolina, panthers}: P 1, R 1/2
    expect(items.map((i) => i.keptFraction)).toEqual([1, 0.25, 1]);
    expect(items[1].compressionApplied).toBe('raw');
  });

  test('summary', () => {
    const s = summarize(items, { k: 5, compression: 'raw', order: 'retrieval' });
    expect(s.retrieval['recall@1']).toBeCloseTo(1 / 3, 15);
    expect(s.retrieval['recall@5']).toBeCloseTo(2 / 3, 15);
    expect(s.retrieval['recall@10']).toBeNull(); // k = 5 retrieved: recall@10 is not measurable
    expect(s.retrieval['mrr@10']).toBeCloseTo((1 + 0.5 + 0) / 3, 15);
    expect(s.retention).toEqual({ eligible: 2, retained: 1, rate: 0.5, overall: 1 / 3 });
    expect(s.answers.em).toBeCloseTo(1 / 3, 15);
    expect(s.answers.f1).toBeCloseTo((1 + 2 / 3 + 0) / 3, 15);
    expect(s.answers.note).toBe(ANSWER_QUALITY_NOTE);
    expect(s.answers.note).toMatch(/random weights/);
    expect(s.compression.applied.sort()).toEqual(['none', 'raw']);
    expect(s.compression.meanRatio).toBeCloseTo((1 + 4 + 1) / 3, 15);
    // Stages in pipeline order first, then the others the service reported; firstToken left out where null.
    expect(Object.keys(s.latencyMs)).toEqual(['retrieveMs', 'assembleMs', 'questionPrefillMs', 'firstTokenMs', 'totalMs', 'compressMs']);
    expect(s.latencyMs.firstTokenMs.n).toBe(2);
    expect(s.latencyMs.totalMs.p50).toBe(200);
    expect(s.latencyMs.retrieveMs.p90).toBeCloseTo(28, 12);
    expect(s.latencyMs.assembleMs.n).toBe(0);
  });
});
