import path from 'node:path';
import { allParagraphs, loadSquad } from '../../../eval/squad.js';
import { icuSentenceSpans, splitSentences, type Span } from '../../../indexer/text/SentenceSplitter.js';

const SQUAD = path.resolve(process.cwd(), '../shared/data/squad-v1.1-dev.json');

function sentences(text: string): string[] {
  return splitSentences(text).map((s) => text.slice(s.start, s.end));
}

/** Ordered, non-overlapping, trimmed spans covering every non-whitespace character exactly once. */
function checkExact(text: string, spans: Span[]): void {
  let prevEnd = 0;
  const owner = new Int32Array(text.length).fill(-1);
  spans.forEach((s, i) => {
    expect(s.start).toBeGreaterThanOrEqual(prevEnd);
    expect(s.end).toBeGreaterThan(s.start);
    expect(/\s/u.test(text[s.start])).toBe(false);
    expect(/\s/u.test(text[s.end - 1])).toBe(false);
    for (let c = s.start; c < s.end; c++) owner[c] = i;
    prevEnd = s.end;
  });
  for (let c = 0; c < text.length; c++) {
    if (!/\s/u.test(text[c]) && owner[c] === -1) throw new Error(`character ${c} (${JSON.stringify(text[c])}) is in no sentence`);
  }
}

describe('splitSentences', () => {
  test('titles, initials, dotted abbreviations and decimals do not end sentences', () => {
    const text =
      'Mr. Smith met Dr. Jones in the U.S. Army on St. Patrick\'s day. It cost 3.5 dollars, e.g. a lot. ' +
      'J. R. R. Tolkien wrote it. Nixon named William E. Simon to the post.';
    expect(sentences(text)).toEqual([
      "Mr. Smith met Dr. Jones in the U.S. Army on St. Patrick's day.",
      'It cost 3.5 dollars, e.g. a lot.',
      'J. R. R. Tolkien wrote it.',
      'Nixon named William E. Simon to the post.',
    ]);
  });

  test('an abbreviation followed by a typical sentence opener does end the sentence', () => {
    expect(sentences('He moved to Washington, D.C. The city was new to him. Prices rose etc. Then they fell.')).toEqual([
      'He moved to Washington, D.C.',
      'The city was new to him.',
      'Prices rose etc.',
      'Then they fell.',
    ]);
  });

  test('quotes and brackets after the terminator stay with their sentence; quoted questions continue', () => {
    expect(sentences('He said "stop." Then he left. (See above.) "Who are you?" he asked. Done!')).toEqual([
      'He said "stop."',
      'Then he left.',
      '(See above.)',
      '"Who are you?" he asked.',
      'Done!',
    ]);
  });

  test('paragraph breaks always split; hard-wrapped lines are joined; short unterminated lines are headings', () => {
    const text =
      'Introduction\nThe study began in 1990 and it ran for a long time across\nseveral countries. It ended.\n\nSecond paragraph without a full stop\n\nThird';
    expect(sentences(text)).toEqual([
      'Introduction',
      'The study began in 1990 and it ran for a long time across\nseveral countries.',
      'It ended.',
      'Second paragraph without a full stop',
      'Third',
    ]);
  });

  test('text without punctuation is one sentence; whitespace-only text has none', () => {
    expect(sentences('  no punctuation at all here  ')).toEqual(['no punctuation at all here']);
    expect(splitSentences(' \n\t ')).toEqual([]);
    expect(splitSentences('')).toEqual([]);
  });

  test('offsets reproduce the text exactly on tricky input', () => {
    const text = '  Dr. A. B. Smith (b. 1950) wrote:\n"Why?"  she asked…  See p. 5. Ok.\r\n\r\nEnd';
    const spans = splitSentences(text);
    checkExact(text, spans);
  });

  test('every SQuAD dev paragraph: exact offsets, and answers are almost never cut by a boundary', async () => {
    const ds = await loadSquad(SQUAD);
    const paragraphs = allParagraphs(ds);
    expect(paragraphs).toHaveLength(2067);
    let answers = 0;
    let cut = 0;
    let cutIcu = 0;
    const touches = (spans: Span[], s: number, e: number) => spans.filter((x) => x.start < e && x.end > s).length;
    for (const p of paragraphs) {
      const spans = splitSentences(p.context);
      checkExact(p.context, spans);
      const icu = icuSentenceSpans(p.context);
      for (const q of p.qas) {
        for (const a of q.answers) {
          answers++;
          const end = a.answer_start + a.text.length;
          if (touches(spans, a.answer_start, end) > 1) cut++;
          if (touches(icu, a.answer_start, end) > 1) cutIcu++;
        }
      }
    }
    expect(answers).toBe(34726);
    // Measured: plain ICU cuts 317 answers (0.91%), this splitter 23 (0.07%, mostly answers that really span two sentences).
    expect(cutIcu).toBeGreaterThan(250);
    expect(cut / answers).toBeLessThan(0.001);
  });
});
