import { answerType, questionWords, sentenceCues } from '../../../compressor/ranker/AnswerType.js';
import { extractFeatures, FEATURE_FAMILIES, FEATURE_NAMES, featureIndex, RANKER_FEATURES } from '../../../compressor/ranker/RankerFeatures.js';
import type { RankerPassage } from '../../../compressor/ranker/SentenceCandidates.js';
import { splitSentences } from '../../../indexer/text/SentenceSplitter.js';
import { Bm25Index } from '../../../retriever/Bm25Index.js';
import { createBm25Index } from '../../../retriever/defaults.js';

describe('answer-type cues', () => {
  test.each([
    ['When was the plastome discovered?', 'time'],
    ['In what year did Tesla die?', 'time'],
    ['What century did the Normans first gain their separate identity?', 'time'],
    ['How many membranes do apicoplasts have?', 'number'],
    ['How much of Paris\' population was killed by the plague?', 'number'],
    ['How many years did the war last?', 'number'],
    ['What percentage of Victorians are Catholic?', 'number'],
    ['Who founded the Norman dynasty?', 'person'],
    ['Whose theory was it?', 'person'],
    ['Where is the chloroplast peripheral reticulum found?', 'place'],
    ['In which country is Melbourne?', 'place'],
    ['What do pyrenoids look like?', 'other'],
    ['Why did the plague spread?', 'other'],
  ])('%s -> %s', (q, type) => expect(answerType(q)).toBe(type));

  test('a sentence offers a year, number, name or place only if the question does not already say it', () => {
    const q = questionWords('When did Tesla move to New York in 1884?');
    expect(sentenceCues('Its existence was first proved in 1962, in Berlin.', q)).toEqual({ time: true, number: true, name: true, place: true });
    expect(sentenceCues('Tesla moved to New York in 1884.', q)).toEqual({ time: false, number: false, name: false, place: false });
    expect(sentenceCues('He arrived in the 1880s, on a Monday.', q)).toMatchObject({ time: true });
    expect(sentenceCues('Four membranes surround them.', q)).toEqual({ time: false, number: true, name: false, place: false });
    // The first word is capitalised because it starts the sentence, not because it is a name.
    expect(sentenceCues('Membranes surround them.', q).name).toBe(false);
    expect(sentenceCues('They were taught by Edison.', q).name).toBe(true);
  });
});

