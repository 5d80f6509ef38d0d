import type { Probe } from './Probe.js';
import type { TappedPass } from './QuestionPass.js';
import { rawAttentionScore, sentenceFeatures } from './SentenceFeatures.js';

/** Features of every sentence of every block of a question pass: result[block][sentence]. */
export function blockSentenceFeatures(pass: TappedPass): Float64Array[][] {
  const flat: { columns: number[] }[] = [];
  const owner: [number, number][] = [];
  pass.blocks.forEach((block, b) =>
    block.sentences.forEach((s, si) => {
      if (s.tokenEnd > s.tokenStart) {
        flat.push({ columns: Array.from({ length: s.tokenEnd - s.tokenStart }, (_, t) => block.tokenIndices[s.tokenStart + t]) });
        owner.push([b, si]);
      }
    }),
  );
  const feats = sentenceFeatures(pass, pass.contextColumns, flat);
  const width = pass.attentions.length * pass.heads;
  // A sentence without tokens (nothing to attend to) gets all-zero features.
  const out: Float64Array[][] = pass.blocks.map((block) => block.sentences.map(() => new Float64Array(width)));
  owner.forEach(([b, si], i) => (out[b][si] = feats[i]));
  return out;
}

/**
 * Sentence relevance per block: the probe's probability when a probe is given, otherwise the raw-attention
 * score (feature mean over layer-heads). Scores are comparable across blocks of one pass.
 */
export function scoreSentences(pass: TappedPass, probe?: Probe | null): number[][] {
  return blockSentenceFeatures(pass).map((block) => block.map((f) => (probe ? probe.score(f) : rawAttentionScore(f))));
}
