import type { Span } from '../indexer/text/SentenceSplitter.js';
import { extractFeatures, type FeaturedCandidate } from '../compressor/ranker/RankerFeatures.js';
import type { LabelledQuestion } from '../compressor/ranker/RankerTrainer.js';
import type { RankerModel } from '../compressor/ranker/SentenceRanker.js';
import type { RetrievedPassages } from '../compressor/ranker/searchPassages.js';
import { lexicalSentenceScores } from '../compressor/LexicalScorer.js';
import { answerSpan, type AnswerSpan } from '../compressor/ranker/AnswerSpan.js';
import { summarizeLatency, type LatencySummary } from './latency.js';
import { containsAnswer, mean } from './metrics.js';
import { scoreExtractive, summarizeExtractive, type ExtractiveSummary } from './extractiveMetrics.js';
import type { RankedSentence } from '../ask/stages/extract.js';
import type { SquadDataset } from '../indexer/sources/squad.js';
import { evalQuestion, spreadEvenly } from './squadEval.js';

/**
 * Extractive answering measured on SQuAD without a generator: each question is retrieved over the collection
 * and every sentence of the retrieved passages is ranked; the answer is the best sentence. A sentence
 * "contains a gold answer" when one of the question's gold answers occurs in it as whole tokens after SQuAD
 * normalisation (wherever that sentence comes from); "strict" also requires it to be the sentence of the
 * question's own paragraph that holds a gold answer span.
 */
export interface RankerQuestion {
  id: string;
  question: string;
  articleIndex: number;
  documentId: string;
  golds: string[];
  /** Gold answer spans in document (paragraph) offsets. */
  answerSpans: Span[];
}

export function rankerQuestions(ds: SquadDataset, articles: Iterable<number>): RankerQuestion[] {
  const wanted = new Set(articles);
  return ds.articles.flatMap((a, articleIndex) =>
    !wanted.has(articleIndex)
      ? []
      : a.paragraphs.flatMap((p) => p.qas.map((q) => ({ ...evalQuestion(p, q), articleIndex }))),
  );
}

export { spreadEvenly };

export type PassageRetriever = (question: string) => Promise<RetrievedPassages>;

/** Training examples: every candidate of the retrieved passages, label 1 when it contains a gold answer. */
export async function labelledQuestions(
  questions: readonly RankerQuestion[],
  retrieve: PassageRetriever,
  onProgress?: (done: number, total: number) => void,
): Promise<LabelledQuestion[]> {
  const out: LabelledQuestion[] = [];
  for (const q of questions) {
    const r = await retrieve(q.question);
    const candidates = extractFeatures(q.question, r.passages, r.stats, r.dense);
    out.push({ group: q.articleIndex, candidates: candidates.map((c) => ({ features: c.features, label: containsAnswer(c.text, q.golds) ? 1 : 0 })) });
    onProgress?.(out.length, questions.length);
  }
  return out;
}

/** A ranked sentence as the served extractive stage reports it. */
export type RankedAnswer = RankedSentence;

export interface RankingOutcome {
  top: RankedAnswer[];
  top1: boolean;
  top3: boolean;
  top1Strict: boolean;
  top3Strict: boolean;
  /** SQuAD token F1 of the whole top sentence as the answer. */
  f1: number;
  /** The answer span inside the top sentence, when the question's type calls for one. */
  span: AnswerSpan | null;
  /** EM / F1 of the answer: the span, or the whole sentence when there is none. */
  answerEm: number;
  answerF1: number;
}

export interface RankerEvalItem {
  id: string;
  question: string;
  documentId: string;
  golds: string[];
  /** Rank of the gold paragraph among the retrieved passages, -1 if absent. */
  goldPassageRank: number;
  candidates: number;
  /** Some candidate contains a gold answer: the ceiling for any ranker on this retrieval. */
  answerInCandidates: boolean;
  timings: { retrieveMs: number; rankMs: number; totalMs: number };
  rankings: Record<string, RankingOutcome>;
}

/** The served extractive metrics of one ranking, without the question count (the run holds it). */
export type RankingSummary = Omit<ExtractiveSummary, 'questions'>;

export interface RankerEvalSummary {
  questions: number;
  k: number;
  retrieval: { 'recall@1': number; [key: `recall@${number}`]: number };
  answerInCandidates: number;
  rankings: Record<string, RankingSummary>;
  latencyMs: { retrieveMs: LatencySummary; rankMs: LatencySummary; totalMs: LatencySummary };
}

