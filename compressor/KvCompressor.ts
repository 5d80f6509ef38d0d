import type { BlockSource } from '../generator/BlockRenderer.js';
import { KvCache } from '../model/kv/KvCache.js';

/**
 * Sentence-level compression of an assembled context.
 *
 * KV space: every token outside the blocks (the shared prefix) and every block's header are kept; of each
 * block's sentences only the kept ones remain. The surviving tokens are re-encoded to contiguous positions
 * (KvCache.select + reencodeTo: keys rotated by their position delta, values untouched), so the final block can
 * run right after them as if the shorter context had been laid out that way.
 *
 * Text space (for comparison): the kept sentences' text is re-assembled into a shorter passage that is then
 * rendered and prefilled like any other block; a map ties every piece of it back to the source offsets.
 */
export interface CompressibleBlock {
  /** Indices of the block's tokens in the assembled KV, in block order (header first). */
  tokenIndices: ArrayLike<number>;
  headerLength: number;
  /** Sentence token ranges relative to the block's tokens, [tokenStart, tokenEnd). */
  sentences: readonly { tokenStart: number; tokenEnd: number }[];
}

export interface CompressedBlock {
  /** Indices of the block's surviving tokens in the compressed KV. */
  tokenIndices: number[];
  headerLength: number;
  /** Kept sentences' token ranges relative to the compressed block. */
  sentences: { tokenStart: number; tokenEnd: number }[];
  /** Source sentence index of each kept sentence. */
  keptSentences: number[];
}

export interface KvCompression {
  kv: KvCache;
  blocks: CompressedBlock[];
  /** Source KV index of every compressed KV entry. */
  sourceIndices: Int32Array;
  droppedTokens: number;
}

/**
 * Drops the KV of unkept sentences. `keep[b]` lists the kept sentence indices of block b. Positions are laid
 * out contiguously from the first entry's position (0 for a prompt that starts with the prefix).
 */
export function compressKv(kv: KvCache, blocks: readonly CompressibleBlock[], keep: readonly (readonly number[])[], ropeTheta: number): KvCompression {
  if (keep.length !== blocks.length) throw new Error(`compressKv: ${keep.length} keep lists for ${blocks.length} blocks`);
  const drop = new Uint8Array(kv.length);
  const inBlock = new Int32Array(kv.length).fill(-1);
  const plans = blocks.map((block, b) => {
    const kept = [...new Set(keep[b])].sort((x, y) => x - y);
    for (const s of kept) if (!Number.isInteger(s) || s < 0 || s >= block.sentences.length) throw new RangeError(`block ${b}: sentence ${s} does not exist`);
    const keptSet = new Set(kept);
    const n = block.tokenIndices.length;
    let prevEnd = block.headerLength;
    for (const [si, s] of block.sentences.entries()) {
      if (s.tokenStart < prevEnd || s.tokenEnd < s.tokenStart || s.tokenEnd > n) throw new Error(`block ${b}: sentence ${si} token range [${s.tokenStart}, ${s.tokenEnd}) overlaps or is outside the block`);
      prevEnd = s.tokenEnd;
      if (!keptSet.has(si)) for (let t = s.tokenStart; t < s.tokenEnd; t++) drop[block.tokenIndices[t]] = 1;
    }
    for (let t = 0; t < n; t++) {
      const idx = block.tokenIndices[t];
      if (inBlock[idx] !== -1) throw new Error(`KV entry ${idx} belongs to two blocks`);
      inBlock[idx] = b;
    }
    return kept;
  });
  const sourceIndices: number[] = [];
  const newIndex = new Int32Array(kv.length).fill(-1);
  for (let i = 0; i < kv.length; i++) {
    if (drop[i]) continue;
    newIndex[i] = sourceIndices.length;
    sourceIndices.push(i);
  }
  const start = kv.length > 0 ? kv.positions[0] : 0;
  const selected = kv.select(sourceIndices);
  const out = selected.reencodeTo(Int32Array.from(sourceIndices, (_, j) => start + j), ropeTheta);

  const compressedBlocks: CompressedBlock[] = blocks.map((block, b) => {
    const tokenIndices: number[] = [];
    for (let t = 0; t < block.tokenIndices.length; t++) {
      const j = newIndex[block.tokenIndices[t]];
      if (j >= 0) tokenIndices.push(j);
    }
    const sentences: { tokenStart: number; tokenEnd: number }[] = [];
    let at = block.headerLength;
    for (const si of plans[b]) {
      const s = block.sentences[si];
      const len = s.tokenEnd - s.tokenStart;
      sentences.push({ tokenStart: at, tokenEnd: at + len });
      at += len;
    }
    return { tokenIndices, headerLength: block.headerLength, sentences, keptSentences: plans[b] };
  });
  return { kv: out, blocks: compressedBlocks, sourceIndices: Int32Array.from(sourceIndices), droppedTokens: kv.length - sourceIndices.length };
}

/** A chunk's text with sentence spans in document offsets: the generator's block source. */
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