describe('ranker features', () => {
  const docA = 'Chloroplasts carry their own DNA. It is also known as the plastome. Its existence was first proved in 1962, in Japan.';
  const docB = 'Mitochondria also carry DNA. They make energy for the cell.';
  const stats = createBm25Index();
  stats.add('a0', docA, 'Chloroplast');
  stats.add('b0', docB, 'Mitochondrion');
  stats.add('c0', 'Unrelated text about rivers and mountains.', 'Geography');
  const passage = (id: string, documentId: string, text: string, rank: number, score: number, title: string): RankerPassage => ({
    documentId, chunkId: id, title, text, start: 0, sentences: splitSentences(text), chunkIndex: 0, score, rank,
  });
  const passages = [passage('a0', 'A', docA, 0, 1.2, 'Chloroplast'), passage('b0', 'B', docB, 1, 0.4, 'Mitochondrion')];
  const question = 'When was the plastome discovered?';
  const feats = extractFeatures(question, passages, stats);
  const f = (i: number, name: string): number => feats[i].features[featureIndex(name)];

  test('one candidate per sentence, in retrieval order, cut from the exact document offsets', () => {
    expect(feats.map((c) => [c.chunkId, c.passage, c.sentence])).toEqual([['a0', 0, 0], ['a0', 0, 1], ['a0', 0, 2], ['b0', 1, 0], ['b0', 1, 1]]);
    for (const c of feats) expect(c.text).toBe((c.documentId === 'A' ? docA : docB).slice(c.start, c.end));
    expect(feats[2].text).toBe('Its existence was first proved in 1962, in Japan.');
    expect(feats.every((c) => c.features.length === RANKER_FEATURES.length)).toBe(true);
  });

  test('lexical and answer-type features on hand-built pairs', () => {
    // The question's terms are "plastom" and "discov"; sentence 1 has the first, idf-weighted.
    expect(f(1, 'idfCoverage')).toBeCloseTo(stats.idf('plastom') / (stats.idf('plastom') + stats.idf('discov')), 12);
    expect(f(1, 'matchedTerms')).toBe(1);
    // "discovered" occurs nowhere in the collection, so it is the rarest term, and no sentence has it.
    expect(stats.idf('discov')).toBeGreaterThan(stats.idf('plastom'));
    expect(feats.map((c) => c.features[featureIndex('rarestTerm')])).toEqual([0, 0, 0, 0, 0]);
    expect(f(1, 'idfCoverageGap')).toBe(0);
    expect(f(2, 'idfCoverage')).toBe(0);
    expect(f(2, 'prevCoverage')).toBeCloseTo(f(1, 'idfCoverage'), 12);
    expect(f(2, 'pronounStart')).toBe(1);
    expect(f(2, 'pronounContext')).toBeCloseTo(f(2, 'prevCoverage'), 12);
    expect(f(0, 'prevCoverage')).toBe(0); // no sentence before it in its passage
    expect(f(3, 'prevCoverage')).toBe(0); // the previous candidate belongs to another passage
    // A when-question: only the sentence with a new year is a typed answer.
    expect([0, 1, 2, 3, 4].map((i) => f(i, 'timeAnswer'))).toEqual([0, 0, 1, 0, 0]);
    expect(f(2, 'cueTime')).toBe(1);
    expect(f(2, 'numberAnswer')).toBe(0); // a number cue, but not a how-many question
    expect(f(2, 'typedContext')).toBeCloseTo(f(2, 'idfCoverage') + f(2, 'prevCoverage'), 12);
    expect([0, 1, 2].map((i) => f(i, 'firstSentence'))).toEqual([1, 0, 0]);
    expect([0, 1, 2].map((i) => f(i, 'relativePosition'))).toEqual([0, 0.5, 1]);
    expect(f(1, 'localBest')).toBe(1);
    expect(f(1, 'localBm25')).toBe(1);
  });

  test('sentence BM25 within a passage analyses the question with the collection\'s analyzer', () => {
    // No stemming: the sentence holds "plastome", and so must the question's terms, or no sentence would match.
    const plain = new Bm25Index({ analyzer: { stem: false } });
    plain.add('a0', docA, 'Chloroplast');
    plain.add('b0', docB, 'Mitochondrion');
    const g = extractFeatures('When was the plastome discovered?', passages, plain);
    expect(g.map((c) => c.features[featureIndex('localBest')])).toEqual([0, 1, 0, 0, 0]);
    expect(g[1].features[featureIndex('localBm25')]).toBe(1);
  });

  test('retrieval and passage features follow the passage', () => {
    expect(f(0, 'retrievalScore')).toBe(1.2);
    expect(f(3, 'retrievalGap')).toBeCloseTo(0.8, 12);
    expect(f(3, 'retrievalRank')).toBe(1);
    const [bmA, bmB] = stats.scoreDocuments(question, ['a0', 'b0']);
    expect(f(0, 'passageBm25')).toBeCloseTo(bmA, 12);
    expect(f(4, 'passageBm25')).toBeCloseTo(bmB, 12);
    expect(f(0, 'passageBm25Rank')).toBe(0);
    // Dense features are NaN without vectors; with them, the cosine of unit vectors.
    expect(Number.isNaN(f(0, 'cosine'))).toBe(true);
    const unit = (i: number) => Float32Array.from({ length: 4 }, (_, j) => (j === i ? 1 : 0));
    const withDense = extractFeatures(question, passages, stats, { question: unit(0), sentence: (c) => (c.sentence === 2 && c.chunkId === 'a0' ? unit(0) : unit(1)) });
    expect(withDense.map((c) => c.features[FEATURE_NAMES.indexOf('cosine')])).toEqual([0, 0, 1, 0, 0]);
    expect(withDense.map((c) => c.features[FEATURE_NAMES.indexOf('cosineGap')])).toEqual([1, 1, 0, 1, 1]);
  });

  test('proximity: matched terms over the shortest window holding them', () => {
    const s = createBm25Index();
    s.add('x', 'red apple pie. apple tree grows red fruit slowly.');
    const one = (text: string): number => {
      const p: RankerPassage = { documentId: 'x', chunkId: 'x', text, start: 0, sentences: [{ start: 0, end: text.length }], chunkIndex: 0, score: 1, rank: 0 };
      return extractFeatures('red apple', [p], s)[0].features[FEATURE_NAMES.indexOf('proximity')];
    };
    expect(one('red apple pie')).toBe(1);
    expect(one('apple tree grows red fruit')).toBe(2 / 4);
    expect(one('pie only')).toBe(0);
  });

  test('every feature belongs to exactly one ablation family; no passages, no candidates', () => {
    expect(Object.values(FEATURE_FAMILIES).flat().sort()).toEqual([...FEATURE_NAMES].sort());
    expect(extractFeatures('anything?', [], stats)).toEqual([]);
    expect(() => extractFeatures('q', [{ ...passages[0], sentences: [{ start: 0, end: docA.length + 5 }] }], stats)).toThrow(/outside the chunk/);
  });
});
