import { containsAnswer, mean, squadScores } from './metrics.js';

/**
 * How good an extractive answer is against SQuAD golds, as `rag ranker eval` scores the ranker: a sentence
 * "contains a gold answer" when a gold occurs in it as whole tokens after SQuAD normalisation (whichever paragraph
 * it comes from); "strict" also requires it to be the question's own paragraph and cover a gold answer span. The
 * answer is scored by SQuAD EM/F1 as the short span when there is one, else the whole sentence.
 */
export interface ExtractiveSpan {
  documentId: string;
  start: number;
  end: number;
  text: string;
}

export interface ExtractiveOutcome {
  top1: boolean;
  top3: boolean;
  top1Strict: boolean;
  top3Strict: boolean;
  /** SQuAD F1 of the whole answer sentence. */
  sentenceF1: number;
  /** Span-or-sentence answer. */
  em: number;
  f1: number;
  span: boolean;
}

export interface ExtractiveSummary {
  questions: number;
  top1: number;
  top3: number;
  top1Strict: number;
  top3Strict: number;
  sentenceF1: number;
  answerEm: number;
  answerF1: number;
  /** Questions answered with a short span inside the sentence. */
  spans: number;
}

export interface ExtractiveQuestion {
  documentId: string;
  golds: readonly string[];
  answerSpans: readonly { start: number; end: number }[];
}

/** The question's own paragraph, and a sentence that covers one of its gold answer spans. */
export function isStrictGold(q: ExtractiveQuestion, c: { documentId: string; start: number; end: number }): boolean {
  return c.documentId === q.documentId && q.answerSpans.some((a) => a.start >= c.start && a.end <= c.end);
}

export function scoreExtractive(q: ExtractiveQuestion, ranked: readonly ExtractiveSpan[], span: { text: string } | null | undefined): ExtractiveOutcome {
  const top = ranked.slice(0, 3);
  const has = top.map((s) => containsAnswer(s.text, q.golds));
  const strict = top.map((s) => isStrictGold(q, s));
  const sentence = top[0] ? squadScores(top[0].text, q.golds) : { em: 0, f1: 0 };
  const answer = span ? squadScores(span.text, q.golds) : sentence;
  return {
    top1: has[0] ?? false,
    top3: has.some(Boolean),
    top1Strict: strict[0] ?? false,
    top3Strict: strict.some(Boolean),
    sentenceF1: sentence.f1,
    em: answer.em,
    f1: answer.f1,
    span: Boolean(span),
  };
}

export function summarizeExtractive(outcomes: readonly ExtractiveOutcome[]): ExtractiveSummary {
  const share = (f: (o: ExtractiveOutcome) => boolean): number => mean(outcomes.map((o) => (f(o) ? 1 : 0)));
  return {
    questions: outcomes.length,
    top1: share((o) => o.top1),
    top3: share((o) => o.top3),
    top1Strict: share((o) => o.top1Strict),
    top3Strict: share((o) => o.top3Strict),
    sentenceF1: mean(outcomes.map((o) => o.sentenceF1)),
    answerEm: mean(outcomes.map((o) => o.em)),
    answerF1: mean(outcomes.map((o) => o.f1)),
    spans: outcomes.filter((o) => o.span).length,
  };
}
