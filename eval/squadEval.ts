import { answerRetained, mean, rankedDocuments, reciprocalRankAtK, recallAtK, spanCoverage, squadScores } from './metrics.js';
import { summarizeLatency, type LatencySummary } from './latency.js';
import { compressionRatio, contextSpans, type Asker, type EvalAskRequest } from './askOutcome.js';
import { allParagraphs, displayTitle, type SquadDataset, type SquadQuestion } from '../indexer/sources/squad.js';
import { scoreExtractive, summarizeExtractive, type ExtractiveOutcome, type ExtractiveSummary } from './extractiveMetrics.js';

/**
 * SQuAD through the whole ask pipeline: every paragraph of the chosen articles is a document, each selected
 * question is asked once, and the report scores the retrieval that ask used, what the compressor kept, the
 * answer, and the per-stage latencies.
 */
export interface SquadCorpus {
  documents: { id: string; title: string; text: string }[];
  questions: SquadEvalQuestion[];
}

export interface SquadEvalQuestion {
  id: string;
  question: string;
  documentId: string;
  golds: string[];
  /** Answer spans in document offsets (the document text is the paragraph context, unchanged). */
  answerSpans: { start: number; end: number }[];
}

export const documentIdOf = (paragraphId: string): string => `sq${paragraphId}`;

/** One SQuAD question of a paragraph, as the evaluations ask and score it. */
export function evalQuestion(p: { id: string }, q: SquadQuestion): SquadEvalQuestion {
  return {
    id: q.id,
    question: q.question,
    documentId: documentIdOf(p.id),
    golds: q.answers.map((a) => a.text),
    answerSpans: q.answers.map((a) => ({ start: a.answer_start, end: a.answer_start + a.text.length })),
  };
}

/** `n` items spread evenly over the list (item floor(i * total / n)), so a small n still covers every article. */
export function spreadEvenly<T>(items: readonly T[], n: number): T[] {
  const m = Math.min(n, items.length);
  return Array.from({ length: m }, (_, i) => items[Math.floor((i * items.length) / m)]);
}

/**
 * The corpus: every paragraph of the first `articles` articles (all when absent; only `corpusArticles` when given), and
 * `n` of their questions (only those of `questionArticles` when given: the held-out articles of a trained ranker)
 * spread evenly over them (question i*total/n), so a small n still covers many paragraphs and articles.
 */
export function squadCorpus(ds: SquadDataset, opts: { n: number; articles?: number; corpusArticles?: readonly number[]; questionArticles?: readonly number[] }): SquadCorpus {
  const inCorpus = opts.corpusArticles ? new Set(opts.corpusArticles) : null;
  const asked = opts.questionArticles ? new Set(opts.questionArticles) : null;
  const paragraphs = allParagraphs(ds).filter((p) => (opts.articles === undefined || p.articleIndex < opts.articles) && (inCorpus === null || inCorpus.has(p.articleIndex)));
  const documents = paragraphs.map((p) => ({ id: documentIdOf(p.id), title: displayTitle(p.title), text: p.context }));
  const all = paragraphs.filter((p) => asked === null || asked.has(p.articleIndex)).flatMap((p) => p.qas.map((q) => evalQuestion(p, q)));
  return { documents, questions: spreadEvenly(all, opts.n) };
}

export interface SquadEvalItem {
  id: string;
  question: string;
  documentId: string;
  rankedDocuments: string[];
  answer: string;
  golds: string[];
  em: number;
  f1: number;
  /** The gold answer span lay inside the retrieved chunks. */
  goldInRetrieved: boolean;
  /** ...and inside what was kept after compression. */
  goldRetained: boolean;
  /** Kept / total context tokens (1 = no compression). */
  keptFraction: number;
  compressionApplied: string | null;
  orderApplied: string | null;
  timings: Record<string, number | null>;
  /** Extractive answers: whether the answer / the top 3 sentences hold a gold answer, and span EM/F1. */
  extractive?: ExtractiveOutcome;
}

export const RETRIEVAL_KS = [1, 5, 10] as const;
/** The stages reported first, in pipeline order; any other timing the service reports follows. */
export const STAGES = ['retrieveMs', 'assembleMs', 'questionPrefillMs', 'firstTokenMs', 'totalMs'] as const;

export const ANSWER_QUALITY_NOTE =
  'Answer exact match and F1 are meaningful only with a real (pretrained) generator. With the test models this ' +
  'project builds (random weights, e.g. test/tiny) they are noise: they show that the pipeline runs end to end, ' +
  'not how well it answers. Retrieval, latency, and retention under lexical compression do not depend on the generator\'s ' +
  'weights; retention under raw/probe compression does (it follows the model\'s attention), so it too needs a real model.';

export interface SquadEvalSummary {
  questions: number;
  k: number;
  /** recall@K and MRR@10 over documents (paragraphs); null when K exceeds the k the ask retrieved. */
  retrieval: Record<'recall@1' | 'recall@5' | 'recall@10' | 'mrr@10', number | null>;
  retention: {
    /** Questions whose answer span was in the retrieved chunks: the compressor's chance to keep it. */
    eligible: number;
    retained: number;
    /** retained / eligible: what compression lost of what retrieval found. */
    rate: number | null;
    /** retained / questions: end-to-end chance the answer sentence reached the generator. */
    overall: number;
  };
  compression: { requested: string; applied: string[]; keptFraction: LatencySummary; meanRatio: number };
  order: { requested: string; applied: string[] };
  answers: { em: number; f1: number; note: string };
  /** Extractive answers (mode "extractive"): sentence-level hits and span EM/F1; null for generated answers. */
  extractive: ExtractiveSummary | null;
  latencyMs: Record<string, LatencySummary>;
}

