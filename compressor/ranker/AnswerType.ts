/**
 * Answer-type cues: what kind of answer a question asks for, and whether a sentence offers that kind of
 * thing beyond what the question already says. A "when" question is answered by a sentence with a year or
 * a date the question does not mention; repeating the question's own year is no answer.
 */
export type AnswerType = 'time' | 'number' | 'person' | 'place' | 'other';

// Order matters: "how many years" asks for a number, "what year" for a time.
const QUESTION_PATTERNS: [AnswerType, RegExp][] = [
  ['number', /\bhow (?:many|much|long|old|far|large|big|tall|high|wide|deep|often|fast|heavy|hot|cold)\b|\bwhat (?:percentage|percent|proportion|fraction|number|amount|share|ratio)\b/],
  ['time', /\bwhen\b|\b(?:what|which) (?:year|years|decade|century|centuries|date|day|month|era|period|season|time)\b|\bhow long ago\b/],
  ['person', /\bwho(?:m|se)?\b|\b(?:what|which) (?:person|man|woman|people|king|queen|president|emperor|pope|scientist|author|artist|leader|general|architect|composer|player|team|group|company|organization|organisation)\b/],
  ['place', /\bwhere\b|\b(?:what|which) (?:country|countries|city|cities|state|states|place|region|continent|location|town|area|island|river|province|county|nation)\b/],
];

export function answerType(question: string): AnswerType {
  const q = question.toLowerCase();
  for (const [type, re] of QUESTION_PATTERNS) if (re.test(q)) return type;
  return 'other';
}

export interface SentenceCues {
  /** A year (1000-2099, "1990s") or a month/weekday date, not in the question. */
  time: boolean;
  /** A number (digits, or a number word), not in the question. */
  number: boolean;
  /** A capitalised word that is not the sentence's first word and not in the question. */
  name: boolean;
  /** A preposition of place followed by a capitalised word, not in the question. */
  place: boolean;
}

const YEAR = /\b(?:1\d{3}|20\d{2})(?:s\b|\b)|\b\d{1,2}(?:st|nd|rd|th) century\b/gi;
const MONTH = /\b(?:January|February|March|April|May|June|July|August|September|October|November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b/g;
const NUMBER = /\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|hundreds|thousand|thousands|million|millions|billion|billions|dozen|dozens|half|percent)\b/gi;
const CAPITALISED = /\b\p{Lu}[\p{L}'-]*/gu;
const PLACE = /\b(?:in|at|near|from|to|into|across|throughout|outside|inside) (?:the )?(\p{Lu}[\p{L}'-]*)/gu;

/** Lower-cased words of the question, to tell new information from repeated information. */
export function questionWords(question: string): Set<string> {
  return new Set(question.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
}

function anyNew(matches: Iterable<string>, seen: ReadonlySet<string>): boolean {
  for (const m of matches) {
    const words = m.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
    if (words.some((w) => !seen.has(w))) return true;
  }
  return false;
}

export function sentenceCues(sentence: string, qWords: ReadonlySet<string>): SentenceCues {
  const first = firstWordIndex(sentence);
  const capitals = [...sentence.matchAll(CAPITALISED)].filter((m) => m.index !== first).map((m) => m[0]);
  const time = anyNew([...(sentence.match(YEAR) ?? []), ...(sentence.match(MONTH) ?? [])], qWords);
  return {
    time,
    number: anyNew(sentence.match(NUMBER) ?? [], qWords),
    name: anyNew(capitals, qWords),
    place: anyNew([...sentence.matchAll(PLACE)].map((m) => m[1]), qWords),
  };
}

function firstWordIndex(sentence: string): number {
  const m = /[\p{L}\p{N}]/u.exec(sentence);
  return m ? m.index : -1;
}
