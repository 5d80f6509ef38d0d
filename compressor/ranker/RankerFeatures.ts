import type { Analyzer } from '../../retriever/Analyzer.js';
import { Bm25Index } from '../../retriever/Bm25Index.js';
import { BM25_PARAMS } from '../../retriever/defaults.js';
import { analysedSentenceScores } from '../LexicalScorer.js';
import { answerType, questionWords, sentenceCues } from './AnswerType.js';
import { sentenceCandidates, type RankerPassage, type SentenceCandidate } from './SentenceCandidates.js';

/**
 * Features of one (question, sentence) pair for the sentence ranker. Every feature belongs to a group that
 * says what it depends on, so a ranker can be trained without the ones serving may not have:
 * - `lexical`: the texts and the collection's BM25 statistics only (the same whatever the embedder);
 * - `retrieval`: the search's own score and rank (in hybrid mode these fold in the embedder's cosine);
 * - `dense`: the embedder's cosine between the question and the sentence (needs sentence vectors).
 * Several features are relative to the best candidate of the question ("gap"), which lets a pointwise
 * model compare candidates the way a listwise one would.
 */
export type FeatureGroup = 'lexical' | 'retrieval' | 'dense';

export interface FeatureSpec {
  name: string;
  group: FeatureGroup;
  about: string;
}

export const RANKER_FEATURES = [
  { name: 'retrievalScore', group: 'retrieval', about: "the passage's retrieval score" },
  { name: 'retrievalGap', group: 'retrieval', about: 'best retrieval score of the question minus this passage’s' },
  { name: 'retrievalRank', group: 'retrieval', about: 'log2(1 + rank) of the passage in retrieval order' },
  { name: 'passageBm25', group: 'lexical', about: "the passage's BM25 score (collection statistics, title included)" },
  { name: 'passageBm25Gap', group: 'lexical', about: 'best passage BM25 of the question minus this one, over the best' },
  { name: 'passageBm25Rank', group: 'lexical', about: 'log2(1 + rank) of the passage by BM25 among the candidates' },
  { name: 'passageCoverage', group: 'lexical', about: 'share of the question’s idf mass present in the passage or its title' },
  { name: 'sentenceBm25', group: 'lexical', about: 'BM25 of the sentence with collection idf' },
  { name: 'sentenceBm25Gap', group: 'lexical', about: 'best sentence BM25 of the question minus this one' },
  { name: 'localBm25', group: 'lexical', about: 'BM25 among the passage’s own sentences, over the passage’s best' },
  { name: 'localBest', group: 'lexical', about: '1 if the sentence has the best BM25 of its passage' },
  { name: 'idfCoverage', group: 'lexical', about: 'share of the question’s idf mass present in the sentence' },
  { name: 'idfCoverageGap', group: 'lexical', about: 'best idf coverage of the question minus this one' },
  { name: 'matchedTerms', group: 'lexical', about: 'distinct question terms in the sentence' },
  { name: 'rarestTerm', group: 'lexical', about: '1 if the question’s rarest term is in the sentence' },
  { name: 'bigrams', group: 'lexical', about: 'question bigrams (adjacent terms) that occur in the sentence' },
  { name: 'proximity', group: 'lexical', about: 'matched terms over the shortest window holding them all' },
  { name: 'prevCoverage', group: 'lexical', about: 'idf coverage of the sentence with the one before it, beyond its own' },
  { name: 'nextCoverage', group: 'lexical', about: 'idf coverage of the sentence with the one after it, beyond its own' },
  { name: 'pronounStart', group: 'lexical', about: '1 if the sentence opens with a pronoun or "this/these" (it continues the one before)' },
  { name: 'pronounContext', group: 'lexical', about: 'pronounStart times prevCoverage' },
  { name: 'novelTerms', group: 'lexical', about: 'log(1 + terms of the sentence not in the question)' },
  { name: 'length', group: 'lexical', about: 'log(1 + terms of the sentence)' },
  { name: 'firstSentence', group: 'lexical', about: '1 for the first sentence of the passage' },
  { name: 'relativePosition', group: 'lexical', about: 'sentence index over the passage’s last index' },
  { name: 'firstChunk', group: 'lexical', about: '1 if the passage is the first chunk of its document' },
  { name: 'cueTime', group: 'lexical', about: 'a year or date not in the question' },
  { name: 'cueNumber', group: 'lexical', about: 'a number not in the question' },
  { name: 'cueName', group: 'lexical', about: 'a capitalised name not in the question' },
  { name: 'cuePlace', group: 'lexical', about: 'a preposition of place and a capitalised word not in the question' },
  { name: 'timeAnswer', group: 'lexical', about: 'a when/what-year question and cueTime' },
  { name: 'numberAnswer', group: 'lexical', about: 'a how-many/much question and cueNumber' },
  { name: 'personAnswer', group: 'lexical', about: 'a who question and cueName' },
  { name: 'placeAnswer', group: 'lexical', about: 'a where question and cuePlace or cueName' },
  { name: 'typedContext', group: 'lexical', about: 'any of the four typed answers times the coverage of the sentence with the one before it' },
  { name: 'cosine', group: 'dense', about: 'cosine of the question and sentence vectors' },
  { name: 'cosineGap', group: 'dense', about: 'best cosine of the question minus this one' },
] as const satisfies readonly FeatureSpec[];

