import { Analyzer } from '../../retriever/Analyzer.js';
import { Bm25Index } from '../../retriever/Bm25Index.js';

// Hand-computed with k1 1.2, b 0.75: N 3, lengths 3/3/2, avgdl 8/3,
// idf(cat) = idf(dog) = ln(1 + 1.5/2.5) = ln 1.6, idf(bird) = ln(1 + 2.5/1.5) = ln(8/3).
// e.g. d2 for "cat dog": ln1.6 * 2*2.2/(2 + 1.2*(0.25 + 0.75*3/(8/3))) + ln1.6 * 1*2.2/(1 + 1.2*(0.25 + 0.75*3/(8/3))).
const FIXTURE: [string, string][] = [
  ['d1', 'cat sat mat'],
  ['d2', 'cat cat dog'],
  ['d3', 'dog bird'],
];

function fixture(): Bm25Index {
  const index = new Bm25Index();
  for (const [id, text] of FIXTURE) index.add(id, text);
  return index;
}

describe('Analyzer', () => {
  test('folds case and accents, drops stopwords and possessives, keeps numbers, stems', () => {
    const a = new Analyzer();
    expect(a.terms("The Café's owners were running 1,000 tests at 3.5 GHz in the 1970s.")).toEqual([
      'cafe', 'owner', 'run', '1000', 'test', '3.5', 'ghz', '1970',
    ]);
    expect(new Analyzer({ stem: false, stopwords: false }).terms('The running dogs')).toEqual(['the', 'running', 'dogs']);
    // Contraction leftovers go, but not when they are real words.
    expect(new Analyzer().terms("Who won? It doesn't matter, Don.")).toEqual(['won', 'matter', 'don']);
  });

  test('optional bigrams pair terms adjacent after stopword removal', () => {
    expect(new Analyzer({ bigrams: true }).terms('The Denver Broncos won the game')).toEqual([
      'denver', 'bronco', 'won', 'game', 'denver bronco', 'bronco won', 'won game',
    ]);
  });
});

