/**
 * Byte-level BPE in the Hugging Face `tokenizers` format (GPT-2 / Qwen2 family): every byte is a token, so any
 * UTF-8 text round-trips; merges are learned deterministically from a corpus.
 */

/** GPT-2's byte -> printable character table (bytes that are not printable get code points from 256 up). */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) table[b] = printable.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + extra++);
  return table;
}

/** The GPT-2 pre-tokenization pattern (also what the `ByteLevel` pre-tokenizer applies with use_regex). */
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export const SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

export interface LearnedBpe {
  /** Token string (byte-level alphabet) -> id; ids 0..255 are the single bytes. */
  vocab: Map<string, number>;
  merges: [string, string][];
}

/**
 * Learns up to `mergeCount` merges: repeatedly merge the most frequent adjacent pair (ties broken by the
 * pair's strings, so the result never depends on iteration order); stop early when no pair occurs `minCount`
 * times. The default 1 lets rare corpus words become whole tokens, as in real vocabularies.
 */
export function learnBpe(corpus: string, mergeCount: number, minCount = 1): LearnedBpe {
  const byteChar = bytesToUnicode();
  const encoder = new TextEncoder();
  const wordCounts = new Map<string, number>();
  for (const m of corpus.matchAll(GPT2_PATTERN)) wordCounts.set(m[0], (wordCounts.get(m[0]) ?? 0) + 1);
  const words = [...wordCounts.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([w, count]) => ({ symbols: [...encoder.encode(w)].map((b) => byteChar[b]), count }));

  const vocab = new Map<string, number>();
  // Byte tokens ordered by byte value, as in GPT-2.
  byteChar.forEach((ch, b) => vocab.set(ch, b));
  const merges: [string, string][] = [];
  const SEP = '\u0000';
  while (merges.length < mergeCount) {
    const pairCounts = new Map<string, number>();
    for (const w of words) {
      for (let i = 0; i + 1 < w.symbols.length; i++) {
        const key = w.symbols[i] + SEP + w.symbols[i + 1];
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + w.count);
      }
    }
    let best: string | null = null;
    let bestCount = minCount - 1;
    for (const [key, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && best !== null && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (best === null) break;
    const [a, b] = best.split(SEP) as [string, string];
    const merged = a + b;
    merges.push([a, b]);
    if (!vocab.has(merged)) vocab.set(merged, vocab.size);
    for (const w of words) {
      const s = w.symbols;
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] === a && s[i + 1] === b) s.splice(i, 2, merged);
      }
    }
  }
  return { vocab, merges };
}

export interface TokenizerFiles {
  tokenizerJson: object;
  specialTokenIds: Record<(typeof SPECIAL_TOKENS)[number], number>;
  vocabSize: number;
}

/** Renders a learned BPE as `tokenizer.json`; the special tokens follow the learned vocabulary. */
export function tokenizerJson(bpe: LearnedBpe): TokenizerFiles {
  const specialTokenIds = {} as Record<(typeof SPECIAL_TOKENS)[number], number>;
  const addedTokens = SPECIAL_TOKENS.map((content, i) => {
    const id = bpe.vocab.size + i;
    specialTokenIds[content] = id;
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true };
  return {
    specialTokenIds,
    vocabSize: bpe.vocab.size + SPECIAL_TOKENS.length,
    tokenizerJson: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: addedTokens,
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: byteLevel,
      decoder: byteLevel,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab: Object.fromEntries(bpe.vocab),
        merges: bpe.merges,
      },
    },
  };
}

/** ChatML, as used by Qwen2 and SmolLM2 instruct models. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
