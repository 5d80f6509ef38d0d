import type { Span } from '../../indexer/text/SentenceSplitter.js';

/**
 * The sentences an extractive answer is chosen from: every sentence of every retrieved passage, in
 * retrieval order, with its exact document offsets (citations and answers are cut from them).
 */
export interface RankerPassage {
  documentId: string;
  chunkId: string;
  /** Document title, when known: questions often name the topic that a sentence leaves implicit. */
  title?: string;
  text: string;
  /** Offset of `text` in its document. */
  start: number;
  /** Sentence spans in document offsets, inside [start, start + text.length). */
  sentences: readonly Span[];
  /** Position of the chunk in its document (0 = first). */
  chunkIndex: number;
  /** Retrieval score as the search reported it, and 0-based rank. */
  score: number;
  rank: number;
}

export interface SentenceCandidate {
  /** Index of the passage in the list the candidates were drawn from. */
  passage: number;
  /** Index of the sentence in its passage. */
  sentence: number;
  documentId: string;
  chunkId: string;
  /** Document offsets of the sentence. */
  start: number;
  end: number;
  text: string;
}

export function sentenceCandidates(passages: readonly RankerPassage[]): SentenceCandidate[] {
  const out: SentenceCandidate[] = [];
  passages.forEach((p, pi) => {
    const end = p.start + p.text.length;
    p.sentences.forEach((s, si) => {
      if (s.start < p.start || s.end > end || s.end < s.start) {
        throw new RangeError(`passage ${p.chunkId}: sentence [${s.start}, ${s.end}) outside the chunk [${p.start}, ${end})`);
      }
      out.push({ passage: pi, sentence: si, documentId: p.documentId, chunkId: p.chunkId, start: s.start, end: s.end, text: p.text.slice(s.start - p.start, s.end - p.start) });
    });
  });
  return out;
}
