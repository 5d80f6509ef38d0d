import { pathToFileURL } from 'node:url';
import { allParagraphs, loadSquad } from '../indexer/sources/squad.js';
import { icuSentenceSpans, splitSentences, type Span } from '../indexer/text/SentenceSplitter.js';

/**
 * How often a SQuAD answer span is cut by a sentence boundary: the compressor keeps whole
 * sentences, so a cut answer is an answer it can lose. Compared with plain ICU segmentation.
 */
export interface SplitQuality {
  splitter: string;
  paragraphs: number;
  sentences: number;
  answers: number;
  /** Answers whose character span touches two or more sentences. */
  answersCut: number;
  cutRate: number;
}

function crosses(spans: Span[], start: number, end: number): boolean {
  let touched = 0;
  for (const s of spans) if (s.start < end && s.end > start) touched++;
  return touched > 1;
}

export async function runSentenceSplitQuality(
  squadFile = '../shared/data/squad-v1.1-dev.json',
): Promise<{ results: SplitQuality[]; examples: { splitter: string; answer: string; pieces: string[] }[] }> {
  const ds = await loadSquad(squadFile);
  const paragraphs = allParagraphs(ds);
  const splitters: [string, (t: string) => Span[]][] = [
    ['icu', icuSentenceSpans],
    ['splitSentences', splitSentences],
  ];
  const results: SplitQuality[] = [];
  const examples: { splitter: string; answer: string; pieces: string[] }[] = [];
  for (const [name, split] of splitters) {
    let sentences = 0;
    let answers = 0;
    let cut = 0;
    for (const p of paragraphs) {
      const spans = split(p.context);
      sentences += spans.length;
      for (const q of p.qas) {
        for (const a of q.answers) {
          answers++;
          const end = a.answer_start + a.text.length;
          if (crosses(spans, a.answer_start, end)) {
            cut++;
            if (examples.filter((e) => e.splitter === name).length < 15) {
              examples.push({
                splitter: name,
                answer: a.text,
                pieces: spans
                  .filter((s) => s.start < end && s.end > a.answer_start)
                  .map((s) => p.context.slice(Math.max(s.start, a.answer_start - 60), Math.min(s.end, end + 60))),
              });
            }
          }
        }
      }
    }
    results.push({ splitter: name, paragraphs: paragraphs.length, sentences, answers, answersCut: cut, cutRate: cut / answers });
  }
  return { results, examples };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runSentenceSplitQuality(process.argv[2]).then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
}
