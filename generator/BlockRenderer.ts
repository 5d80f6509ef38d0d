import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { PromptTemplate, encodePiece } from './PromptTemplate.js';

/** A retrieved chunk as the generator needs it (the fields of a stored chunk plus its document's title). */
export interface BlockSource {
  chunkId: string;
  documentId: string;
  title?: string;
  text: string;
  /** Character offset of `text` in its document. */
  start: number;
  /** Sentence spans in document offsets, in order, inside [start, start + text.length]. */
  sentences: { start: number; end: number }[];
}

export interface RenderedSentence {
  /** Token range in the block, [tokenStart, tokenEnd). */
  tokenStart: number;
  tokenEnd: number;
  /** The sentence's span in the source document. */
  charStart: number;
  charEnd: number;
}

export interface RenderedBlock {
  chunkId: string;
  label: string;
  tokens: number[];
  headerLength: number;
  sentences: RenderedSentence[];
}

/**
 * Renders a chunk as a position-independent block: header tokens, then each sentence tokenised on its own so
 * sentence boundaries are token boundaries (the compressor drops sentences' KV by these ranges). Text between
 * sentences (whitespace) goes with the following sentence, text after the last one with the last, so the
 * block's tokens cover the whole chunk.
 */
export function renderBlock(tokenizer: PreTrainedTokenizer, chunk: BlockSource): RenderedBlock {
  const label = (chunk.title && chunk.title.trim()) || chunk.documentId;
  const tokens = encodePiece(tokenizer, PromptTemplate.blockHeader(label));
  const headerLength = tokens.length;
  const end = chunk.start + chunk.text.length;
  const spans = chunk.sentences.length > 0 ? chunk.sentences : [{ start: chunk.start, end }];
  const sentences: RenderedSentence[] = [];
  let cursor = chunk.start;
  for (const [i, s] of spans.entries()) {
    if (s.start < cursor || s.end < s.start || s.end > end) {
      throw new Error(`chunk ${chunk.chunkId}: sentence ${i} [${s.start}, ${s.end}) is out of order or outside the chunk [${chunk.start}, ${end})`);
    }
    const pieceEnd = i === spans.length - 1 ? end : s.end;
    const piece = chunk.text.slice(cursor - chunk.start, pieceEnd - chunk.start);
    const ids = piece.length > 0 ? encodePiece(tokenizer, piece) : [];
    sentences.push({ tokenStart: tokens.length, tokenEnd: tokens.length + ids.length, charStart: s.start, charEnd: s.end });
    tokens.push(...ids);
    cursor = pieceEnd;
  }
  return { chunkId: chunk.chunkId, label, tokens, headerLength, sentences };
}
