import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { allParagraphs, allQueries, loadSquad } from '../../../indexer/sources/squad.js';
import { splitSentences } from '../../../indexer/text/SentenceSplitter.js';

/** Real SQuAD text for embedding tests: the shared data folder sits beside the repository. */
const SQUAD_NAME = 'shared/data/squad-v1.1-dev.json';

function findSquad(): string {
  // Compiled tests can sit at different depths (dist/, other outDirs): look upward for the folder beside the repo.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.resolve(dir, '..', SQUAD_NAME);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`test data ${SQUAD_NAME} is missing: the shared/ folder must sit beside the repository`);
    dir = parent;
  }
}

/** The first `sentences` sentences of the dev set (in file order) and the questions on the same paragraphs. */
export async function squadSample(sentences: number, questions: number): Promise<{ sentences: string[]; questions: string[] }> {
  const ds = await loadSquad(findSquad());
  const sents: string[] = [];
  const paraIds = new Set<string>();
  for (const p of allParagraphs(ds)) {
    if (sents.length >= sentences) break;
    paraIds.add(p.id);
    for (const s of splitSentences(p.context)) sents.push(p.context.slice(s.start, s.end));
  }
  const qs = allQueries(ds)
    .filter((q) => paraIds.has(q.paragraphId))
    .map((q) => q.question);
  // Spread the questions over all sampled paragraphs rather than taking the first few.
  const step = Math.max(1, Math.floor(qs.length / questions));
  return { sentences: sents.slice(0, sentences), questions: qs.filter((_, i) => i % step === 0).slice(0, questions) };
}
