import { extractFeatures } from '../../compressor/ranker/RankerFeatures.js';
import type { RankerPassage } from '../../compressor/ranker/SentenceCandidates.js';
import { SentenceRanker } from '../../compressor/ranker/SentenceRanker.js';
import { newPassage, type Passage } from '../../ask/Passage.js';
import { extract, rank } from '../../ask/stages/extract.js';
import { splitSentences } from '../../indexer/text/SentenceSplitter.js';
import { createBm25Index } from '../../retriever/defaults.js';

/** The extractive stages over hand-built passages, a real BM25 index and the shipped ranker. */
const intro = 'Chloroplasts are organelles. ';
const docA = `${intro}Chloroplasts carry their own DNA. It is also known as the plastome. Its existence was first proved in 1962, in Japan.`;
const docB = 'Mitochondria also carry DNA. They make energy for the cell.';
const stats = createBm25Index();
stats.add('a1', docA.slice(intro.length), 'Chloroplast');
stats.add('b0', docB, 'Mitochondrion');
stats.add('c0', 'Unrelated text about rivers and mountains.', 'Geography');
const ranker = SentenceRanker.shipped();
const question = 'When was the plastome discovered?';

/** The second chunk of document A (it starts after the intro sentence, so offsets are document offsets, not chunk ones) and document B. */
function passages(): Passage[] {
  const textA = docA.slice(intro.length);
  const a = newPassage(0, {
    chunkId: 'a1', documentId: 'A', title: 'Chloroplast', text: textA, start: intro.length, end: docA.length, score: 1.2, index: 1,
    sentences: splitSentences(textA).map((s) => ({ start: s.start + intro.length, end: s.end + intro.length })),
  });
  const b = newPassage(1, { chunkId: 'b0', documentId: 'B', title: 'Mitochondrion', text: docB, start: 0, end: docB.length, score: 0.4, index: 0, sentences: splitSentences(docB) });
  return [a, b];
}

describe('extractive stages: rank, extract', () => {
  const ps = passages();
  const info = rank(ps, question, { ranker, stats, embedder: ranker.json.embedder, searchMode: ranker.json.retrieval.mode as 'hybrid' });
  const out = extract(ps, question)!;

  test('rank scores every sentence with the embedder model when the setup fits, exactly as the ranker scores the features', () => {
    expect(info).toEqual({ model: 'embedder', fallback: null });
    const asRanker: RankerPassage[] = ps.map((p) => ({ ...p.chunk, title: p.chunk.title, chunkIndex: p.chunk.index ?? 0, score: p.chunk.score ?? 0, rank: p.rank }));
    const expected = extractFeatures(question, asRanker, stats).map((c) => ranker.embedder.score(c.features));
    expect(ps.flatMap((p) => p.scores ?? [])).toEqual(expected);
  });

  test('a different embedder gets the lexical model and the reason', () => {
    const other = passages();
    const r = rank(other, question, { ranker, stats, embedder: { id: 'other-embedder', dim: 384 }, searchMode: 'hybrid' });
    expect(r.model).toBe('lexical');
    expect(r.fallback).toMatch(/trained with embedder .* but serving uses other-embedder \(384-d\)/);
  });

  test('the answer is the best-scored sentence, cut by its document offsets; candidates follow in score order', () => {
    const all = ps.flatMap((p) => p.chunk.sentences.map((s, i) => ({ p, s, score: p.scores![i]! })));
    const best = all.reduce((a, b) => (b.score > a.score ? b : a));
    const doc = (id: string): string => (id === 'A' ? docA : docB);
    expect(out.answer).toEqual({ documentId: best.p.chunk.documentId, chunkId: best.p.chunk.chunkId, start: best.s.start, end: best.s.end, text: doc(best.p.chunk.documentId).slice(best.s.start, best.s.end), score: best.score });
    expect(out.candidates).toHaveLength(Math.min(4, all.length - 1));
    const scores = [out.answer.score, ...out.candidates.map((c) => c.score)];
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    for (const c of [out.answer, ...out.candidates]) expect(doc(c.documentId).slice(c.start, c.end)).toBe(c.text);
  });

  test('the short answer span lies inside the answer sentence and is the document text there', () => {
    // The year of the when-question's sentence, if the ranker chose it; otherwise no span is invented.
    if (out.answer.text.includes('1962')) expect(out.span).toEqual({ start: docA.indexOf('1962'), end: docA.indexOf('1962') + 4, text: '1962' });
    if (out.span) {
      expect(out.span.start).toBeGreaterThanOrEqual(out.answer.start);
      expect(out.span.end).toBeLessThanOrEqual(out.answer.end);
    }
  });

  test('ties go to the better-retrieved passage, then the earlier sentence; unscored or empty sentences are never the answer', () => {
    const tied = passages();
    for (const p of tied) p.scores = p.chunk.sentences.map(() => 1);
    tied[0]!.scores![0] = -Infinity;
    const r = extract(tied, question)!;
    expect([r.answer.chunkId, r.answer.start]).toEqual(['a1', tied[0]!.chunk.sentences[1]!.start]);
    for (const p of tied) p.scores = p.chunk.sentences.map(() => -Infinity);
    expect(extract(tied, question)).toBeNull();
  });
});
