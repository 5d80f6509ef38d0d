import { answerSpan, type AnswerSpan } from '../../compressor/ranker/AnswerSpan.js';
import { extractFeatures, type CollectionStatistics } from '../../compressor/ranker/RankerFeatures.js';
import type { RankerPassage } from '../../compressor/ranker/SentenceCandidates.js';
import type { SentenceRanker } from '../../compressor/ranker/SentenceRanker.js';
import type { EmbedderIdentity } from '../../indexer/embedding/Embedder.js';
import type { SearchMode } from '../../retriever/SearchService.js';
import type { Passage } from '../Passage.js';

/** One sentence of a retrieved passage as an extractive answer or candidate: its exact document span and ranker score. */
export interface RankedSentence {
  documentId: string;
  chunkId: string;
  /** Offsets in the document text; `text` is exactly that slice. */
  start: number;
  end: number;
  text: string;
  score: number;
}

/** Which of the ranker's models scored the sentences, and why not the embedder one. */
export interface RankingInfo {
  model: 'embedder' | 'lexical';
  fallback: string | null;
}

export interface Extraction {
  answer: RankedSentence;
  /** The next best sentences, best first. */
  candidates: RankedSentence[];
  /** A short answer inside the answer sentence (when the question's type calls for one and the sentence has it). */
  span: AnswerSpan | null;
}

/** What ranking reads beside the passages: the ranker, the collection's BM25 statistics, and the setup serving uses. */
export interface RankingInputs {
  ranker: SentenceRanker;
  stats: CollectionStatistics;
  embedder: EmbedderIdentity | null;
  searchMode: SearchMode;
}

/** How many sentences after the answer an extractive response lists. */
export const EXTRACTIVE_CANDIDATES = 4;

/**
 * Stage `rank` (extractive runs): every sentence of every retrieved passage scored by the learned sentence ranker,
 * with the features `rag ranker train|eval` use (so the served answer is the evaluated one). Fills `scores`.
 */
export function rank(passages: readonly Passage[], question: string, inputs: RankingInputs): RankingInfo {
  const rankerPassages: RankerPassage[] = passages.map((p) => ({
    documentId: p.chunk.documentId,
    chunkId: p.chunk.chunkId,
    title: p.chunk.title,
    text: p.chunk.text,
    start: p.chunk.start,
    sentences: p.chunk.sentences,
    chunkIndex: p.chunk.index ?? 0,
    score: p.chunk.score ?? 0,
    rank: p.rank,
  }));
  const selection = inputs.ranker.select({ embedder: inputs.embedder, mode: inputs.searchMode });
  const candidates = extractFeatures(question, rankerPassages, inputs.stats);
  for (const p of passages) p.scores = p.chunk.sentences.map(() => -Infinity);
  for (const c of candidates) (passages[c.passage]!.scores as number[])[c.sentence] = selection.model.score(c.features);
  return { model: selection.kind, fallback: selection.fallback };
}

/**
 * Stage `extract` (the extractive terminal): the best-scored sentence is the answer, cut from its chunk by its
 * document offsets; ties go to the better-retrieved passage, then the earlier sentence.
 */
export function extract(passages: readonly Passage[], question: string, more = EXTRACTIVE_CANDIDATES): Extraction | null {
  const all: (RankedSentence & { rank: number; sentence: number })[] = passages.flatMap((p) =>
    p.chunk.sentences.map((s, i) => ({
      documentId: p.chunk.documentId,
      chunkId: p.chunk.chunkId,
      start: s.start,
      end: s.end,
      text: p.chunk.text.slice(s.start - p.chunk.start, s.end - p.chunk.start),
      score: p.scores?.[i] ?? -Infinity,
      rank: p.rank,
      sentence: i,
    })),
  );
  const ranked = all.filter((s) => s.text.trim().length > 0 && Number.isFinite(s.score)).sort((a, b) => b.score - a.score || a.rank - b.rank || a.sentence - b.sentence);
  if (ranked.length === 0) return null;
  const plain = ({ rank: _r, sentence: _s, ...s }: (typeof ranked)[number]): RankedSentence => s;
  const answer = plain(ranked[0]!);
  return { answer, candidates: ranked.slice(1, 1 + more).map(plain), span: answerSpan(question, answer) };
}
