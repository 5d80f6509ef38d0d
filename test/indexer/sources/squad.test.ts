import path from 'node:path';
import { allParagraphs, allQueries, displayTitle, loadSquad, parseSquad } from '../../../indexer/sources/squad.js';

const SQUAD = path.resolve(process.cwd(), '../shared/data/squad-v1.1-dev.json');

describe('SQuAD loader', () => {
  test('typed articles with <article>-<paragraph> ids and flattened queries', () => {
    const ds = parseSquad({
      version: '1.1',
      data: [
        { title: 'First_Topic', paragraphs: [{ context: 'Alpha.', qas: [{ id: 'q1', question: 'A?', answers: [{ text: 'Alpha', answer_start: 0 }] }] }] },
        {
          title: 'Second',
          paragraphs: [
            { context: 'Beta.', qas: [] },
            { context: 'Gamma.', qas: [{ id: 'q2', question: 'G?', answers: [{ text: 'Gamma', answer_start: 0 }] }] },
          ],
        },
      ],
    });
    expect(ds.articles.map((a) => a.paragraphs.map((p) => p.id))).toEqual([['0-0'], ['1-0', '1-1']]);
    expect(allParagraphs(ds).map((p) => [p.id, p.articleIndex, p.title])).toEqual([
      ['0-0', 0, 'First_Topic'],
      ['1-0', 1, 'Second'],
      ['1-1', 1, 'Second'],
    ]);
    expect(allQueries(ds).map((q) => [q.id, q.paragraphId, q.articleIndex])).toEqual([
      ['q1', '0-0', 0],
      ['q2', '1-1', 1],
    ]);
    expect(displayTitle('First_Topic')).toBe('First Topic');
    expect(() => parseSquad({ data: [{ title: 'x', paragraphs: [{ context: 1, qas: [] }] }] })).toThrow();
  });

  test('the dev set loads with the official counts and answers at their offsets', async () => {
    const ds = await loadSquad(SQUAD);
    expect(ds.articles).toHaveLength(48);
    expect(allParagraphs(ds)).toHaveLength(2067);
    const queries = allQueries(ds);
    expect(queries).toHaveLength(10570);
    const byId = new Map(allParagraphs(ds).map((p) => [p.id, p.context]));
    const misplaced = queries.flatMap((q) =>
      q.answers.filter((a) => byId.get(q.paragraphId)!.slice(a.answer_start, a.answer_start + a.text.length) !== a.text).map(() => q.id),
    );
    expect(misplaced).toEqual([]);
  });
});