function outcome(q: RankerQuestion, ranked: readonly (FeaturedCandidate & { score: number })[]): RankingOutcome {
  const top = ranked.slice(0, 3).map((c) => ({ documentId: c.documentId, chunkId: c.chunkId, start: c.start, end: c.end, text: c.text, score: c.score }));
  const span = top[0] ? answerSpan(q.question, top[0]) : null;
  // Scored as `rag eval squad` scores the served extractive answers.
  const s = scoreExtractive(q, top, span);
  return { top, top1: s.top1, top3: s.top3, top1Strict: s.top1Strict, top3Strict: s.top3Strict, f1: s.sentenceF1, span, answerEm: s.em, answerF1: s.f1 };
}

/**
 * The no-learning baseline on the same retrieval: passages in retrieval order, sentences within a passage by
 * BM25 against the question with the passage's sentences as the collection (the compressor's lexical scorer).
 */
export function baselineRanking(question: string, candidates: readonly FeaturedCandidate[]): (FeaturedCandidate & { score: number })[] {
  const byPassage = new Map<number, FeaturedCandidate[]>();
  for (const c of candidates) byPassage.set(c.passage, [...(byPassage.get(c.passage) ?? []), c]);
  const out: (FeaturedCandidate & { score: number })[] = [];
  for (const [, cs] of [...byPassage].sort((a, b) => a[0] - b[0])) {
    const scores = lexicalSentenceScores(cs.map((c) => c.text), question);
    out.push(...cs.map((c, i) => ({ ...c, score: scores[i] })).sort((a, b) => b.score - a.score || a.sentence - b.sentence));
  }
  return out;
}

export interface RankerEvalOptions {
  k: number;
  /** The model serving would use: its retrieval + ranking is what the latency measures. */
  served: { name: string; model: RankerModel };
  /** Other models scored on the same retrieval and features (not timed). */
  compare?: Record<string, RankerModel>;
  onProgress?: (done: number, total: number) => void;
}

/** Asks every question in turn (one at a time, as latency is measured per question). */
export async function evaluateRanker(
  questions: readonly RankerQuestion[],
  retrieve: PassageRetriever,
  opts: RankerEvalOptions,
): Promise<{ summary: RankerEvalSummary; items: RankerEvalItem[] }> {
  const items: RankerEvalItem[] = [];
  for (const q of questions) {
    const t0 = performance.now();
    const r = await retrieve(q.question);
    const t1 = performance.now();
    const candidates = extractFeatures(q.question, r.passages, r.stats, r.dense);
    const served = opts.served.model.rank(candidates);
    const t2 = performance.now();
    const rankings: Record<string, RankingOutcome> = { [opts.served.name]: outcome(q, served) };
    for (const [name, model] of Object.entries(opts.compare ?? {})) rankings[name] = outcome(q, model.rank(candidates));
    rankings.baseline = outcome(q, baselineRanking(q.question, candidates));
    items.push({
      id: q.id,
      question: q.question,
      documentId: q.documentId,
      golds: q.golds,
      goldPassageRank: [...new Set(r.passages.map((p) => p.documentId))].indexOf(q.documentId),
      candidates: candidates.length,
      answerInCandidates: candidates.some((c) => containsAnswer(c.text, q.golds)),
      timings: { retrieveMs: t1 - t0, rankMs: t2 - t1, totalMs: t2 - t0 },
      rankings,
    });
    opts.onProgress?.(items.length, questions.length);
  }
  return { summary: summarizeRankerEval(items, opts.k), items };
}

export function summarizeRankerEval(items: readonly RankerEvalItem[], k: number): RankerEvalSummary {
  const share = (f: (it: RankerEvalItem) => boolean): number => mean(items.map((it) => (f(it) ? 1 : 0)));
  const names = [...new Set(items.flatMap((it) => Object.keys(it.rankings)))];
  const rankings: Record<string, RankingSummary> = {};
  for (const name of names) {
    // Summarised as `rag eval squad` summarises the served extractive answers.
    const { questions: _, ...summary } = summarizeExtractive(
      items.map((it) => {
        const o = it.rankings[name];
        return { top1: o.top1, top3: o.top3, top1Strict: o.top1Strict, top3Strict: o.top3Strict, sentenceF1: o.f1, em: o.answerEm, f1: o.answerF1, span: o.span !== null };
      }),
    );
    rankings[name] = summary;
  }
  const retrieval: RankerEvalSummary['retrieval'] = { 'recall@1': share((it) => it.goldPassageRank === 0) };
  retrieval[`recall@${k}`] = share((it) => it.goldPassageRank >= 0);
  return {
    questions: items.length,
    k,
    retrieval,
    answerInCandidates: share((it) => it.answerInCandidates),
    rankings,
    latencyMs: {
      retrieveMs: summarizeLatency(items.map((it) => it.timings.retrieveMs)),
      rankMs: summarizeLatency(items.map((it) => it.timings.rankMs)),
      totalMs: summarizeLatency(items.map((it) => it.timings.totalMs)),
    },
  };
}