export type FeatureName = (typeof RANKER_FEATURES)[number]['name'];

export const FEATURE_NAMES: readonly FeatureName[] = RANKER_FEATURES.map((f) => f.name);

export function featuresOf(groups: readonly FeatureGroup[]): FeatureName[] {
  return RANKER_FEATURES.filter((f) => (groups as readonly string[]).includes(f.group)).map((f) => f.name);
}

const INDEX = new Map<string, number>(FEATURE_NAMES.map((n, i) => [n, i]));

export function featureIndex(name: string): number {
  const i = INDEX.get(name);
  if (i === undefined) throw new Error(`unknown ranker feature ${JSON.stringify(name)} (known: ${FEATURE_NAMES.join(', ')})`);
  return i;
}

/** What the features read of the collection: its analyzer and BM25 statistics (a retriever's Bm25Index). */
export interface CollectionStatistics {
  readonly analyzer: Analyzer;
  idf(term: string): number;
  scoreDocuments(query: string, ids: readonly string[]): number[];
}

/** The embedder's vectors, when serving has them: the question's, and one per candidate sentence (null: none stored). */
export interface DenseInputs {
  question: Float32Array;
  sentence(candidate: SentenceCandidate): Float32Array | null;
}

export interface FeaturedCandidate extends SentenceCandidate {
  /** All RANKER_FEATURES, in that order; a dense feature is NaN when its vectors are missing. */
  features: Float64Array;
}

/** Sentence-level BM25 parameters: the textbook ones, over sentence lengths. */
const K1 = 1.2;
const B = 0.75;

interface QuestionProfile {
  distinct: string[];
  idf: Map<string, number>;
  mass: number;
  rarest: string | undefined;
  bigrams: Set<string>;
  type: ReturnType<typeof answerType>;
  words: Set<string>;
}

function unigrams(analyzer: Analyzer, text: string): string[] {
  // A bigram-emitting analyzer appends "a b" pairs after the unigrams; only the unigrams are positional.
  return analyzer.config.bigrams ? analyzer.terms(text).filter((t) => !t.includes(' ')) : analyzer.terms(text);
}

function profile(question: string, stats: CollectionStatistics): QuestionProfile {
  const terms = unigrams(stats.analyzer, question);
  const distinct = [...new Set(terms)];
  const idf = new Map(distinct.map((t) => [t, stats.idf(t)]));
  let mass = 0;
  let rarest: string | undefined;
  for (const [t, w] of idf) {
    mass += w;
    if (rarest === undefined || w > idf.get(rarest)!) rarest = t;
  }
  const bigrams = new Set<string>();
  for (let i = 0; i + 1 < terms.length; i++) bigrams.add(`${terms[i]} ${terms[i + 1]}`);
  return { distinct, idf, mass, rarest, bigrams, type: answerType(question), words: questionWords(question) };
}

function coverage(q: QuestionProfile, present: ReadonlySet<string>): number {
  if (q.mass <= 0) return 0;
  let m = 0;
  for (const [t, w] of q.idf) if (present.has(t)) m += w;
  return m / q.mass;
}

