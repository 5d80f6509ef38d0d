import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runRetrievalQuality } from '../../bench/retrievalQuality.js';
import { DEFAULT_SEARCH_MODE } from '../../retriever/defaults.js';

// Five small articles: article 0 is the tuning split, articles 1-4 are reported.
const ARTICLES = [
  ['Volcanoes', ['Magma rises through the crust and erupts as lava from volcanoes.'], ['Where does lava come from?']],
  ['Bees', ['Honey bees collect nectar and pollen to make honey in the hive.'], ['What do honey bees collect nectar for?']],
  ['Chess', ['The queen is the most powerful chess piece on the board.'], ['Which chess piece is the most powerful?']],
  ['Rivers', ['The Nile flows north through Egypt into the Mediterranean Sea.'], ['Which sea does the Nile flow into?']],
  ['Comets', ['Comet tails point away from the Sun because of the solar wind.'], ['Why do comet tails point away from the Sun?']],
] as const;

describe('runRetrievalQuality', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rq-'));
    const data = ARTICLES.map(([title, [context], [question]], ai) => ({
      title,
      paragraphs: [{ context, qas: [{ id: `q${ai}`, question, answers: [{ text: context.split(' ')[0], answer_start: 0 }] }] }],
    }));
    await writeFile(path.join(dir, 'squad.json'), JSON.stringify({ version: '1.1', data }));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  test('reports every mode on the held-out split with the committed defaults, and caches vectors', async () => {
    const opts = { squadFile: path.join(dir, 'squad.json'), cacheDir: path.join(dir, 'cache') };
    const report = await runRetrievalQuality(opts);
    expect(report.dataset).toEqual({ file: opts.squadFile, paragraphs: 5, questions: 5 });
    expect(report.split.tuningQuestions).toBe(1);
    expect(report.split.reportedQuestions).toBe(4);
    expect(report.defaultMode).toBe(DEFAULT_SEARCH_MODE);
    for (const mode of ['bm25', 'dense', 'hybrid', 'hybrid-rrf60', 'bm25-baseline']) {
      for (const v of Object.values(report.modes[mode])) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    }
    // Each question shares distinctive words with its paragraph only.
    expect(report.modes.bm25['recall@1']).toBe(1);
    expect(report.modes.hybrid['recall@1']).toBe(1);
    expect(report.defaultNeverWorseThanBestSingle).toBe(true);
    expect((await readdir(opts.cacheDir)).sort()).toEqual([expect.stringMatching(/^paragraphs-/), expect.stringMatching(/^questions-/)]);
    // Second run reads the cache and reproduces the dense numbers.
    const again = await runRetrievalQuality(opts);
    expect(again.modes.dense).toEqual(report.modes.dense);
  });
});
