import { loadSquad } from '../../indexer/sources/squad.js';
import { articleSplit } from '../../eval/squadSplit.js';
import { rankerQuestions } from '../../eval/rankerEval.js';
import { sharedFile } from '../support/processes.js';

describe('article-level split', () => {
  test('deterministic by seed, disjoint, covering, 20% held out', () => {
    const a = articleSplit(48, 0);
    expect(articleSplit(48, 0)).toEqual(a);
    expect(a.heldOut).toHaveLength(10);
    expect(a.train).toHaveLength(38);
    expect([...a.train, ...a.heldOut].sort((x, y) => x - y)).toEqual(Array.from({ length: 48 }, (_, i) => i));
    expect(a.heldOut.filter((i) => a.train.includes(i))).toEqual([]);
    expect(articleSplit(48, 1).heldOut).not.toEqual(a.heldOut);
    expect(() => articleSplit(1, 0)).toThrow(/at least 2 articles/);
    expect(() => articleSplit(10, 0, 1)).toThrow(/fraction/);
  });

  test('no question of an evaluated article is a training question (SQuAD v1.1 dev)', async () => {
    const ds = await loadSquad(sharedFile('squad-v1.1-dev.json'));
    const split = articleSplit(ds.articles.length, 0);
    const train = rankerQuestions(ds, split.train);
    const held = rankerQuestions(ds, split.heldOut);
    const heldArticles = new Set(split.heldOut);
    expect(train.some((q) => heldArticles.has(q.articleIndex))).toBe(false);
    expect(held.every((q) => heldArticles.has(q.articleIndex))).toBe(true);
    const trainIds = new Set(train.map((q) => q.id));
    expect(held.filter((q) => trainIds.has(q.id))).toEqual([]);
    // Every question lands on exactly one side; paragraphs (documents) never straddle the split either.
    expect(train.length + held.length).toBe(ds.articles.reduce((n, a) => n + a.paragraphs.reduce((m, p) => m + p.qas.length, 0), 0));
    const trainDocs = new Set(train.map((q) => q.documentId));
    expect(held.some((q) => trainDocs.has(q.documentId))).toBe(false);
  });
});
