import { parseSquad } from '../../indexer/sources/squad.js';
import { FACT_SETTINGS, formatNiahGrid } from '../../eval/factsEval.js';
import { answersFact, clozeQuestion, factSentence, factsAsSquad, stationFactDocuments } from '../../eval/stationFacts.js';

describe('station facts', () => {
  const docs = stationFactDocuments({ documents: 12, factsPerDocument: 4, fillerPerDocument: 6, seed: 3 });
  const facts = docs.flatMap((d) => d.facts);

  it('places each fact sentence at its span, with unique names and 4-digit codes', () => {
    expect(facts).toHaveLength(48);
    expect(new Set(facts.map((f) => f.name)).size).toBe(48);
    for (const f of facts) {
      const doc = docs.find((d) => d.id === f.documentId);
      expect(doc?.text.slice(f.start, f.end)).toBe(factSentence(f.name, f.code));
      expect(f.code).toMatch(/^[1-9]\d{3}$/);
      expect(f.question).toBe(clozeQuestion(f.name));
    }
    expect(stationFactDocuments({ documents: 12, factsPerDocument: 4, fillerPerDocument: 6, seed: 3 })).toEqual(docs);
    expect(() => stationFactDocuments({ documents: 20, factsPerDocument: 4, fillerPerDocument: 0, seed: 0 })).toThrow(/unique station names/);
  });

  it('is valid SQuAD whose answer spans are the codes', () => {
    const ds = parseSquad(factsAsSquad(docs));
    for (const p of ds.articles.flatMap((a) => a.paragraphs)) {
      for (const q of p.qas) expect(p.context.slice(q.answers[0].answer_start, q.answers[0].answer_start + q.answers[0].text.length)).toBe(q.answers[0].text);
    }
  });

  it('counts an answer exact only when its leading number is the code', () => {
    expect(answersFact(' 4821. The weather', '4821')).toBe(true);
    expect(answersFact('4821', '4821')).toBe(true);
    expect(answersFact(' 48210', '4821')).toBe(false);
    expect(answersFact(' 482', '4821')).toBe(false);
    expect(answersFact(' The code is 4821', '4821')).toBe(false);
  });

  it('renders the needle grid with a heat map of settings answering exactly', () => {
    const runs = FACT_SETTINGS.slice(0, 2).map((s, i) => ({
      label: s.label,
      cells: [1000, 2000].flatMap((tokens) => [0, 100].map((depthPercent) => ({ tokens, depthPercent, retrieved: true, kept: true, exact: i === 0 || tokens === 1000, answer: '' }))),
    }));
    const out = formatNiahGrid(runs);
    expect(out).toMatch(/full\s+4\/4\s+1\.000/);
    expect(out).toMatch(/1000\s+█ 2\/2\s+█ 2\/2/);
    expect(out).toMatch(/2000\s+▒ 1\/2\s+▒ 1\/2/);
  });
});
