/** Anything that can say how many model tokens a text costs (a real tokenizer, or the heuristic below). */
export interface TokenCounter {
  count(text: string): number;
}

// Letter runs, digit runs, or single other non-space characters (punctuation, symbols).
const PIECES = /(\p{L}[\p{L}\p{M}']*)|(\p{N}+)|([^\s\p{L}\p{N}])/gu;

/** Approximate subword tokens of one word: short common words are one token, long ones split. */
function wordTokens(length: number): number {
  return Math.max(1, Math.ceil(length / 6));
}

/**
 * Tokenizer-free estimate used when no model tokenizer is loaded. Mirrors how BPE vocabularies
 * behave on English: most words are one token, long words a few, digits in groups of three,
 * every punctuation mark its own token. About 4 characters per token on English prose.
 */
export class HeuristicTokenCounter implements TokenCounter {
  count(text: string): number {
    let n = 0;
    for (const m of text.matchAll(PIECES)) {
      if (m[1] !== undefined) n += wordTokens(m[1].length);
      else if (m[2] !== undefined) n += Math.ceil(m[2].length / 3);
      else n += 1;
    }
    return n;
  }
}