describe('Bm25Index', () => {
  test('scores match hand-computed Okapi BM25 values', () => {
    const index = fixture();
    const close = (id: string, q: string, v: number) => expect(index.scoreAll(q).get(id) ?? 0).toBeCloseTo(v, 12);
    close('d1', 'cat dog', 0.44713858782297017);
    close('d2', 'cat dog', 1.0714452953493814);
    close('d3', 'cat dog', 0.523548346501579);
    close('d3', 'bird', 1.0925692944940748);
    close('d1', 'bird', 0);
    // A repeated query term counts twice.
    close('d1', 'cat cat', 0.8942771756459403);
    close('d2', 'cat cat', 1.2486134150528223);
    expect(index.search('cat dog', 2).map((h) => h.id)).toEqual(['d2', 'd3']);
    expect(index.search('unknownword', 5)).toEqual([]);
    expect(index.idf('bird')).toBeCloseTo(Math.log(8 / 3), 14);
  });

  test('a title is indexed with the text, without pairing across the two under bigrams', () => {
    const titled = new Bm25Index();
    const joined = new Bm25Index();
    for (const [id, text] of FIXTURE) {
      titled.add(id, text, `Topic ${id}`);
      joined.add(id, `Topic ${id}\n${text}`);
    }
    for (const q of ['topic d2', 'cat topic', 'bird']) expect(titled.search(q, 3)).toEqual(joined.search(q, 3));
    expect(titled.search('d3', 1)[0].id).toBe('d3');
    const bi = new Bm25Index({ analyzer: { bigrams: true } });
    bi.add('x', 'cat sat', 'Zebra');
    expect(bi.scoreAll('zebra cat').get('x')).toBeGreaterThan(0);
    const terms = bi.toJSON().terms;
    expect(terms).toContain('cat sat');
    expect(terms).not.toContain('zebra cat');
  });

  test('k1 and b are configurable (b = 0 ignores length)', () => {
    const index = new Bm25Index({ k1: 2, b: 0 });
    for (const [id, text] of FIXTURE) index.add(id, text);
    // tf 1, b 0: idf * (1 * 3) / (1 + 2) = idf
    expect(index.scoreAll('bird').get('d3')).toBeCloseTo(Math.log(8 / 3), 14);
    expect(() => new Bm25Index({ b: 1.5 })).toThrow(RangeError);
  });

  test('incremental adds and removes give exactly the scores of a fresh build', () => {
    const docs: Record<string, string> = {
      a: 'The quick brown fox jumps over the lazy dog',
      b: 'A fast brown fox leaps over sleeping dogs in the park',
      c: 'Foxes are omnivorous mammals of the family Canidae',
      d: 'The dog park opened in 1990 near the river',
      e: 'Rivers and lakes host many birds, foxes and deer',
      f: 'Lazy afternoons by the river with a brown dog',
    };
    const inc = new Bm25Index();
    for (const id of ['a', 'b', 'c', 'd', 'e']) inc.add(id, docs[id]);
    expect(inc.remove('b')).toBe(true);
    inc.add('f', docs.f);
    inc.remove('d');
    expect(inc.remove('d')).toBe(false);
    docs.b = 'A brown fox, changed, now sleeps by the river';
    inc.add('b', docs.b);
    expect(() => inc.add('b', 'duplicate')).toThrow();

    const fresh = new Bm25Index();
    for (const id of ['f', 'e', 'c', 'b', 'a']) fresh.add(id, docs[id]);
    expect(inc.size).toBe(5);
    expect(inc.has('d')).toBe(false);
    for (const q of ['brown fox', 'river dog park', 'lazy', 'foxes birds deer 1990', 'canidae']) {
      expect(inc.search(q, 10)).toEqual(fresh.search(q, 10));
    }
    expect(inc.search('brown fox', 10).length).toBeGreaterThan(2);
  });

  test('JSON round trip keeps parameters, analyzer and scores; the vocabulary is stored once', () => {
    const index = new Bm25Index({ k1: 0.9, b: 0.4, analyzer: { stem: false } });
    for (const [id, text] of FIXTURE) index.add(id, text);
    const json = JSON.parse(JSON.stringify(index.toJSON()));
    expect(json.terms.filter((t: string) => t === 'cat')).toHaveLength(1);
    const back = Bm25Index.fromJSON(json);
    expect(back.params).toEqual({ k1: 0.9, b: 0.4 });
    expect(back.analyzer.config).toEqual({ stopwords: true, stem: false, bigrams: false });
    expect(back.size).toBe(3);
    for (const q of ['cat dog', 'bird', 'mat sat']) expect(back.search(q, 3)).toEqual(index.search(q, 3));
    // Still incremental after loading.
    back.remove('d2');
    index.remove('d2');
    expect(back.search('cat dog', 3)).toEqual(index.search('cat dog', 3));
    expect(() => Bm25Index.fromJSON({ format: 'other' })).toThrow();
  });
});

describe('Bm25Index.scoreDocuments / addTerms', () => {
  test('scores exactly the given documents as scoreAll does, 0 for unknown ones', () => {
    const index = fixture();
    const all = index.scoreAll('cat dog bird');
    expect(index.scoreDocuments('cat dog bird', ['d3', 'd1', 'nope', 'd2'])).toEqual([all.get('d3'), all.get('d1'), 0, all.get('d2')]);
    expect(new Bm25Index().scoreDocuments('cat', ['d1'])).toEqual([0]);
  });

  test('a document added as analysed terms is the same document', () => {
    const a = new Bm25Index();
    const b = new Bm25Index();
    for (const [id, text] of FIXTURE) {
      a.add(id, text);
      b.addTerms(id, b.analyzer.terms(text));
    }
    expect(b.toJSON()).toEqual(a.toJSON());
  });
});