/** Matched distinct terms over the length of the shortest term window containing one of each. */
function proximity(q: QuestionProfile, terms: readonly string[]): number {
  const need = new Set(q.distinct.filter((t) => terms.includes(t)));
  if (need.size === 0) return 0;
  if (need.size === 1) return 1;
  const count = new Map<string, number>();
  let have = 0;
  let best = Infinity;
  let lo = 0;
  for (let hi = 0; hi < terms.length; hi++) {
    const t = terms[hi];
    if (!need.has(t)) continue;
    const c = (count.get(t) ?? 0) + 1;
    count.set(t, c);
    if (c === 1) have++;
    while (have === need.size) {
      best = Math.min(best, hi - lo + 1);
      const l = terms[lo++];
      if (need.has(l)) {
        const lc = count.get(l)! - 1;
        count.set(l, lc);
        if (lc === 0) have--;
      }
    }
  }
  return need.size / best;
}

function cosine(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`cosine: vectors of ${a.length} and ${b.length} dimensions`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s; // vectors are unit length
}

const log2p1 = (x: number): number => Math.log2(1 + x);

/** A sentence opening like this usually continues the previous sentence's subject. */
const PRONOUN_START = /^[^\p{L}]*(?:it|its|this|these|that|those|they|their|them|he|his|him|she|her|such|there|here)\b/iu;

/** Candidates of every retrieved passage with their feature vectors. */
export function extractFeatures(question: string, passages: readonly RankerPassage[], stats: CollectionStatistics, dense?: DenseInputs): FeaturedCandidate[] {
  const candidates = sentenceCandidates(passages);
  if (candidates.length === 0) return [];
  const q = profile(question, stats);

  const passageBm25 = stats.scoreDocuments(question, passages.map((p) => p.chunkId));
  const bestPassageBm25 = Math.max(...passageBm25);
  const bm25Rank = rankOf(passageBm25);
  const bestRetrieval = Math.max(...passages.map((p) => p.score));
  const terms = candidates.map((c) => unigrams(stats.analyzer, c.text));
  const termSets = terms.map((t) => new Set(t));
  const passageTerms = passages.map((p) => new Set(p.title ? unigrams(stats.analyzer, p.title) : []));
  const passageSentences = passages.map((): string[][] => []);
  candidates.forEach((c, i) => {
    for (const t of terms[i]) passageTerms[c.passage].add(t);
    passageSentences[c.passage].push(terms[i]);
  });
  const passageCoverage = passageTerms.map((t) => coverage(q, t));
  // The sentences' terms came from the collection's analyzer: the question must be analysed by the same one (unigrams only, as above).
  const localOptions = { ...BM25_PARAMS, analyzer: { ...stats.analyzer.config, bigrams: false } };
  const local = passageSentences.map((sentences) => {
    const scores = analysedSentenceScores(sentences, question, new Bm25Index(localOptions));
    return { scores, best: Math.max(0, ...scores) };
  });
  const avgLen = terms.reduce((s, t) => s + t.length, 0) / terms.length || 1;
  const sentenceBm25 = terms.map((t, i) => {
    let s = 0;
    for (const [term, w] of q.idf) {
      if (!termSets[i].has(term)) continue;
      const tf = t.reduce((n, x) => n + (x === term ? 1 : 0), 0);
      s += (w * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * t.length) / avgLen));
    }
    return s;
  });
  const covered = termSets.map((s) => coverage(q, s));
  const cosines = candidates.map((c) => {
    const v = dense?.sentence(c);
    return dense && v ? cosine(dense.question, v) : NaN;
  });
  const bestBm25 = Math.max(...sentenceBm25);
  const bestCovered = Math.max(...covered);
  const finiteCosines = cosines.filter(Number.isFinite);
  const bestCosine = finiteCosines.length ? Math.max(...finiteCosines) : NaN;

  return candidates.map((c, i) => {
    const p = passages[c.passage];
    const last = p.sentences.length - 1;
    const withNeighbour = (j: number): number => {
      if (candidates[j]?.passage !== c.passage) return 0;
      return coverage(q, new Set([...termSets[i], ...termSets[j]])) - covered[i];
    };
    const prevCoverage = withNeighbour(i - 1);
    const pronounStart = PRONOUN_START.test(c.text) ? 1 : 0;
    const t = terms[i];
    let bigrams = 0;
    for (let k = 0; k + 1 < t.length; k++) if (q.bigrams.has(`${t[k]} ${t[k + 1]}`)) bigrams++;
    const cues = sentenceCues(c.text, q.words);
    const placeAnswer = q.type === 'place' && (cues.place || cues.name);
    const typed = placeAnswer || (q.type === 'time' && cues.time) || (q.type === 'number' && cues.number) || (q.type === 'person' && cues.name);
    const localScore = local[c.passage].scores[c.sentence];
    const values: Record<FeatureName, number> = {
      retrievalScore: p.score,
      retrievalGap: bestRetrieval - p.score,
      retrievalRank: log2p1(p.rank),
      passageBm25: passageBm25[c.passage],
      passageBm25Gap: bestPassageBm25 > 0 ? (bestPassageBm25 - passageBm25[c.passage]) / bestPassageBm25 : 0,
      passageBm25Rank: log2p1(bm25Rank[c.passage]),
      passageCoverage: passageCoverage[c.passage],
      sentenceBm25: sentenceBm25[i],
      sentenceBm25Gap: bestBm25 - sentenceBm25[i],
      localBm25: local[c.passage].best > 0 ? localScore / local[c.passage].best : 0,
      localBest: local[c.passage].best > 0 && localScore === local[c.passage].best ? 1 : 0,
      idfCoverage: covered[i],
      idfCoverageGap: bestCovered - covered[i],
      matchedTerms: q.distinct.reduce((n, x) => n + (termSets[i].has(x) ? 1 : 0), 0),
      rarestTerm: q.rarest !== undefined && termSets[i].has(q.rarest) ? 1 : 0,
      bigrams,
      proximity: proximity(q, t),
      prevCoverage,
      nextCoverage: withNeighbour(i + 1),
      pronounStart,
      pronounContext: pronounStart * prevCoverage,
      novelTerms: Math.log1p(t.filter((x) => !q.idf.has(x)).length),
      length: Math.log1p(t.length),
      firstSentence: c.sentence === 0 ? 1 : 0,
      relativePosition: last > 0 ? c.sentence / last : 0,
      firstChunk: p.chunkIndex === 0 ? 1 : 0,
      cueTime: cues.time ? 1 : 0,
      cueNumber: cues.number ? 1 : 0,
      cueName: cues.name ? 1 : 0,
      cuePlace: cues.place ? 1 : 0,
      timeAnswer: q.type === 'time' && cues.time ? 1 : 0,
      numberAnswer: q.type === 'number' && cues.number ? 1 : 0,
      personAnswer: q.type === 'person' && cues.name ? 1 : 0,
      placeAnswer: placeAnswer ? 1 : 0,
      typedContext: typed ? covered[i] + prevCoverage : 0,
      cosine: cosines[i],
      cosineGap: bestCosine - cosines[i],
    };
    return { ...c, features: Float64Array.from(FEATURE_NAMES, (n) => values[n]) };
  });
}

