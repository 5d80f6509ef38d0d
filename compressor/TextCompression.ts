import type { BlockSource } from '../generator/BlockRenderer.js';

/**
 * Text-space compression (full mode): the kept sentences' text is re-assembled into a shorter passage that is then
 * rendered and prefilled like any other block; a map ties every piece of it back to the source offsets. (KV-space
 * compression, for blocks mode, is the generator's `assemble({keep})`.)
 *
 * A chunk's text with sentence spans in document offsets is the generator's block source.
 */
export type TextBlock = BlockSource;

export interface TextPiece {
  /** Range in the compressed text. */
  outStart: number;
  outEnd: number;
  /** The same characters' range in the source document. */
  docStart: number;
  docEnd: number;
}

export interface TextCompression {
  /** The shorter passage, as a block to render: offsets are in compressed-text coordinates (start 0). */
  block: TextBlock;
  /** Kept sentences (and original gaps between adjacent kept sentences) mapped back to the document. */
  pieces: TextPiece[];
  keptSentences: number[];
}

/**
 * Text-space compression: kept sentences in order; two kept neighbours keep the original text between them,
 * other joins become one space.
 */
export function compressText(block: TextBlock, keep: readonly number[]): TextCompression {
  const kept = [...new Set(keep)].sort((a, b) => a - b);
  if (kept.length === 0) throw new Error(`compressText: chunk ${block.chunkId}: nothing kept`);
  const pieces: TextPiece[] = [];
  const sentences: { start: number; end: number }[] = [];
  let text = '';
  let prev = -2;
  for (const si of kept) {
    const s = block.sentences[si];
    if (!s) throw new RangeError(`compressText: chunk ${block.chunkId} has no sentence ${si}`);
    if (s.start < block.start || s.end > block.start + block.text.length) throw new RangeError(`compressText: sentence ${si} lies outside the chunk`);
    if (prev === si - 1) {
      const gapStart = block.sentences[prev].end;
      const gap = block.text.slice(gapStart - block.start, s.start - block.start);
      if (gap.length > 0) pieces.push({ outStart: text.length, outEnd: text.length + gap.length, docStart: gapStart, docEnd: s.start });
      text += gap;
    } else if (text.length > 0) {
      text += ' ';
    }
    const body = block.text.slice(s.start - block.start, s.end - block.start);
    sentences.push({ start: text.length, end: text.length + body.length });
    pieces.push({ outStart: text.length, outEnd: text.length + body.length, docStart: s.start, docEnd: s.end });
    text += body;
    prev = si;
  }
  return { block: { chunkId: block.chunkId, documentId: block.documentId, title: block.title, text, start: 0, sentences }, pieces, keptSentences: kept };
}
