/**
 * Sentence splitting with exact character offsets.
 *
 * Base: ICU sentence boundaries via `Intl.Segmenter` (Unicode UAX #29), which already handles
 * decimals (3.5), closing quotes/brackets after the terminator and lowercase continuations after a
 * period. UAX #29 has no abbreviation knowledge, so it breaks after "Mr.", "U.S.", initials, and
 * after "?"/"!" inside quoted speech. We repair those by merging adjacent ICU segments, and we
 * treat line breaks the way prose needs: a blank line always ends a sentence, a single newline
 * does too unless the text is hard-wrapped mid-sentence.
 */
export interface Span {
  start: number;
  end: number;
}

/** Abbreviations that precede a name, so a capitalised word after them never starts a sentence. */
const TITLE_ABBREVIATIONS = new Set(
  [
    'mr', 'mrs', 'ms', 'dr', 'prof', 'st', 'mt', 'ft', 'gen', 'col', 'lt', 'capt', 'cpt', 'sgt', 'cmdr', 'adm',
    'maj', 'rev', 'sen', 'rep', 'gov', 'pres', 'hon', 'fr', 'sr', 'messrs', 'mme', 'mlle', 'gov', 'supt', 'insp',
  ],
);

/**
 * Abbreviations that can also end a sentence ("... in Washington, D.C."). After these we only
 * break when the next word is a typical sentence opener (see SENTENCE_STARTERS).
 */
const OTHER_ABBREVIATIONS = new Set([
  'etc', 'vs', 'v', 'inc', 'ltd', 'co', 'corp', 'bros', 'jr', 'no', 'nos', 'vol', 'vols', 'p', 'pp', 'ed', 'eds',
  'approx', 'ca', 'c', 'cf', 'fig', 'figs', 'al', 'dept', 'univ', 'assn', 'est', 'op', 'ch', 'sec', 'art',
  'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec',
  'mon', 'tue', 'tues', 'wed', 'thu', 'thur', 'thurs', 'fri', 'sat', 'sun',
  'ave', 'blvd', 'rd', 'hwy', 'mts', 'ft', 'lb', 'lbs', 'oz', 'kg', 'km', 'mi', 'in', 'min', 'max', 'govt',
]);

/** Words that commonly open an English sentence; an abbreviation followed by one of them is taken as sentence-final. */
const SENTENCE_STARTERS = new Set([
  'a', 'about', 'according', 'after', 'again', 'also', 'although', 'an', 'and', 'another', 'any', 'as', 'at',
  'because', 'before', 'both', 'but', 'by', 'despite', 'during', 'each', 'even', 'every', 'following', 'for',
  'from', 'furthermore', 'he', 'her', 'here', 'his', 'however', 'i', 'if', 'in', 'instead', 'it', 'its', 'later',
  'many', 'meanwhile', 'moreover', 'most', 'my', 'nevertheless', 'no', 'not', 'now', 'of', 'on', 'once', 'one',
  'other', 'our', 'over', 'shortly', 'since', 'she', 'so', 'some', 'such', 'that', 'the', 'their', 'then', 'there',
  'these', 'they', 'this', 'those', 'though', 'thus', 'to', 'today', 'two', 'under', 'unlike', 'until', 'we',
  'what', 'when', 'where', 'whereas', 'which', 'while', 'who', 'with', 'within', 'without', 'yet', 'you', 'your',
]);

