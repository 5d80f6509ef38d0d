import { splitSentences } from '../indexer/text/SentenceSplitter.js';
import { SeededRandom } from '../infra/random.js';
import { ENGLISH_SAMPLE } from '../model/builder/englishSample.js';
import { STATION_NAMES } from '../model/builder/inductionCorpus.js';

/**
 * The fact data set the `induction` test model answers: documents whose sentences hold facts ("The access code of
 * <name> Station is <4 digits>.") among filler sentences, and cloze questions ("The access code of <name> Station
 * is") that a copying model completes. Names are unique within one set, so every question has one answer.
 */
export interface StationFact {
  name: string;
  code: string;
  sentence: string;
  question: string;
  documentId: string;
  /** The sentence's span in its document's text. */
  start: number;
  end: number;
}

export interface FactDocument {
  id: string;
  title: string;
  text: string;
  facts: StationFact[];
}

export interface FactSetOptions {
  documents: number;
  factsPerDocument: number;
  fillerPerDocument: number;
  seed: number;
  /** Document id prefix (ids are `<prefix><i>`). */
  prefix?: string;
}

export const factSentence = (name: string, code: string): string => `The access code of ${name} Station is ${code}.`;
export const clozeQuestion = (name: string): string => `The access code of ${name} Station is`;

/** The answer's leading number equals the code (a longer or shorter number is wrong). */
export function answersFact(answer: string, code: string): boolean {
  return /^\s*(\d+)/.exec(answer)?.[1] === code;
}

const FILLER = splitSentences(ENGLISH_SAMPLE).map((s) => ENGLISH_SAMPLE.slice(s.start, s.end).trim()).filter((s) => s.length > 0);

/** Fact documents: facts and filler sentences interleaved in a seeded order, one paragraph per document. */
export function stationFactDocuments(o: FactSetOptions): FactDocument[] {
  const total = o.documents * o.factsPerDocument;
  if (total > STATION_NAMES.length) throw new RangeError(`${total} facts need unique station names; there are ${STATION_NAMES.length}`);
  const rng = new SeededRandom(o.seed, 'station-facts');
  const int = (n: number): number => Math.floor(rng.uniform() * n);
  const names = [...STATION_NAMES];
  for (let i = names.length - 1; i > 0; i--) {
    const j = int(i + 1);
    [names[i], names[j]] = [names[j], names[i]];
  }
  const prefix = o.prefix ?? 'facts-';
  return Array.from({ length: o.documents }, (_, d) => {
    const id = `${prefix}${d}`;
    const facts = names.slice(d * o.factsPerDocument, (d + 1) * o.factsPerDocument).map((name) => ({ name, code: String(1000 + int(9000)) }));
    const slots: ({ name: string; code: string } | string)[] = [...facts];
    for (let f = 0; f < o.fillerPerDocument; f++) slots.splice(int(slots.length + 1), 0, FILLER[int(FILLER.length)]);
    let text = '';
    const placed: StationFact[] = [];
    for (const s of slots) {
      if (text) text += ' ';
      const sentence = typeof s === 'string' ? s : factSentence(s.name, s.code);
      if (typeof s !== 'string') placed.push({ ...s, sentence, question: clozeQuestion(s.name), documentId: id, start: text.length, end: text.length + sentence.length });
      text += sentence;
    }
    return { id, title: `Station register ${d}`, text, facts: placed };
  });
}

/** The set as SQuAD v1.1 JSON (one article per document), for `rag probe train` and `rag calibrate --data`. */
export function factsAsSquad(docs: readonly FactDocument[]): object {
  return {
    version: 'station-facts',
    data: docs.map((doc) => ({
      title: doc.title.replace(/ /g, '_'),
      paragraphs: [
        {
          context: doc.text,
          qas: doc.facts.map((f) => ({ id: `${doc.id}-${f.name}`, question: f.question, answers: [{ text: f.code, answer_start: f.end - f.code.length - 1 }] })),
        },
      ],
    })),
  };
}

/** The needle-in-a-haystack needle for the induction model: a station fact and its cloze question. */
export const FACT_NEEDLE = { sentence: factSentence('Kestrel', '4821'), question: clozeQuestion('Kestrel'), answer: '4821' } as const;
