import { answerType, questionWords } from './AnswerType.js';

/**
 * A short answer inside the answer sentence, for questions whose answer type says what to look for: the year or
 * date of a when-question, the number of a how-many question, the name of a who-question, the place of a
 * where-question. Among the phrases of that kind the question does not already contain, the one nearest to the
 * question's own words in the sentence is taken (answers sit next to what the question repeats). Other questions,
 * or a sentence with no such phrase, get no span: the sentence is the answer.
 */
export interface AnswerSpan {
  /** Offsets in the sentence's document. */
  start: number;
  end: number;
  text: string;
}

const MONTHS = 'January|February|March|April|May|June|July|August|September|October|November|December';
const TIME = new RegExp(
  `\\b(?:\\d{1,2} )?(?:${MONTHS})(?: \\d{1,2})?(?:,? \\d{4})?\\b|\\b(?:1\\d{3}|20\\d{2})s?\\b|\\b\\d{1,2}(?:st|nd|rd|th) century\\b`,
  'g',
);
const NUMBER_WORDS = 'one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|dozen|half';
const NUMBER = new RegExp(`\\b\\d[\\d,.]*(?:\\s?%| percent| (?:million|billion|thousand|hundred))?|\\b(?:${NUMBER_WORDS})(?:[ -](?:${NUMBER_WORDS}))*\\b`, 'gi');
// Capitalised words, joined by "of", "de", "van", "von", "the" or "-" ("Duke of Normandy", "Charles de Gaulle").
const NAME = /\p{Lu}[\p{L}'’.-]*(?:\s+(?:(?:of|de|van|von|der|da|the)\s+)?\p{Lu}[\p{L}'’.-]*)*/gu;
const PLACE = /\b(?:in|at|near|from|to|into|across|throughout|outside|inside) (?:the )?(\p{Lu}[\p{L}'’.-]*(?:\s+(?:of\s+)?\p{Lu}[\p{L}'’.-]*)*)/gu;

interface Phrase {
  start: number;
  end: number;
}

function phrases(type: ReturnType<typeof answerType>, text: string): Phrase[] {
  const out: Phrase[] = [];
  const add = (m: RegExpMatchArray, group = 0): void => {
    const s = group === 0 ? m.index! : m.index! + m[0].indexOf(m[group]);
    // A name's last word keeps its letters, not the sentence's full stop or a closing quote.
    const phrase = m[group].replace(/[.'’-]+$/u, '');
    if (phrase.length > 0) out.push({ start: s, end: s + phrase.length });
  };
  if (type === 'time') for (const m of text.matchAll(TIME)) add(m);
  else if (type === 'number') for (const m of text.matchAll(NUMBER)) add(m);
  else if (type === 'person') {
    const first = /[\p{L}\p{N}]/u.exec(text)?.index ?? -1;
    for (const m of text.matchAll(NAME)) if (m.index !== first) add(m);
  } else if (type === 'place') for (const m of text.matchAll(PLACE)) add(m, 1);
  return out;
}

export function answerSpan(question: string, sentence: { text: string; start: number }): AnswerSpan | null {
  const type = answerType(question);
  if (type === 'other') return null;
  const qWords = questionWords(question);
  const { text } = sentence;
  const fresh = phrases(type, text).filter((p) => (text.slice(p.start, p.end).toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).some((w) => !qWords.has(w)));
  if (fresh.length === 0) return null;
  // Where the question's words occur in the sentence (stopword-length words are too common to anchor on).
  const anchors: Phrase[] = [...text.matchAll(/[\p{L}\p{N}]+/gu)]
    .filter((m) => m[0].length > 3 && qWords.has(m[0].toLowerCase()))
    .map((m) => ({ start: m.index!, end: m.index! + m[0].length }));
  const gap = (a: Phrase, p: Phrase): number => (a.end <= p.start ? p.start - a.end : a.start >= p.end ? a.start - p.end : 0);
  const distance = (p: Phrase): number => (anchors.length ? Math.min(...anchors.map((a) => gap(a, p))) : 0);
  let best = fresh[0];
  for (const p of fresh) if (distance(p) < distance(best)) best = p;
  return { start: sentence.start + best.start, end: sentence.start + best.end, text: text.slice(best.start, best.end) };
}