const TERMINAL = /[.!?\u2026\u203C\u203D\u3002][\s"'\u2019\u201D)\]}»]*$/u;
/** Lines at least this long with no terminal punctuation are taken as hard-wrapped prose, not headings. */
const WRAPPED_LINE_MIN = 40;

const segmenter = new Intl.Segmenter('en', { granularity: 'sentence' });
/** Characters either side of a boundary that the merge rules look at. */
const CONTEXT_CHARS = 256;

/** The word (letters and internal dots) right before a final period, e.g. "U.S" for "in the U.S.". */
function lastTokenBeforePeriod(s: string): string | undefined {
  const m = /(?:^|[\s("'\u201C\u2018[{-])([\p{L}\p{N}][\p{L}\p{N}.]*)\.$/u.exec(s);
  return m?.[1];
}

function firstWord(s: string): string {
  const m = /^[\s"'\u201C\u2018([{«]*([\p{L}\p{N}]+)/u.exec(s);
  return m?.[1] ?? '';
}

function startsLowercase(s: string): boolean {
  return /^[\s"'\u201C\u2018([{«]*\p{Ll}/u.test(s);
}

function startsWithDigit(s: string): boolean {
  return /^[\s"'\u201C\u2018([{«]*\p{N}/u.test(s);
}

/** Should the ICU boundary between `prev` and `next` (both trimmed sentence texts) be removed? */
function continues(prev: string, next: string, gap: string): boolean {
  const newlines = (gap.match(/\n/g) ?? []).length;
  if (newlines >= 2) return false; // paragraph break
  if (newlines === 1) {
    // Hard-wrapped prose: the line ended without a terminator in the middle of a sentence.
    if (TERMINAL.test(prev)) return false;
    const lastLine = prev.slice(prev.lastIndexOf('\n') + 1);
    return startsLowercase(next) || lastLine.length >= WRAPPED_LINE_MIN;
  }
  // A sentence practically never starts with a lowercase letter: "?" / "!" in quoted speech, "e.g. the".
  if (startsLowercase(next)) return true;
  // Nor with an operator or clause punctuation: "(p − 1)! + 1 is divisible by p".
  if (/^[+\-−=×*\/%,;:)\]}]/u.test(next)) return true;
  if (!prev.endsWith('.')) return false;
  const token = lastTokenBeforePeriod(prev);
  if (token === undefined) return false;
  const lower = token.toLowerCase();
  if (TITLE_ABBREVIATIONS.has(lower)) return true;
  // Initials ("J. R. R. Tolkien", "John F. Kennedy").
  if (/^\p{Lu}$/u.test(token)) return !SENTENCE_STARTERS.has(firstWord(next).toLowerCase());
  const dotted = /^(?:\p{L}\.)+\p{L}$/u.test(token); // U.S, e.g, a.m, D.C
  if (dotted || OTHER_ABBREVIATIONS.has(lower)) {
    if (startsWithDigit(next)) return true;
    return !SENTENCE_STARTERS.has(firstWord(next).toLowerCase());
  }
  return false;
}

/** Longest piece handed to Intl.Segmenter at once: V8's sentence iterator is quadratic in input length. */
const BLOCK_CHARS = 8192;

/**
 * Cut points that cannot change ICU's answer: UAX #29 always breaks after a line feed, so cutting
 * just after "\n" is exact. A single line longer than a block is cut after a sentence terminator
 * and its whitespace if there is one in the block's second half, else after any whitespace.
 */
function blockEnds(text: string): number[] {
  const ends: number[] = [];
  let start = 0;
  while (text.length - start > BLOCK_CHARS) {
    const limit = start + BLOCK_CHARS;
    let cut = text.lastIndexOf('\n', limit - 1) + 1;
    if (cut <= start) {
      const window = text.slice(start + BLOCK_CHARS / 2, limit);
      const terminators = [...window.matchAll(/[.!?]["')\]\u2019\u201D]*\s+/gu)];
      const spaces = terminators.length > 0 ? terminators : [...window.matchAll(/\s+/gu)];
      const last = spaces[spaces.length - 1];
      cut = last ? start + BLOCK_CHARS / 2 + last.index + last[0].length : limit;
    }
    ends.push(cut);
    start = cut;
  }
  ends.push(text.length);
  return ends;
}

/** ICU sentence segments with surrounding whitespace trimmed; whitespace-only segments dropped. */
export function icuSentenceSpans(text: string): Span[] {
  const out: Span[] = [];
  let blockStart = 0;
  for (const blockEnd of blockEnds(text)) {
    for (const seg of segmenter.segment(text.slice(blockStart, blockEnd))) {
      let start = blockStart + seg.index;
      let end = start + seg.segment.length;
      while (start < end && /\s/u.test(text[start])) start++;
      while (end > start && /\s/u.test(text[end - 1])) end--;
      if (end > start) out.push({ start, end });
    }
    blockStart = blockEnd;
  }
  return out;
}

/**
 * Split text into sentences. Spans are ordered, non-overlapping, exclude surrounding whitespace,
 * and together cover every non-whitespace character exactly once.
 */
export function splitSentences(text: string): Span[] {
  const icu = icuSentenceSpans(text);
  const out: Span[] = [];
  for (const span of icu) {
    const prev = out[out.length - 1];
    // Only the boundary's surroundings matter; bounded slices keep long merged runs linear.
    if (
      prev &&
      continues(
        text.slice(Math.max(prev.start, prev.end - CONTEXT_CHARS), prev.end),
        text.slice(span.start, Math.min(span.end, span.start + CONTEXT_CHARS)),
        text.slice(prev.end, span.start),
      )
    ) {
      prev.end = span.end;
    } else {
      out.push({ ...span });
    }
  }
  return out;
}
