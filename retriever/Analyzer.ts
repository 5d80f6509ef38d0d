import { stemmer } from 'stemmer';

/**
 * Text -> index terms for lexical retrieval: Unicode-normalised, accent-folded, lowercased word
 * and number tokens, English stopwords removed, optionally Porter-stemmed. The same analyzer must
 * be used for documents and queries, so its settings travel with the index (toJSON).
 */
export interface AnalyzerOptions {
  /** Remove English stopwords (default true). */
  stopwords?: boolean;
  /** Porter stemming (default true). */
  stem?: boolean;
  /** Also emit adjacent-term pairs ("denver bronco"), so shared phrases outscore scattered words (default false). */
  bigrams?: boolean;
}

export type AnalyzerConfig = Required<AnalyzerOptions>;

/**
 * English stopwords: the Snowball list, plus contraction stems left after tokenising on apostrophes
 * ("doesn", "isn", ...), except those that are also words ("won", "don", "haven").
 */
export const ENGLISH_STOPWORDS: ReadonlySet<string> = new Set(
  (
    'a about above after again against all am an and any are as at be because been before being below between both ' +
    'but by can could did do does doing down during each few for from further had has have having he her here hers ' +
    'herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on ' +
    'once only or other ought our ours ourselves out over own same she should so some such than that the their theirs ' +
    'them themselves then there these they this those through to too under until up very was we were what when where ' +
    'which while who whom why will with would you your yours yourself yourselves ' +
    's t d ll m re ve doesn didn isn aren wasn weren hasn hadn wouldn shouldn couldn mustn cannot'
  ).split(/\s+/),
);

// Numbers keep internal separators ("3.5", "1,000" -> "1000"); words are letter/digit runs.
const TOKEN = /\p{N}+(?:[.,]\p{N}+)+|[\p{L}\p{N}]+/gu;
const NUMBER = /^[\p{N}.,]+$/u;
const COMBINING = /\p{M}/gu;
const POSSESSIVE = /['\u2019]s\b/giu;

export class Analyzer {
  readonly config: AnalyzerConfig;
  // Stemming dominates analysis cost and vocabularies repeat heavily.
  private readonly stemCache = new Map<string, string>();

  constructor(options: AnalyzerOptions = {}) {
    this.config = { stopwords: options.stopwords ?? true, stem: options.stem ?? true, bigrams: options.bigrams ?? false };
  }

  /** Index terms of `text`, in order, repeats kept (term frequency matters). */
  terms(text: string): string[] {
    const folded = text.normalize('NFKD').replace(COMBINING, '').toLowerCase().replace(POSSESSIVE, '');
    const out: string[] = [];
    for (const m of folded.matchAll(TOKEN)) {
      let t = m[0];
      if (NUMBER.test(t)) {
        out.push(t.replace(/,/g, ''));
        continue;
      }
      if (this.config.stopwords && ENGLISH_STOPWORDS.has(t)) continue;
      if (this.config.stem) t = this.stem(t);
      out.push(t);
    }
    if (this.config.bigrams) {
      // Pairs of terms adjacent after stopword removal; a space cannot occur inside a unigram, so no collisions.
      const n = out.length;
      for (let i = 0; i + 1 < n; i++) out.push(`${out[i]} ${out[i + 1]}`);
    }
    return out;
  }

  private stem(word: string): string {
    let s = this.stemCache.get(word);
    if (s === undefined) {
      s = stemmer(word);
      if (this.stemCache.size > 200_000) this.stemCache.clear();
      this.stemCache.set(word, s);
    }
    return s;
  }

  toJSON(): AnalyzerConfig {
    return { ...this.config };
  }
}
