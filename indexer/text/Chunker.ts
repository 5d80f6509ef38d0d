import { createHash } from 'node:crypto';
import { splitSentences, type Span } from './SentenceSplitter.js';
import type { TokenCounter } from './TokenCounter.js';

export type { TokenCounter } from './TokenCounter.js';
export { HeuristicTokenCounter } from './TokenCounter.js';
export type { Span } from './SentenceSplitter.js';

/**
 * Sentence-aligned chunking with exact offsets. A chunk is a run of whole sentences whose size
 * stays within the token target; the compressor and citations reuse the sentence spans, so they
 * are kept in document coordinates. Only a sentence longer than maxTokens is cut, at word
 * boundaries (or, for a single enormous "word", at character boundaries).
 */
export interface ChunkOptions {
  targetTokens: number;
  /** Hard cap; a single sentence above it is split. Defaults to 2 x targetTokens. */
  maxTokens?: number;
}

export interface ChunkDraft {
  index: number;
  start: number;
  end: number;
  text: string;
  /** Sentence spans inside the chunk, in document offsets. */
  sentences: Span[];
  tokenCount: number;
  /** sha256 (hex) of `text`. */
  contentHash: string;
}

export function contentHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

interface Piece extends Span {
  tokens: number;
}

/** Cut an over-long span into consecutive pieces of at most maxTokens, preferring whitespace boundaries. */
function splitLongSpan(text: string, span: Span, maxTokens: number, counter: TokenCounter): Piece[] {
  const words: Span[] = [];
  const re = /\S+/g;
  re.lastIndex = span.start;
  const body = text.slice(0, span.end);
  for (let m = re.exec(body); m; m = re.exec(body)) {
    const ws = m.index;
    const we = m.index + m[0].length;
    if (counter.count(m[0]) <= maxTokens) {
      words.push({ start: ws, end: we });
      continue;
    }
    // A "word" that alone exceeds the cap (URLs, base64, CJK without spaces): cut by characters.
    let s = ws;
    while (s < we) {
      let lo = s + 1;
      let hi = we;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (counter.count(text.slice(s, mid)) <= maxTokens) lo = mid;
        else hi = mid - 1;
      }
      words.push({ start: s, end: lo });
      s = lo;
    }
  }
  const pieces: Piece[] = [];
  let cur: Piece | undefined;
  for (const w of words) {
    if (cur) {
      const tokens = counter.count(text.slice(cur.start, w.end));
      if (tokens <= maxTokens) {
        cur.end = w.end;
        cur.tokens = tokens;
        continue;
      }
      pieces.push(cur);
    }
    cur = { start: w.start, end: w.end, tokens: counter.count(text.slice(w.start, w.end)) };
  }
  if (cur) pieces.push(cur);
  return pieces;
}

export function chunkDocument(text: string, options: ChunkOptions, counter: TokenCounter): ChunkDraft[] {
  const target = options.targetTokens;
  const max = options.maxTokens ?? 2 * target;
  if (!(target >= 1) || !(max >= target)) {
    throw new RangeError(`chunkDocument: need 1 <= targetTokens <= maxTokens (got ${target}, ${max})`);
  }
  const pieces: Piece[] = [];
  for (const s of splitSentences(text)) {
    const tokens = counter.count(text.slice(s.start, s.end));
    if (tokens <= max) pieces.push({ ...s, tokens });
    else pieces.push(...splitLongSpan(text, s, max, counter));
  }

  const drafts: ChunkDraft[] = [];
  let group: Piece[] = [];
  let groupTokens = 0;
  const flush = () => {
    if (group.length === 0) return;
    const start = group[0].start;
    const end = group[group.length - 1].end;
    const chunkText = text.slice(start, end);
    drafts.push({
      index: drafts.length,
      start,
      end,
      text: chunkText,
      sentences: group.map(({ start: s, end: e }) => ({ start: s, end: e })),
      tokenCount: groupTokens,
      contentHash: contentHash(chunkText),
    });
    group = [];
    groupTokens = 0;
  };
  for (const p of pieces) {
    if (group.length > 0) {
      // Count the joined text, not the sum: tokenizers are not additive across the gap.
      const joined = counter.count(text.slice(group[0].start, p.end));
      if (joined <= target) {
        group.push(p);
        groupTokens = joined;
        continue;
      }
      flush();
    }
    group.push(p);
    groupTokens = p.tokens;
  }
  flush();
  return drafts;
}
