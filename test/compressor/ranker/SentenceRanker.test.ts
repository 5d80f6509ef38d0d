import fs from 'node:fs';
import path from 'node:path';
import { featuresOf, FEATURE_NAMES } from '../../../compressor/ranker/RankerFeatures.js';
import { SentenceRanker, SHIPPED_RANKER_FILE, type RankerFileJson, type RankerModelJson } from '../../../compressor/ranker/SentenceRanker.js';
import { tempDir } from '../../support/processes.js';

function model(features: string[], weight = 1): RankerModelJson {
  return { features, mean: features.map(() => 0), scale: features.map(() => 1), coef: features.map(() => weight), intercept: 0, C: 0.1, cv: [{ C: 0.1, top1: 0.5, auc: 0.7 }] };
}

const FILE: RankerFileJson = {
  format: 'sentence-ranker/1',
  embedder: { id: 'use-lite@test', dim: 512 },
  retrieval: { mode: 'hybrid', k: 5 },
  models: { embedder: model(featuresOf(['lexical', 'retrieval'])), lexical: model(['idfCoverage', 'timeAnswer']) },
  trainedOn: { data: 'synthetic' },
};

describe('sentence ranker file', () => {
  test('the embedder model serves only the embedder and search mode it was trained with; otherwise the lexical one, saying why', () => {
    const r = SentenceRanker.fromJSON(FILE, 'ranker.json');
    const same = r.select({ embedder: { id: 'use-lite@test', dim: 512 }, mode: 'hybrid' });
    expect(same).toMatchObject({ kind: 'embedder', fallback: null });
    expect(same.model).toBe(r.embedder);

    const other = r.select({ embedder: { id: 'Xenova/all-MiniLM-L6-v2', dim: 384 }, mode: 'hybrid' });
    expect(other.kind).toBe('lexical');
    expect(other.model).toBe(r.lexical);
    expect(other.fallback).toBe(
      'ranker.json was trained with embedder use-lite@test (512-d), but serving uses Xenova/all-MiniLM-L6-v2 (384-d); ' +
        'using its lexical-only model (train one for this embedder with `rag ranker train`)',
    );
    // Same id, other dimension: still another embedder.
    expect(r.select({ embedder: { id: 'use-lite@test', dim: 256 }, mode: 'hybrid' }).kind).toBe('lexical');
    expect(r.select({ embedder: null, mode: 'bm25' }).fallback).toMatch(/serving uses no embedder/);
    expect(r.select({ embedder: { id: 'use-lite@test', dim: 512 }, mode: 'bm25' }).fallback).toMatch(/trained on hybrid retrieval scores, but this search is bm25/);
  });

  test('a model reading sentence vectors falls back when the collection has none', () => {
    const withDense = SentenceRanker.fromJSON({ ...FILE, models: { ...FILE.models, embedder: model(featuresOf(['lexical', 'retrieval', 'dense'])) } });
    expect(withDense.select({ embedder: FILE.embedder, mode: 'hybrid' }).fallback).toMatch(/reads sentence vectors/);
    expect(withDense.select({ embedder: FILE.embedder, mode: 'hybrid', sentenceVectors: true }).kind).toBe('embedder');
  });

  test('the lexical model scores from lexical features only, whatever the retrieval values', () => {
    const r = SentenceRanker.fromJSON(FILE);
    const f = new Float64Array(FEATURE_NAMES.length);
    f[FEATURE_NAMES.indexOf('idfCoverage')] = 0.5;
    f[FEATURE_NAMES.indexOf('timeAnswer')] = 1;
    expect(r.lexical.score(f)).toBeCloseTo(1.5, 12);
    f[FEATURE_NAMES.indexOf('retrievalScore')] = 100;
    expect(r.lexical.score(f)).toBeCloseTo(1.5, 12);
    expect(r.lexical.groups).toEqual(['lexical']);
    expect(() => SentenceRanker.fromJSON({ ...FILE, models: { ...FILE.models, lexical: model(['retrievalScore']) } })).toThrow(/lexical model reads retrieval features/);
  });

  test('rejects malformed files with the reason, and saves atomically', () => {
    expect(() => SentenceRanker.fromJSON({ ...FILE, format: 'other' }, 'x.json')).toThrow(/x.json: not a sentence-ranker\/1 file \(format/);
    expect(() => SentenceRanker.fromJSON({ ...FILE, models: { ...FILE.models, lexical: { ...model(['idfCoverage']), coef: [1, 2] } } })).toThrow(/1 features but mean\/scale\/coef have 1\/1\/2/);
    expect(() => SentenceRanker.fromJSON({ ...FILE, models: { ...FILE.models, lexical: model(['madeUp']) } })).toThrow(/unknown ranker feature "madeUp"/);
    const file = path.join(tempDir('ranker'), 'r.json');
    SentenceRanker.fromJSON(FILE).save(file);
    expect(SentenceRanker.load(file).json).toEqual(FILE);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['r.json']);
    expect(() => SentenceRanker.load(path.join(path.dirname(file), 'missing.json'))).toThrow(/sentence ranker .*missing.json: .*ENOENT/);
  });

  test('the shipped ranker loads, was trained with USE-lite on an article split, and its lexical model is lexical-only', () => {
    const r = SentenceRanker.load(SHIPPED_RANKER_FILE);
    expect(r.json.embedder.id).toMatch(/^use-lite@/);
    expect(r.json.embedder.dim).toBe(512);
    expect(r.lexical.groups).toEqual(['lexical']);
    expect(r.embedder.groups.sort()).toEqual(['lexical', 'retrieval']);
    const split = r.json.trainedOn.split as { seed: number; heldOutArticles: number[] };
    expect(split.heldOutArticles.length).toBeGreaterThan(0);
    expect(fs.statSync(SHIPPED_RANKER_FILE).size).toBeLessThan(16_384);
  });
});
