import type { BlockKv } from '../generator/BlockAttentionGenerator.js';
import type { BlockSource, RenderedBlock } from '../generator/BlockRenderer.js';
import type { StoredChunk } from '../indexer/store/types.js';

/** The chunk a passage carries: the generator's block source, its end offset, and how retrieval scored it. */
export interface PassageChunk extends BlockSource {
  /** Character offset in its document where `text` ends. */
  end: number;
  /** Retrieval score; null for passages the caller supplied. */
  score: number | null;
  /** Position of the chunk in its document (0 = first); null for passages the caller supplied. */
  index: number | null;
}

/** What selection kept of a passage. */
export interface KeptSentences {
  /** Kept sentence indices, ascending. */
  sentences: number[];
  /** Kept token indices of the rendered block (header + kept sentences), or null: the whole block, uncompressed. */
  tokens: number[] | null;
  /** Sum of the kept sentences' scores (relevance for placement after compression); null without scores. */
  mass: number | null;
}

/**
 * One retrieved chunk on its way through the ask pipeline. Retrieval creates it; each later stage fills its own
 * field (render: `block`, fetchKv: `kv`, score: `scores`, select: `kept`, order: `slot`; extractive runs: rank: `scores`) and reads what earlier
 * stages wrote, so one record per passage flows down instead of arrays indexed by retrieval rank.
 */
export interface Passage {
  /** Retrieval rank, 0 = best. */
  readonly rank: number;
  readonly chunk: PassageChunk;
  block: RenderedBlock | null;
  /** Blocks mode: the block's KV as a continuation of the shared prefix, and where it came from. */
  kv: BlockKv | null;
  /** Per sentence relevance; null when not compressing. */
  scores: number[] | null;
  kept: KeptSentences | null;
  /** Position among the placed blocks; null until ordered, and for a passage that kept none of its sentences. */
  slot: number | null;
}

/**
 * A stored chunk as a generator block. Written once: the prefill queue and the ask path must render a chunk to the
 * same tokens, or the blocks prefilled at ingestion would never be hit (block keys hash the tokens).
 */
export function blockSourceOf(chunk: Pick<StoredChunk, 'id' | 'documentId' | 'text' | 'start' | 'sentences'>, title: string | undefined): BlockSource {
  return { chunkId: chunk.id, documentId: chunk.documentId, title: title || undefined, text: chunk.text, start: chunk.start, sentences: chunk.sentences };
}

export function newPassage(rank: number, chunk: PassageChunk): Passage {
  return { rank, chunk, block: null, kv: null, scores: null, kept: null, slot: null };
}

/** Passages the caller supplies (calibration prompts, probe-training paragraphs, benchmark haystacks), in rank order. */
export function givenPassages(blocks: readonly BlockSource[]): Passage[] {
  return blocks.map((b, rank) => newPassage(rank, { ...b, end: b.start + b.text.length, score: null, index: null }));
}

/** A field an earlier stage should have filled; a missing one is a stage-order bug, not bad input. */
export function filled<T>(value: T | null, field: keyof Passage, p: Passage): T {
  if (value === null) throw new Error(`passage ${p.chunk.chunkId}: "${String(field)}" is not filled yet (stage order)`);
  return value;
}

/** The placed passages in slot order. */
export function placed(passages: readonly Passage[]): Passage[] {
  return passages.filter((p) => p.slot !== null).sort((a, b) => (a.slot as number) - (b.slot as number));
}
