import fs from 'node:fs';
import path from 'node:path';
import { parseSquad } from '../../../indexer/sources/squad.js';
import { runRag } from '../../support/cli.js';
import { tempDir } from '../../support/processes.js';

/** `rag eval facts` as a user runs it for the parts that need no service: the training data it writes, bad options. */
describe('rag eval facts', () => {
  it('--write-data writes the fact sets (whole documents) as SQuAD (for probe training and calibration) and exits without a service', async () => {
    const file = path.join(tempDir('facts-cli'), 'train.json');
    const r = await runRag(['eval', 'facts', '--write-data', file, '--seed', '100', '--needles', '60'], { env: { LOG_LEVEL: 'silent' }, timeoutMs: 30_000 });
    expect([r.code, r.timedOut]).toEqual([0, false]);
    expect(r.stderr).toMatch(/wrote 96 facts in 24 documents/);
    const ds = parseSquad(JSON.parse(fs.readFileSync(file, 'utf8')));
    const qas = ds.articles.flatMap((a) => a.paragraphs.flatMap((p) => p.qas));
    // Whole documents are written (2 sets of 12 documents, 4 facts each), so the file holds every fact of them.
    expect(ds.articles).toHaveLength(24);
    expect(qas).toHaveLength(96);
    expect(qas.every((q) => /^The access code of \w+ Station is$/.test(q.question) && /^\d{4}$/.test(q.answers[0].text))).toBe(true);
  });

  it('refuses a --model other than induction', async () => {
    const r = await runRag(['eval', 'facts', '--model', 'tiny'], { env: { LOG_LEVEL: 'silent' }, timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--model: only "induction" is supported/);
  });
});