/** Scores one ask against its question. */
export function scoreItem(q: SquadEvalQuestion, ask: Awaited<ReturnType<Asker>>): SquadEvalItem {
  const { em, f1 } = squadScores(ask.outcome.answer, q.golds);
  const retrieved = ask.hits.filter((h) => h.documentId === q.documentId);
  const timings: Record<string, number | null> = {};
  for (const [name, v] of Object.entries(ask.outcome.timings)) if (v === null || typeof v === 'number') timings[name] = v;
  return {
    id: q.id,
    question: q.question,
    documentId: q.documentId,
    rankedDocuments: rankedDocuments(ask.hits),
    answer: ask.outcome.answer,
    golds: q.golds,
    em,
    f1,
    goldInRetrieved: q.answerSpans.some((a) => spanCoverage(retrieved, a.start, a.end) === 1),
    goldRetained: answerRetained(contextSpans(ask), q.documentId, q.answerSpans),
    keptFraction: compressionRatio(ask),
    compressionApplied: ask.outcome.compression?.method ?? null,
    orderApplied: ask.outcome.order?.method ?? null,
    timings,
    ...(ask.outcome.mode === 'extractive'
      ? { extractive: scoreExtractive(q, [{ documentId: ask.outcome.citations[0]?.documentId ?? '', start: ask.outcome.citations[0]?.start ?? 0, end: ask.outcome.citations[0]?.end ?? 0, text: ask.outcome.answer }, ...(ask.outcome.sentences ?? [])], ask.outcome.answerSpan) }
      : {}),
  };
}

export const EXTRACTIVE_ANSWER_NOTE =
  'Extractive answers: `answers` EM/F1 score the whole sentence; `extractive` scores the short span when one was cut (else the sentence), ' +
  'and whether the answer sentence (top-1) or one of the first three (top-3) contains a gold answer.';

export function summarize(items: readonly SquadEvalItem[], settings: Pick<EvalAskRequest, 'k' | 'compression' | 'order'>): SquadEvalSummary {
  const ranked = items.map((i) => i.rankedDocuments);
  const metric = (k: number): number | null => (k > settings.k ? null : mean(items.map((it, i) => recallAtK(ranked[i], [it.documentId], k))));
  const eligible = items.filter((i) => i.goldInRetrieved);
  const retained = items.filter((i) => i.goldRetained).length;
  const extractive = items.flatMap((i) => (i.extractive ? [i.extractive] : []));
  const stageNames = [...STAGES, ...new Set(items.flatMap((i) => Object.keys(i.timings)).filter((s) => !(STAGES as readonly string[]).includes(s)))];
  const latencyMs: Record<string, LatencySummary> = {};
  for (const s of stageNames) latencyMs[s] = summarizeLatency(items.map((i) => i.timings[s]));
  return {
    questions: items.length,
    k: settings.k,
    retrieval: {
      'recall@1': metric(1),
      'recall@5': metric(5),
      'recall@10': metric(10),
      'mrr@10': mean(items.map((it, i) => reciprocalRankAtK(ranked[i], [it.documentId], Math.min(10, settings.k)))),
    },
    retention: {
      eligible: eligible.length,
      retained,
      rate: eligible.length ? eligible.filter((i) => i.goldRetained).length / eligible.length : null,
      overall: items.length ? retained / items.length : NaN,
    },
    compression: {
      requested: settings.compression,
      applied: [...new Set(items.map((i) => i.compressionApplied ?? 'none'))],
      keptFraction: summarizeLatency(items.map((i) => i.keptFraction)),
      meanRatio: mean(items.map((i) => (i.keptFraction > 0 ? 1 / i.keptFraction : NaN)).filter(Number.isFinite)),
    },
    order: { requested: settings.order, applied: [...new Set(items.map((i) => i.orderApplied ?? 'retrieval'))] },
    answers: { em: mean(items.map((i) => i.em)), f1: mean(items.map((i) => i.f1)), note: extractive.length ? EXTRACTIVE_ANSWER_NOTE : ANSWER_QUALITY_NOTE },
    extractive: extractive.length ? summarizeExtractive(extractive) : null,
    latencyMs,
  };
}

/** Asks every question in turn (one at a time: the generator already uses every core). */
export async function runSquadEval(
  ask: Asker,
  questions: readonly SquadEvalQuestion[],
  request: Omit<EvalAskRequest, 'question'>,
  onProgress: (done: number, total: number) => void = () => undefined,
): Promise<{ summary: SquadEvalSummary; items: SquadEvalItem[] }> {
  const items: SquadEvalItem[] = [];
  for (const q of questions) {
    items.push(scoreItem(q, await ask({ ...request, question: q.question })));
    onProgress(items.length, questions.length);
  }
  return { summary: summarize(items, request), items };
}
