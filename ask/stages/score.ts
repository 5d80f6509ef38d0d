import { lexicalSentenceScores } from '../../compressor/LexicalScorer.js';
import type { Probe } from '../../compressor/Probe.js';
import type { TappedPass } from '../../compressor/QuestionPass.js';
import { scoreSentences } from '../../compressor/SentinelScorer.js';
import type { CompressionMethod } from '../AskRequest.js';
import { filled, type Passage } from '../Passage.js';

/** Whether a compression method scores sentences from the question pass's attention (and so needs that pass, tapped). */
export function readsAttention(method: CompressionMethod): boolean {
  return method === 'raw' || method === 'probe';
}

/**
 * Stage `score`: per-sentence relevance of every passage. `lexical`: BM25 of each sentence against the question
 * (no model pass); `raw`: the last prompt token's renormalised attention, averaged per sentence; `probe`: the trained
 * probe over those layer x head features. `none` scores nothing.
 */
export function score(passages: readonly Passage[], method: CompressionMethod, question: string, tapped: TappedPass | null, probe: Probe | null): void {
  if (method === 'none') return;
  if (method === 'lexical') {
    for (const p of passages) {
      const { chunk } = p;
      p.scores = lexicalSentenceScores(
        filled(p.block, 'block', p).sentences.map((s) => chunk.text.slice(s.charStart - chunk.start, s.charEnd - chunk.start)),
        question,
      );
    }
    return;
  }
  if (!tapped) throw new Error(`score: compression "${method}" needs the tapped question pass`);
  // The pass laid the passages out in retrieval order.
  const byRank = [...passages].sort((a, b) => a.rank - b.rank);
  scoreSentences(tapped, method === 'probe' ? probe : null).forEach((scores, i) => (byRank[i]!.scores = scores));
}
