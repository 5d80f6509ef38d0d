import type { PreTrainedTokenizer } from '@huggingface/transformers';

/** How far back a window starts: enough tokens for any merge or multi-byte character across its edge. */
const WINDOW_BACK = 6;

/**
 * Turns generated token ids into text deltas as they arrive, decoding only a short window around the newest tokens
 * (decoding every token generated so far at each step costs O(n) per token, O(n^2) per answer). The window is
 * decoded twice, with and without the newest tokens, and the difference is the delta: tokenizers that drop a
 * leading space at the start of what they decode drop it from both. A trailing incomplete UTF-8 sequence (U+FFFD)
 * is held back until its next byte arrives.
 */
export class TextStream {
  private readonly ids: number[] = [];
  /** Start of the decoded window; tokens before `emitted` have had their text emitted. */
  private windowStart = 0;
  private emitted = 0;

  constructor(private readonly tokenizer: PreTrainedTokenizer) {}

  /** Adds a token; returns the text it completes (may be empty). */
  push(id: number): string {
    this.ids.push(id);
    const decode = (ids: number[]): string => (ids.length > 0 ? this.tokenizer.decode(ids, { skip_special_tokens: true }) : '');
    const before = decode(this.ids.slice(this.windowStart, this.emitted));
    const now = decode(this.ids.slice(this.windowStart));
    if (now.endsWith('\uFFFD') || now.length <= before.length || !now.startsWith(before)) return '';
    this.emitted = this.ids.length;
    this.windowStart = Math.max(this.windowStart, this.emitted - WINDOW_BACK);
    return now.slice(before.length);
  }

  /** The whole text (one full decode, once). */
  text(): string {
    return this.ids.length > 0 ? this.tokenizer.decode(this.ids, { skip_special_tokens: true }) : '';
  }
}