/** 0-based rank of each value, highest first (ties share the better rank). */
function rankOf(values: readonly number[]): number[] {
  return values.map((v) => values.filter((w) => w > v).length);
}

/** Features by what they capture, for ablations (each family removed in turn). */
export const FEATURE_FAMILIES: Record<string, readonly FeatureName[]> = {
  retrieval: ['retrievalScore', 'retrievalGap', 'retrievalRank'],
  passageLexical: ['passageBm25', 'passageBm25Gap', 'passageBm25Rank', 'passageCoverage', 'firstChunk'],
  sentenceBm25: ['sentenceBm25', 'sentenceBm25Gap', 'localBm25', 'localBest'],
  termCoverage: ['idfCoverage', 'idfCoverageGap', 'matchedTerms', 'rarestTerm'],
  termOrder: ['bigrams', 'proximity'],
  neighbours: ['prevCoverage', 'nextCoverage', 'pronounStart', 'pronounContext'],
  answerType: ['cueTime', 'cueNumber', 'cueName', 'cuePlace', 'timeAnswer', 'numberAnswer', 'personAnswer', 'placeAnswer', 'typedContext'],
  shape: ['novelTerms', 'length', 'firstSentence', 'relativePosition'],
  dense: ['cosine', 'cosineGap'],
};
