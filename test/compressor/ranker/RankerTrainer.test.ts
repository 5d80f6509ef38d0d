import { SeededRandom } from '../../../infra/random.js';
import { rocAuc } from '../../../compressor/ProbeTrainer.js';
import { FEATURE_NAMES, featureIndex } from '../../../compressor/ranker/RankerFeatures.js';
import { fitListwise, groupFolds, top1Accuracy, trainRankerModel, type LabelledQuestion } from '../../../compressor/ranker/RankerTrainer.js';
import { RankerModel } from '../../../compressor/ranker/SentenceRanker.js';

/**
 * Planted signal: every candidate's label is decided by one feature alone (`idfCoverage` above 1, or for the
 * inverted run `retrievalRank` below -1); the candidates' other features are noise. A trainer that works must
 * find that feature, with the right sign, and separate held-out questions' (other groups') candidates by it.
 */
const PLANTED = 'idfCoverage';
const NOISE = ['length', 'bigrams', 'proximity', 'sentenceBm25'];
const INVERTED = 'retrievalRank';

function synthetic(questions: number, seed: number, planted: string, sign: 1 | -1): LabelledQuestion[] {
  const rng = new SeededRandom(seed, 'ranker-synthetic');
  const col = featureIndex(planted);
  return Array.from({ length: questions }, (_, qi) => {
    const n = 4 + (rng.uint32() % 8);
    const candidates = Array.from({ length: n }, () => {
      const f = new Float64Array(FEATURE_NAMES.length);
      for (const name of [...NOISE, planted]) f[featureIndex(name)] = rng.normal();
      return { features: f, label: (sign * f[col] > 1 ? 1 : 0) as 0 | 1 };
    });
    return { group: qi % 10, candidates };
  });
}

/** Top-1 over the questions that have a positive (the others cannot be answered). */
const answerable = (qs: LabelledQuestion[]): LabelledQuestion[] => qs.filter((q) => q.candidates.some((c) => c.label === 1));

describe('sentence ranker training', () => {
  const features = [PLANTED, ...NOISE];

  test.each(['listwise', 'pointwise'] as const)('%s: recovers a planted feature and ranks held-out groups by it', (objective) => {
    const train = synthetic(400, 1, PLANTED, 1).filter((q) => q.group < 8);
    const test = synthetic(400, 2, PLANTED, 1).filter((q) => q.group >= 8);
    const { model, examples } = trainRankerModel(train, { features, objective, seed: 3 });
    expect(examples.questions).toBe(answerable(train).length);
    expect(model.features).toEqual(features);
    const coef = Object.fromEntries(model.features.map((f, i) => [f, model.coef[i]]));
    expect(coef[PLANTED]).toBeGreaterThan(0);
    for (const n of NOISE) expect(Math.abs(coef[n])).toBeLessThan(Math.abs(coef[PLANTED]) / 5);
    // Cross-validation ran over article-like groups and picked the best C by held-out top-1.
    expect(model.cv.length).toBeGreaterThan(1);
    expect(model.cv.find((c) => c.C === model.C)!.top1).toBe(Math.max(...model.cv.map((c) => c.top1)));
    const ranker = new RankerModel(model, 'synthetic');
    expect(top1Accuracy(answerable(test), (f) => ranker.score(f))).toBeGreaterThan(0.97);
    const flat = test.flatMap((q) => q.candidates);
    expect(rocAuc(flat.map((c) => ranker.score(c.features)), flat.map((c) => c.label))).toBeGreaterThan(0.99);
  });

  test('learns a negative weight when smaller is better', () => {
    const { model } = trainRankerModel(synthetic(300, 4, INVERTED, -1), { features: [INVERTED, ...NOISE], objective: 'listwise' });
    expect(model.coef[0]).toBeLessThan(0);
    expect(top1Accuracy(answerable(synthetic(100, 5, INVERTED, -1)), (f) => new RankerModel(model, 'inv').score(f))).toBeGreaterThan(0.97);
  });

  test('the listwise fit is the optimum of the objective written independently (zero gradient by central differences)', () => {
    const rng = new SeededRandom(7, 'listwise-reference');
    const groups = Array.from({ length: 40 }, () => {
      const n = 3 + (rng.uint32() % 5);
      const rows = Array.from({ length: n }, () => [rng.normal(), rng.normal(), rng.normal()]);
      const labels = rows.map(() => 0);
      labels[rng.uint32() % n] = 1;
      if (rng.uniform() < 0.3) labels[(labels.indexOf(1) + 1) % n] = 1; // some questions have two positives
      return { rows, labels };
    });
    const C = 0.7;
    // f(w) = ½‖w‖² + C Σ_q mean over positives p of [log Σ_{j ∈ {p} ∪ neg} e^{w·x_j} − w·x_p]
    const f = (w: number[]): number => {
      let loss = 0;
      for (const g of groups) {
        const z = g.rows.map((x) => x.reduce((s, v, j) => s + v * w[j], 0));
        const neg = z.filter((_, i) => g.labels[i] === 0);
        const pos = z.filter((_, i) => g.labels[i] === 1);
        loss += pos.reduce((s, zp) => s + Math.log([zp, ...neg].reduce((a, v) => a + Math.exp(v), 0)) - zp, 0) / pos.length;
      }
      return 0.5 * w.reduce((s, v) => s + v * v, 0) + C * loss;
    };
    const w = Array.from(fitListwise(groups, C, { tolerance: 1e-12 }));
    const h = 1e-5;
    for (let j = 0; j < w.length; j++) {
      const up = [...w];
      const down = [...w];
      up[j] += h;
      down[j] -= h;
      expect(Math.abs((f(up) - f(down)) / (2 * h))).toBeLessThan(1e-6);
    }
    // ...and it is a minimum: moving away in any coordinate increases the objective.
    for (let j = 0; j < w.length; j++) for (const d of [-0.05, 0.05]) expect(f(w.map((v, i) => (i === j ? v + d : v)))).toBeGreaterThan(f(w));
  });

  test('cross-validation folds keep each group on one side', () => {
    const groups = [3, 3, 1, 7, 7, 7, 2, 9, 1];
    const folds = groupFolds(groups, 3, 0);
    expect([...folds.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 7, 9]);
    expect(new Set(folds.values()).size).toBe(3);
    expect(groupFolds(groups, 3, 0)).toEqual(folds);
  });

  test('refuses data it cannot learn from', () => {
    const none: LabelledQuestion[] = [{ group: 0, candidates: [{ features: new Float64Array(FEATURE_NAMES.length), label: 0 }] }];
    expect(() => trainRankerModel(none, { features })).toThrow(/no question has a positive/);
    expect(() => trainRankerModel(synthetic(10, 1, PLANTED, 1), { features: ['noSuchFeature'] })).toThrow(/unknown ranker feature "noSuchFeature"/);
  });
});
